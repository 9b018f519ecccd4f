"""What every bill validator does the same, one test body run per protocol (ID-003, CCNET,
eSSP) against its simulator over a real pty (tests/drivers/validator_rig.py): the port's line,
a note credited exactly once, a return, a repeated money event, device faults, garbage on the
line, a silent device, a port that fails and is re-opened, an outage with a command queued, and
the unit left refusing notes on stop.  What only one protocol does stays in its own files."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest

from drivers import registry
from drivers.bill_validator.common.poll import COMM_FAULT
from drivers.interfaces import (DeviceFault, DeviceFaultCleared, EventsLost, HealthState,
                                NoteCredited, NoteEscrowed, NoteReturned, NoteStacked, PowerUp)
from drivers.transport import open_port
from tests.conftest import wait_until
from tests.drivers.validator_rig import (FAST, KINDS, Events, driver_maker, insert_and_escrow,
                                         serve, start_running, wait_polls)


@pytest.fixture(params=sorted(KINDS))
def kind(request):
    return KINDS[request.param]


@pytest.fixture
def sim(kind, tmp_path):
    yield from serve(kind, tmp_path / "bv.json", **kind.sim_options())


@pytest.fixture
def make_driver(kind):
    yield from driver_maker(kind)


@pytest.fixture
def running(kind, sim, make_driver):
    return start_running(kind, sim, make_driver)


def _line(port):
    return (port.baudrate, port.bytesize, port.parity, port.stopbits)


# ---------------------------------------------------------------- the port
def test_registry_opens_the_port_with_the_protocols_line(kind, sim):
    entry = registry.entry(kind.name)
    port = open_port(sim.port_path, entry.line_settings(entry.options()))
    driver = entry.open_driver(registry.DriverSetup("bv", port, entry.options()))
    try:
        assert driver.port is port and driver.owns_port
        assert _line(port) == _line(kind.line) == (
            9600, 8, {"id003": "E"}.get(kind.name, "N"), 2 if kind.name == "essp" else 1)
        assert driver.health().state is HealthState.UNKNOWN and driver.threads == ()
    finally:
        driver.stop()
    assert not port.is_open


def test_driver_corrects_a_port_opened_with_another_line(kind, sim):
    port = open_port(sim.port_path, kind.wrong_line)
    assert _line(port) != _line(kind.line)
    driver = kind.driver("bv", port, kind.channels(), **FAST)
    events = Events()
    driver.start(events)
    try:
        assert _line(port) == _line(kind.line)
        events.wait(PowerUp)
    finally:
        driver.stop()
        port.close()


# ---------------------------------------------------------------- the note cycle
def test_whole_note_cycle_credits_once(kind, running):
    sim, driver, events = running
    assert driver.health().state is HealthState.OK
    escrow = insert_and_escrow(sim, events, 10)
    assert (escrow.denomination_minor, escrow.channel) == (1000, kind.channel_of_10_yuan)
    held = f"stage={kind.escrow_stage}"
    assert held in sim.status_line().split()
    wait_polls(driver, 4)  # escrow is held over several polls: still one event, no money
    assert held in sim.status_line().split()
    assert len(events.of(NoteEscrowed)) == 1
    assert events.of(NoteCredited) == []
    driver.stack()
    credit = events.wait(NoteCredited)
    assert (credit.denomination_minor, credit.channel) == (1000, kind.channel_of_10_yuan)
    events.wait(NoteStacked)
    wait_polls(driver, 4)
    assert len(events.of(NoteCredited)) == 1 and len(events.of(NoteStacked)) == 1
    kinds = [type(e) for e in events.log if isinstance(e, (NoteEscrowed, NoteCredited,
                                                            NoteStacked))]
    assert kinds == [NoteEscrowed, NoteCredited, NoteStacked]
    assert sim.counters()["stacked"] == {"1000": 1}
    # a second note is a new cycle: a second credit
    insert_and_escrow(sim, events, 100)
    driver.stack()
    assert events.wait(NoteCredited, count=2).denomination_minor == 10000
    events.wait(NoteStacked, count=2)
    assert sim.counters()["total_notes"] == 2
    assert kind.wire_clean(sim)


def test_return_from_escrow(running):
    sim, driver, events = running
    insert_and_escrow(sim, events, 20)
    driver.return_note()
    returned = events.wait(NoteReturned)
    assert (returned.denomination_minor, returned.reason) == (2000, "host")
    wait_polls(driver)
    assert events.of(NoteCredited) == [] and events.of(NoteStacked) == []
    assert sim.counters()["returned"] == 1 and sim.counters()["total_notes"] == 0


def test_a_money_event_repeated_until_acknowledged_is_one_credit(running):
    sim, driver, events = running
    insert_and_escrow(sim, events, 50)
    assert sim.command("ignore-ack 4") == "ok: ignore-ack 4"  # the unit misses 4 ACKs
    driver.stack()
    events.wait(NoteStacked)
    wait_until(lambda: sim.ignore_acks == 0, what="the missed acknowledgements")
    wait_until(lambda: sim.state["note"] is None, what="the fifth acknowledgement arrives")
    wait_polls(driver)  # so the money event was reported (and acknowledged) 5 times
    assert [e.denomination_minor for e in events.of(NoteCredited)] == [5000]
    assert events.of(EventsLost) == []
    assert sim.counters()["stacked"] == {"5000": 1} and sim.counters()["total_notes"] == 1


# ---------------------------------------------------------------- device faults
@pytest.mark.parametrize("word", ["jam", "stacker-jam", "stacker-full", "cheat"])
def test_device_fault_locks_until_cleared_and_notes_flow_again(kind, running, word):
    sim, driver, events = running
    code, reason_part = kind.faults[word]
    assert sim.command(word).startswith("ok")
    fault = events.wait(DeviceFault, code=code)
    assert fault.locking and reason_part in fault.reason
    assert driver.health().state is HealthState.FAULT
    wait_polls(driver)
    assert len(events.of(DeviceFault)) == 1  # a fault that stays is reported once
    assert sim.command("insert 10").startswith("error")  # a faulted unit takes no note
    assert sim.command("cashbox-insert" if word == "stacker-full" else "clear").startswith("ok")
    events.wait(DeviceFaultCleared, code=code)
    wait_until(lambda: driver.health().state is HealthState.OK)
    insert_and_escrow(sim, events, 10)
    driver.stack()
    events.wait(NoteStacked)
    assert len(events.of(NoteCredited)) == 1


# ---------------------------------------------------------------- the line
def test_garbage_on_the_line_makes_no_event_and_notes_still_credit(kind, running):
    sim, driver, events = running
    before = list(events.log)
    bad = driver.stats["frames_bad"] + driver.stats.get("bytes_dropped", 0)
    noise = kind.noise
    assert sim.command(f"noise {noise}") == f"ok: sent {len(noise.split())} noise bytes"
    wait_polls(driver, 5)
    assert events.log == before
    assert driver.stats["frames_bad"] + driver.stats.get("bytes_dropped", 0) > bad
    assert driver.health().state is HealthState.OK
    insert_and_escrow(sim, events, 1)
    driver.stack()
    events.wait(NoteStacked)
    assert len(events.of(NoteCredited)) == 1


def test_a_silent_device_is_retried_then_a_comm_fault_that_clears(running):
    sim, driver, events = running
    sim.command("drop 1")
    wait_until(lambda: driver.stats["retries"] >= 1, what="a retry")
    wait_polls(driver)
    assert events.of(DeviceFault) == []  # one lost reply is not a fault
    sim.command("drop 100000")
    fault = events.wait(DeviceFault, code=COMM_FAULT)
    assert fault.locking is False
    assert driver.health().state is HealthState.FAULT
    assert driver.stats["timeouts"] >= FAST["retries"] + 1
    sim.command("drop 0")
    events.wait(DeviceFaultCleared, code=COMM_FAULT)
    wait_until(lambda: driver.health().state is HealthState.OK)
    insert_and_escrow(sim, events, 10)  # and the link works again
    driver.stack()
    events.wait(NoteCredited)


def test_commands_during_an_outage_are_carried_out_after_it(running):
    sim, driver, events = running
    insert_and_escrow(sim, events, 20)
    sim.command("drop 100000")
    events.wait(DeviceFault, code=COMM_FAULT)
    timeouts = driver.stats["timeouts"]
    driver.stack()  # queued while the unit cannot hear it
    wait_until(lambda: driver.stats["timeouts"] >= timeouts + 2, what="attempts in the outage")
    assert events.of(NoteCredited) == []
    sim.command("drop 0")
    assert events.wait(NoteCredited).denomination_minor == 2000
    events.wait(NoteStacked)
    assert len(events.of(NoteCredited)) == 1 and len(events.of(NoteEscrowed)) == 1


def test_slow_replies_within_the_timeout_are_fine(running):
    sim, driver, events = running
    sim.command("delay 40")
    insert_and_escrow(sim, events, 10)
    driver.stack()
    events.wait(NoteStacked)
    sim.command("delay 0")
    assert events.of(DeviceFault) == []


def test_a_port_that_fails_is_reopened_and_the_note_credits_once(running):
    sim, driver, events = running
    insert_and_escrow(sim, events, 10)
    driver.port.close()  # the port goes away under the poll thread (a USB adapter unplugged)
    events.wait(DeviceFault, code=COMM_FAULT)
    wait_until(lambda: driver.stats["port_errors"] >= 1, what="the port error counted")
    # re-opened by the poll thread (a fault cleared earlier, from a slow machine's timeouts,
    # does not count: the port itself must be open again and the unit answering)
    wait_until(lambda: driver.port.is_open and driver.health().state is HealthState.OK,
               what="the port re-opened and the unit answering")
    assert events.of(DeviceFaultCleared)
    driver.stack()
    events.wait(NoteStacked)
    wait_polls(driver)
    assert len(events.of(NoteCredited)) == 1 and len(events.of(NoteEscrowed)) == 1
    assert sim.counters()["stacked"] == {"1000": 1}


# ---------------------------------------------------------------- a power cut
@pytest.mark.parametrize("name", [n for n in sorted(KINDS) if KINDS[n].leave_note])
@pytest.mark.parametrize("stage, condition, counters", [
    ("path", "bill_in_acceptor", {"returned": 1, "total_notes": 0, "stacked": {}}),
    ("stacker", "bill_in_stacker", {"returned": 0, "total_notes": 1, "stacked": {"1000": 1}}),
])
def test_power_cut_with_a_note_inside(name, tmp_path, stage, condition, counters):
    kind = KINDS[name]
    state = tmp_path / "bv.json"
    before = kind.simulator(state_path=state, **kind.sim_options())
    before.start_on_pty()
    kind.leave_note(before, stage)
    before.stop()  # the power goes: only the state file remains
    with contextmanager(serve)(kind, state, **kind.sim_options()) as after, \
            contextmanager(driver_maker)(kind) as make_driver:
        events = Events()
        driver = make_driver(after, events)
        assert events.wait(PowerUp).condition == condition
        wait_until(lambda: after.counters()["total_notes"] + after.counters()["returned"] == 1,
                   what="the reset resolves the note")
        got = after.counters()
        assert {k: got[k] for k in counters} == counters
        wait_polls(driver)
        assert events.of(NoteCredited) == []  # the journal's power-up reconciliation decides
        assert json.loads(state.read_text())["note"] is None


# ---------------------------------------------------------------- stop
def test_stop_leaves_the_unit_refusing_notes(kind, running):
    sim, driver, events = running
    assert not kind.refusing(sim)
    driver.stop()
    assert kind.refusing(sim)
    assert driver.health().state is HealthState.UNKNOWN
