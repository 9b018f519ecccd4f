"""ID-003 driver against the simulator over a real pty: line settings, note cycles, repeated
VEND VALID, power-up with a note inside.  Every wait is a condition with a deadline.  The
helpers and fixtures here are shared with test_id003_faults."""

from __future__ import annotations

import json
import threading
import time

import pytest
import serial

from drivers import registry
from drivers.bill_validator.id003 import protocol as p
from drivers.bill_validator.id003.driver import LINE_SETTINGS, Id003Driver
from drivers.bill_validator.id003.simulator import Id003Simulator
from drivers.interfaces import (
    DeviceEvent,
    EventsLost,
    HealthState,
    NoteCredited,
    NoteEscrowed,
    NoteRejected,
    NoteReturned,
    NoteStacked,
    PowerUp,
)
from drivers.transport import SimulatorHub, open_port
from tests.conftest import wait_until

FAST = {"poll_interval": 0.02, "reply_timeout": 0.15, "retries": 2}
ALL_CNY = frozenset(p.CNY_CODE_VALUES.values())


class Events:
    """The post callable: records every event, in order, and lets a test wait for one."""

    def __init__(self) -> None:
        self.log: list[DeviceEvent] = []
        self._cond = threading.Condition()

    def __call__(self, event: DeviceEvent) -> None:
        with self._cond:
            self.log.append(event)
            self._cond.notify_all()

    def of(self, kind: type, **attrs) -> list[DeviceEvent]:
        with self._cond:
            return [e for e in self.log if isinstance(e, kind)
                    and all(getattr(e, k) == v for k, v in attrs.items())]

    def wait(self, kind: type, count: int = 1, timeout: float = 5.0, **attrs) -> DeviceEvent:
        """The ``count``-th event of ``kind`` (with ``attrs``), waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(found := self.of(kind, **attrs)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {kind.__name__} #{count} {attrs}; saw {self.log}")
                self._cond.wait(left)
            return found[count - 1]


def wait_polls(driver: Id003Driver, n: int = 3) -> None:
    """Let the driver complete ``n`` more status polls (repeats must not re-post events)."""
    target = driver.stats["polls"] + n
    wait_until(lambda: driver.stats["polls"] >= target, what=f"{n} polls")


class RawHost:
    """Drives a simulator with raw frames (to leave it in a given state for a power cut)."""

    def __init__(self, path: str) -> None:
        self.port = serial.serial_for_url(path, baudrate=9600, parity="E", timeout=0.5)

    def ask(self, cmd: int, data: bytes = b"") -> p.Frame:
        self.port.write(p.encode(cmd, data))
        head = self.port.read(2)
        return p.decode(head + self.port.read(head[1] - 2))

    def close(self) -> None:
        self.port.close()


@pytest.fixture
def sim(tmp_path):
    simulator = Id003Simulator(state_path=tmp_path / "bv.json")
    simulator.start_on_pty()
    yield simulator
    simulator.stop()


def open_driver(path: str, **options) -> Id003Driver:
    """A driver on its own 8E1 port (closed by ``stop()``), as the terminal builds one."""
    return Id003Driver("bv", open_port(path, LINE_SETTINGS), p.cny_channels(), owns_port=True,
                       **options)


@pytest.fixture
def make_driver():
    started: list[Id003Driver] = []

    def make(simulator: Id003Simulator, events: Events | None = None, **options) -> Id003Driver:
        driver = open_driver(simulator.port_path, **{**FAST, **options})
        if events is not None:
            driver.start(events)
            started.append(driver)
        return driver

    yield make
    for driver in started:
        driver.stop()


@pytest.fixture
def running(sim, make_driver):
    """A started driver that has finished its power-up sequence and accepts every CNY note."""
    events = Events()
    driver = make_driver(sim, events)
    events.wait(PowerUp, condition="normal")
    driver.enable(ALL_CNY)
    wait_until(lambda: "inhibit=off" in sim.status_line(), what="acceptance enabled")
    return sim, driver, events


def insert_and_escrow(sim: Id003Simulator, events: Events, yuan: int, count: int = 1):
    assert sim.command(f"insert {yuan}") == f"ok: inserted {yuan} yuan"
    return events.wait(NoteEscrowed, count=count, denomination_minor=yuan * 100)


# ---------------------------------------------------------------- line settings
def test_registry_opens_the_port_8e1(sim):
    entry = registry.entry("id003")
    port = open_port(sim.port_path, entry.line_settings(entry.options()))
    driver = entry.open_driver(registry.DriverSetup("bv", port, entry.options()))
    try:
        assert driver.port is port and driver.owns_port
        assert (port.baudrate, port.bytesize, port.parity, port.stopbits) == (
            9600, serial.EIGHTBITS, serial.PARITY_EVEN, serial.STOPBITS_ONE)
        assert LINE_SETTINGS.parity == serial.PARITY_EVEN
    finally:
        driver.stop()
    assert not port.is_open


def test_driver_corrects_a_port_opened_8n1(sim):
    port = open_port(sim.port_path, type(LINE_SETTINGS)())  # the default: 8N1
    assert port.parity == serial.PARITY_NONE
    driver = Id003Driver("bv", port, p.cny_channels(), **FAST)
    events = Events()
    driver.start(events)
    try:
        assert port.parity == serial.PARITY_EVEN
        events.wait(PowerUp)
    finally:
        driver.stop()
        port.close()


def test_health_before_start_is_unknown(sim):
    driver = open_driver(sim.port_path)
    assert driver.health().state is HealthState.UNKNOWN
    driver.stop()


# ---------------------------------------------------------------- note cycles
def test_whole_note_cycle_credits_once(running):
    sim, driver, events = running
    assert driver.health().state is HealthState.OK
    escrow = insert_and_escrow(sim, events, 10)
    assert (escrow.denomination_minor, escrow.channel) == (1000, 0x63)
    wait_polls(driver, 4)  # escrow is held over several polls: still one event, no money
    assert len(events.of(NoteEscrowed)) == 1
    assert events.of(NoteCredited) == []
    driver.stack()
    credit = events.wait(NoteCredited)
    assert (credit.denomination_minor, credit.channel) == (1000, 0x63)
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


def test_return_from_escrow(running):
    sim, driver, events = running
    insert_and_escrow(sim, events, 20)
    driver.return_note()
    returned = events.wait(NoteReturned)
    assert (returned.denomination_minor, returned.reason) == (2000, "host")
    wait_polls(driver)
    assert events.of(NoteCredited) == [] and events.of(NoteStacked) == []
    assert sim.counters()["returned"] == 1 and sim.counters()["total_notes"] == 0


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


def test_repeated_vend_valid_is_one_credit(running):
    sim, driver, events = running
    insert_and_escrow(sim, events, 50)
    assert sim.command("ignore-ack 4") == "ok: ignore-ack 4"  # the device misses 4 ACKs
    driver.stack()
    events.wait(NoteStacked)
    assert sim.ignore_acks == 0  # so VEND VALID was seen (and ACKed) on 5 polls
    wait_polls(driver)
    assert [e.denomination_minor for e in events.of(NoteCredited)] == [5000]
    assert events.of(EventsLost) == []
    assert sim.counters()["stacked"] == {"5000": 1}


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
    host = RawHost(sim.port_path)
    host.ask(p.RESET)
    host.ask(p.SET_INHIBIT, b"\x00")
    sim.command("insert 10")
    assert [host.ask(p.STATUS_REQUEST).cmd for _ in range(3)] == [
        p.INITIALIZE, p.ACCEPTING, p.ESCROW]
    host.ask(p.STACK_1)
    assert [host.ask(p.STATUS_REQUEST).cmd for _ in range(2)] == [p.STACKING, p.VEND_VALID]
    host.close()  # the first host "crashed" before its ACK
    events = Events()
    make_driver(sim, events)
    lost = events.wait(EventsLost)
    assert lost.count == 1 and "journal" in lost.detail
    wait_until(lambda: sim.counters()["total_notes"] == 1)
    assert events.of(NoteCredited) == []


# ---------------------------------------------------------------- power-up
def _leave_note(sim: Id003Simulator, stage: str) -> None:
    host = RawHost(sim.port_path)
    host.ask(p.RESET)
    host.ask(p.SET_INHIBIT, b"\x00")
    sim.command("insert 10")
    statuses = [host.ask(p.STATUS_REQUEST).cmd for _ in range(3)]
    assert statuses == [p.INITIALIZE, p.ACCEPTING, p.ESCROW]
    if stage == "stacker":
        host.ask(p.STACK_1)
        assert host.ask(p.STATUS_REQUEST).cmd == p.STACKING
    host.close()


@pytest.mark.parametrize("stage, condition, counters", [
    ("acceptor", "bill_in_acceptor", {"returned": 1, "total_notes": 0, "stacked": {}}),
    ("stacker", "bill_in_stacker", {"returned": 0, "total_notes": 1, "stacked": {"1000": 1}}),
])
def test_power_cut_with_a_note_inside(tmp_path, make_driver, stage, condition, counters):
    state = tmp_path / "bv.json"
    before = Id003Simulator(state_path=state)
    before.start_on_pty()
    _leave_note(before, stage)
    before.stop()  # the power goes: only the state file remains
    after = Id003Simulator(state_path=state)
    after.start_on_pty()
    try:
        events = Events()
        driver = make_driver(after, events)
        power = events.wait(PowerUp)
        assert power.condition == condition
        wait_until(lambda: after.counters()["total_notes"] + after.counters()["returned"] == 1,
                   what="the reset resolves the note")
        got = after.counters()
        assert {k: got[k] for k in counters} == counters
        wait_polls(driver)
        assert events.of(NoteCredited) == []  # the journal's power-up reconciliation decides
        assert json.loads(state.read_text())["note"] is None
    finally:
        after.stop()


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


def test_stop_leaves_the_acceptor_inhibited(running):
    sim, driver, events = running
    assert "inhibit=off" in sim.status_line()
    driver.stop()
    assert "inhibit=on" in sim.status_line()
    assert driver.health().state is HealthState.UNKNOWN


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
