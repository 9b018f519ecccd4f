"""ID-003 driver against the simulator over a real pty: what only ID-003 does (inhibited
denominations, VEND VALID after a reconnect or without its escrow, power-up with a note inside,
the simulator hub).  The behaviours every validator shares run in test_validator_common.py.
Every wait is a condition with a deadline.  The fixtures here are shared with
test_id003_faults and test_id003_identity."""

from __future__ import annotations


import pytest

from drivers.bill_validator.id003 import protocol as p
from drivers.bill_validator.id003.driver import LINE_SETTINGS, Id003Driver
from drivers.interfaces import (
    EventsLost,
    HealthState,
    NoteCredited,
    NoteEscrowed,
    NoteRejected,
    NoteStacked,
    PowerUp,
)
from drivers.transport import SimulatorHub, open_port
from tests.conftest import wait_until
from tests.drivers.validator_rig import (FAST, KINDS, Events, insert_and_escrow,
                                         leave_id003_note, validator_fixtures, wait_polls)
from tests.drivers.validator_rig import open_driver as rig_open_driver

KIND = KINDS["id003"]
ALL_CNY = frozenset(p.CNY_CODE_VALUES.values())


sim, make_driver, running = validator_fixtures(KIND)


def open_driver(path: str, **options) -> Id003Driver:
    """A driver on its own 8E1 port (closed by ``stop()``), as the terminal builds one."""
    return rig_open_driver(KIND, path, **options)


# ---------------------------------------------------------------- note cycles
def test_inhibited_denomination_is_rejected(running):
    sim, driver, events = running
    driver.enable(frozenset({1000, 2000}))
    wait_until(lambda: sim.settings.get(p.SET_ENABLE) == p.inhibit_mask({0x63, 0x64}))
    assert sim.command("insert 5") == "ok: inserted 5 yuan"
    rejected = events.wait(NoteRejected)
    assert (rejected.code, rejected.reason) == (0x79, "denomination inhibited")
    driver.disable()
    wait_until(lambda: "inhibit=on" in sim.status_line())
    assert sim.command("insert 10") == "ok: inserted 10 yuan"  # enabled value, but inhibited
    events.wait(NoteRejected, count=2, code=0x79)
    assert sim.command("reject 7d").startswith("ok")  # the device's own verdict: length error
    events.wait(NoteRejected, code=0x7D, reason="note length error")
    wait_polls(driver)
    assert events.of(NoteEscrowed) == [] and events.of(NoteCredited) == []
    assert sim.counters()["rejected"] == 3


def test_vend_valid_after_reconnect_of_the_same_driver_is_the_same_note(running):
    sim, driver, events = running
    insert_and_escrow(sim, events, 10)
    sim.command("ignore-ack 100000")  # VEND VALID stays up across the reconnect
    driver.stack()
    events.wait(NoteCredited)
    driver.stop()  # closes the port it opened; the driver object (and its memory) lives on
    assert not driver.port.is_open
    missed = sim.ignore_acks
    driver.start(events)  # re-opens the port, polls, meets VEND VALID again, then resets
    wait_until(lambda: sim.counters()["total_notes"] == 1, what="note stacked by the reset")
    assert sim.ignore_acks < missed  # the restarted driver did see (and ACK) VEND VALID
    wait_polls(driver, 3)
    assert len(events.of(NoteCredited)) == 1
    assert events.of(EventsLost) == [] and len(events.of(PowerUp)) == 1


def test_new_driver_instance_never_guesses_a_vend_valid(sim, make_driver):
    """Across process restarts only the journal can tell a repeat from a new note: a fresh
    driver that meets VEND VALID without having seen the escrow ACKs it and reports it as
    EventsLost (value unknown) for reconciliation -- never a NoteCredited."""
    leave_id003_note(sim, "credit")  # the first host "crashed" before its ACK of VEND VALID
    events = Events()
    make_driver(sim, events)
    lost = events.wait(EventsLost)
    assert lost.count == 1 and "journal" in lost.detail
    wait_until(lambda: sim.counters()["total_notes"] == 1)
    assert events.of(NoteCredited) == []


# ---------------------------------------------------------------- power-up
_leave_note = leave_id003_note


def test_power_cycle_mid_stacking(running):
    sim, driver, events = running
    insert_and_escrow(sim, events, 10)
    sim.command("ignore-ack 100000")
    driver.stack()
    events.wait(NoteCredited)
    answer = sim.command("power-cycle")
    assert answer == "ok: power cycled; next status 0x42 power_up_bill_in_stacker"
    events.wait(PowerUp, condition="bill_in_stacker")
    wait_until(lambda: "inhibit=on" in sim.status_line() and "power" not in sim.status_line())
    sim.command("ignore-ack 0")
    wait_polls(driver)
    assert len(events.of(NoteCredited)) == 1
    assert sim.counters()["total_notes"] == 1
    # the driver re-initialised the device inhibited; the host enables it again
    assert sim.command("insert 10") == "ok: inserted 10 yuan"
    events.wait(NoteRejected, code=0x79)


def test_sim_url_through_the_hub_and_a_second_open(tmp_path):
    hub = SimulatorHub(state_dir=str(tmp_path))
    try:
        for round_ in (1, 2):  # the second open of the same 8E1 pty must work too
            events = Events()
            port = open_port("sim://bill-validator", LINE_SETTINGS)
            driver = Id003Driver("bv", port, p.cny_channels(), owns_port=True, **FAST)
            driver.start(events)
            try:
                if round_ == 1:
                    events.wait(PowerUp)  # the simulator was switched on for this open
                sim = hub.get("bill-validator")
                assert "inhibit=on" in sim.status_line()  # the last driver inhibited it
                wait_polls(driver, 2)  # past the reset and settings of start-up
                driver.enable(ALL_CNY)
                wait_until(lambda: "inhibit=off" in sim.status_line())
                insert_and_escrow(sim, events, 10)
                driver.stack()
                events.wait(NoteStacked)
            finally:
                driver.stop()
            assert not port.is_open  # the driver owned it
            assert sim.counters()["total_notes"] == round_
        assert (tmp_path / "bill-validator.json").exists()
    finally:
        hub.stop()


def test_vend_valid_after_the_cycle_ended_is_still_the_same_note(running):
    """STACKED seen, then VEND VALID shows again (a confused device, a replayed status):
    no new escrow, so no new note -- ACKed, never credited twice, nothing flagged."""
    sim, driver, events = running
    insert_and_escrow(sim, events, 10)
    driver.stack()
    events.wait(NoteStacked)
    with sim._lock:  # put the just-stacked note back into VEND VALID on the device side
        sim.state["note"] = {"value": 1000, "code": 0x63, "stage": "vend_valid", "reason": None}
    wait_until(lambda: sim.state["note"] is None, what="the repeat ACKed and finished")
    wait_polls(driver)
    assert len(events.of(NoteCredited)) == 1 and events.of(EventsLost) == []


def test_enable_of_values_without_a_code_is_ignored_not_fatal(running):
    sim, driver, events = running
    driver.enable(frozenset({1000, 123}))  # 1.23 yuan has no denomination code
    wait_until(lambda: sim.settings.get(p.SET_ENABLE) == p.inhibit_mask({0x63}))
    wait_polls(driver)
    assert driver.health().state is HealthState.OK


# ---------------------------------------------------------------- host restart, held power-up
@pytest.mark.parametrize("stage, condition", [("acceptor", "bill_in_acceptor"),
                                              ("stacker", "bill_in_stacker")])
def test_host_restart_reports_where_the_note_is_and_holds_the_reset(sim, make_driver, stage,
                                                                    condition):
    """The host died, the device did not: the first status still says where the note is, and
    with ``hold_power_up`` nothing moves until the host has journaled what it means."""
    _leave_note(sim, stage)
    events = Events()
    driver = make_driver(sim, events, hold_power_up=True)
    assert events.wait(PowerUp).condition == condition
    wait_polls(driver, 5)
    if stage == "acceptor":  # (a note past escrow finishes stacking by itself, as the mechanism does)
        assert sim.state["note"] is not None, "the reset must wait for the host"
    driver.release_power_up()
    wait_until(lambda: sim.state["note"] is None, what="the reset resolves the note")
    counters = sim.counters()
    assert (counters["returned"], counters["total_notes"]) == (
        (1, 0) if stage == "acceptor" else (0, 1))
