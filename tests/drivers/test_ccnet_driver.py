"""CCNET driver against the simulator over a real pty: what only CCNET does (the start-up
sequence, credit only at BILL STACKED, the escrow timeout, a BILL STACKED after a reconnect or
without its escrow, power-up with a bill inside).  The behaviours every validator shares run in
test_validator_common.py.  Every wait is a condition with a deadline.  The fixtures here are
shared with test_ccnet_faults."""

from __future__ import annotations


import pytest

from drivers.bill_validator.ccnet import protocol as p
from drivers.interfaces import (
    DeviceStatus, EventsLost, HealthState, NoteCredited, NoteEscrowed, NoteRejected,
    NoteReturned, PowerUp,
)
from tests.conftest import wait_until
from tests.drivers.validator_rig import (KINDS, Events, insert_and_escrow,
                                         leave_ccnet_bill, validator_fixtures, wait_polls)

KIND = KINDS["ccnet"]
ALL_CNY = frozenset(p.CNY_TYPE_VALUES.values())


sim, make_driver, running = validator_fixtures(KIND)


@pytest.fixture
def clock(sim):
    """The simulator's escrow clock, moved by the test instead of waited for."""
    return sim.clock


# ---------------------------------------------------------------- start-up
def test_start_up_follows_the_manual_sequence_and_reads_the_device(running):
    sim, driver, events = running
    seen = sim.commands_seen
    assert seen[:5] == [p.POLL, p.RESET, p.GET_BILL_TABLE, p.IDENTIFICATION,
                        p.ENABLE_BILL_TYPES]
    assert driver.device_identity == sim.identity
    assert driver.threads and all(t.is_alive() for t in driver.threads)
    ident = driver.identity()
    assert (ident["firmware"], ident["serial_number"]) == ("SM-CN1715", "41K123456789")
    assert ident["bill_table"] == p.CNY_TYPE_VALUES
    assert [t.value_minor() for t in driver.bill_table[:6]] == sorted(ALL_CNY)
    assert "enabled=00003F" in sim.status_line()
    wait_polls(driver, 3)
    assert sim.unacked == 0  # the host ACKed every data answer
    assert driver.health().state is HealthState.OK


# ---------------------------------------------------------------- bill cycles


def test_credit_only_at_bill_stacked(sim, make_driver):
    """Escrow and STACKING are not money: when the credit is posted the device has already
    reported the bill in the drop cassette (state 0x81)."""
    at_credit: list[tuple[int, int | None]] = []

    class Snap(Events):
        def __call__(self, event):
            if isinstance(event, NoteCredited):
                at_credit.append((sim.counters()["total_notes"], driver._status))
            super().__call__(event)

    events = Snap()
    driver = make_driver(sim, events)
    events.wait(PowerUp)
    driver.enable(ALL_CNY)
    wait_until(lambda: "inhibit=off" in sim.status_line())
    insert_and_escrow(sim, events, 20)
    sim.command("busy 3")  # the unit is busy for a while before it stacks
    driver.stack()
    assert events.wait(NoteCredited).denomination_minor == 2000
    assert at_credit == [(1, p.BILL_STACKED)]


def test_escrow_left_undecided_is_returned_by_the_unit(running, clock):
    sim, driver, events = running
    insert_and_escrow(sim, events, 50)
    wait_polls(driver, 3)
    assert events.of(NoteReturned) == []
    clock.advance(10.0)  # the escrow period runs out: the unit gives the bill back
    returned = events.wait(NoteReturned)
    assert (returned.denomination_minor, returned.reason) == (5000, "escrow_timeout")
    driver.stack()  # too late: refused by the device, never money
    wait_polls(driver, 3)
    assert events.of(NoteCredited) == [] and sim.counters()["returned"] == 1
    assert driver.stats["refused"] >= 1


def test_inhibited_bill_is_rejected(running):
    sim, driver, events = running
    driver.enable(frozenset({1000, 2000}))
    wait_until(lambda: "enabled=00000C" in sim.status_line())
    assert sim.command("insert 5") == "ok: inserted 5 yuan"
    rejected = events.wait(NoteRejected)
    assert (rejected.code, rejected.reason) == (0x68, "denomination inhibited")
    driver.disable()
    wait_until(lambda: "inhibit=on" in sim.status_line())
    assert sim.command("insert 10") == "ok: inserted 10 yuan"
    events.wait(NoteRejected, count=2, code=0x68)
    assert sim.command("reject 6c").startswith("ok")  # the device's own verdict: length
    events.wait(NoteRejected, code=0x6C, reason="bill length error")
    wait_polls(driver)
    assert events.of(NoteEscrowed) == [] and events.of(NoteCredited) == []
    assert sim.counters()["rejected"] == 3


def test_bill_stacked_after_a_reconnect_of_the_same_driver_is_the_same_bill(running):
    sim, driver, events = running
    insert_and_escrow(sim, events, 10)
    sim.command("ignore-ack 100000")  # BILL STACKED stays up across the reconnect
    driver.stack()
    events.wait(NoteCredited)
    driver.stop()
    assert not driver.port.is_open
    driver.start(events)  # re-opens, polls, meets BILL STACKED again, then resets
    wait_until(lambda: sim.commands_seen.count(p.RESET) == 2, what="the second reset")
    wait_polls(driver, 3)
    assert len(events.of(NoteCredited)) == 1 and events.of(EventsLost) == []
    assert sim.counters()["total_notes"] == 1


def test_new_driver_instance_never_guesses_a_bill_stacked(sim, make_driver):
    leave_ccnet_bill(sim, "credit")  # the first host dies before its ACK of BILL STACKED
    events = Events()
    make_driver(sim, events)
    lost = events.wait(EventsLost)
    assert lost.count == 1 and "journal" in lost.detail and "1000" in lost.detail
    assert events.wait(PowerUp).condition == "bill_in_stacker"
    wait_until(lambda: sim.commands_seen.count(p.RESET) == 2)
    assert events.of(NoteCredited) == [] and sim.counters()["total_notes"] == 1


def test_unknown_bill_type_in_escrow_is_returned(running):
    sim, driver, events = running
    sim.command("bill-type 7 200")  # a type the configured channel map does not have
    with sim._lock:
        sim._enabled = sim._escrow = p.bill_mask({7})
    sim.command("insert 200")
    status = events.wait(DeviceStatus, state="unknown_denomination")
    assert status.detail == "type 7"
    wait_until(lambda: sim.counters()["returned"] == 1)
    assert events.of(NoteEscrowed) == [] and events.of(NoteCredited) == []


# ---------------------------------------------------------------- power-up
_leave_bill = leave_ccnet_bill


def test_power_cycle_in_escrow(running):
    sim, driver, events = running
    insert_and_escrow(sim, events, 10)
    answer = sim.command("power-cycle")
    assert answer == "ok: power cycled; next state 0x11 power_up_bill_in_validator"
    events.wait(PowerUp, condition="bill_in_acceptor")
    wait_until(lambda: sim.counters()["returned"] == 1, what="the reset returns the bill")
    wait_polls(driver)
    assert events.of(NoteCredited) == []
    assert sim.command("insert 10") == "ok: inserted 10 yuan"  # re-initialised disabled
    events.wait(NoteRejected, code=0x68)


@pytest.mark.parametrize("stage, condition", [("validator", "bill_in_acceptor"),
                                              ("stacker", "bill_in_stacker")])
def test_host_restart_reports_where_the_bill_is_and_holds_the_reset(sim, make_driver, stage,
                                                                    condition):
    _leave_bill(sim, stage)
    events = Events()
    driver = make_driver(sim, events, hold_power_up=True)
    assert events.wait(PowerUp).condition == condition
    wait_polls(driver, 5)
    assert p.RESET not in sim.commands_seen[2:], "the reset must wait for the host"
    driver.release_power_up()
    wait_until(lambda: sim.state["note"] is None, what="the bill is resolved")
    counters = sim.counters()
    assert (counters["returned"], counters["total_notes"]) == (
        (1, 0) if stage == "validator" else (0, 1))
    credits = events.of(NoteCredited)
    assert credits == [] or stage == "stacker"  # a stack finishing by itself is a BILL STACKED
    assert len(credits) + len(events.of(EventsLost)) <= 1
