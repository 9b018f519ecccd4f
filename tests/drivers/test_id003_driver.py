"""ID-003 driver against the simulator over a real pty: note cycles, faults, power-up, repeated
VEND VALID, noise.  Every wait is a condition with a deadline."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from typing import Callable

import pytest
import serial

from drivers.bill_validator.id003 import protocol as p
from drivers.bill_validator.id003.driver import COMM_FAULT, LINE_SETTINGS, Id003Driver
from drivers.bill_validator.id003.simulator import Id003Simulator
from drivers.interfaces import (
    DeviceEvent,
    DeviceFault,
    DeviceFaultCleared,
    DeviceStatus,
    EventsLost,
    HealthState,
    NoteCredited,
    NoteEscrowed,
    NoteRejected,
    NoteReturned,
    NoteStacked,
    PowerUp,
)
from drivers.transport import open_port

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


def wait_until(check: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.005)


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


@pytest.fixture
def make_driver():
    started: list[Id003Driver] = []

    def make(simulator: Id003Simulator, events: Events | None = None, **options) -> Id003Driver:
        driver = Id003Driver.open("bv", simulator.port_path, p.cny_channels(),
                                  **{**FAST, **options})
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
def test_driver_opens_the_port_8e1(sim):
    driver = Id003Driver.open("bv", sim.port_path, p.cny_channels())
    try:
        port = driver.port
        assert (port.baudrate, port.bytesize, port.parity, port.stopbits) == (
            9600, serial.EIGHTBITS, serial.PARITY_EVEN, serial.STOPBITS_ONE)
        assert LINE_SETTINGS.parity == serial.PARITY_EVEN
    finally:
        driver.stop()


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
    driver = Id003Driver.open("bv", sim.port_path, p.cny_channels())
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


# ---------------------------------------------------------------- faults
@pytest.mark.parametrize("knob, code, locking, clear", [
    ("jam", "acceptor_jam", True, "clear"),
    ("stacker-jam", "stacker_jam", True, "clear"),
    ("stacker-full", "stacker_full", True, "cashbox-insert"),
    ("cashbox-remove", "stacker_open", True, "cashbox-insert"),
    ("cheat", "cheated", True, "clear"),
    ("failure", "failure", True, "clear"),
    ("comm-error", "device_comm_error", False, "clear"),
])
def test_device_fault_and_clear(running, knob, code, locking, clear):
    sim, driver, events = running
    assert sim.command(knob).startswith("ok")
    fault = events.wait(DeviceFault, code=code)
    assert fault.locking is locking
    want = HealthState.FAULT if locking else HealthState.DEGRADED
    assert driver.health().state is want
    wait_polls(driver)
    assert len(events.of(DeviceFault)) == 1  # a fault that stays is reported once
    if code == "failure":
        assert "0xA2" in fault.reason
    assert sim.command("insert 10").startswith("error")  # a faulted device takes no note
    assert sim.command(clear).startswith("ok")
    events.wait(DeviceFaultCleared, code=code)
    wait_until(lambda: driver.health().state is HealthState.OK)


def test_fault_during_escrow_keeps_the_note(running):
    sim, driver, events = running
    insert_and_escrow(sim, events, 10)
    sim.command("jam")
    events.wait(DeviceFault, code="acceptor_jam")
    sim.command("clear")
    events.wait(DeviceFaultCleared, code="acceptor_jam")
    wait_polls(driver)
    assert len(events.of(NoteEscrowed)) == 1  # back in escrow: the same note, no new event
    driver.stack()
    events.wait(NoteStacked)
    assert len(events.of(NoteCredited)) == 1


def test_dropped_replies_are_retried_then_a_comm_fault(running):
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
    driver.stack()  # queued while the device cannot hear it
    wait_until(lambda: driver.stats["timeouts"] >= timeouts + 2, what="attempts in the outage")
    assert events.of(NoteCredited) == []
    sim.command("drop 0")
    assert events.wait(NoteCredited).denomination_minor == 2000


def test_slow_replies_within_the_timeout_are_fine(running):
    sim, driver, events = running
    sim.command("delay 40")
    insert_and_escrow(sim, events, 10)
    driver.stack()
    events.wait(NoteStacked)
    sim.command("delay 0")
    assert events.of(DeviceFault) == []


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


# ---------------------------------------------------------------- corrupt bytes
def test_noise_on_the_line_creates_no_money(running):
    sim, driver, events = running
    rng = random.Random(7)
    bad_before = driver.stats["frames_bad"]
    for _ in range(60):
        junk = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 12)))
        if rng.random() < 0.3:  # things that look like a VEND VALID, with a broken CRC
            junk = p.encode(p.VEND_VALID)[:-1] + bytes([rng.randrange(256) ^ 0x10]) + junk
        sim.inject(junk)
        time.sleep(0.005)
    assert sim.command("noise FC 05 15 03") == "ok: injected 4 bytes"  # a cut VEND VALID
    wait_polls(driver, 5)
    assert events.of(NoteCredited) == [] and events.of(EventsLost) == []
    assert events.of(NoteEscrowed) == []
    assert driver.stats["frames_bad"] > bad_before
    wait_until(lambda: driver.health().state is HealthState.OK)


def test_corrupted_replies_are_retried_and_a_note_still_credits_once(running):
    sim, driver, events = running
    bad, retries = driver.stats["frames_bad"], driver.stats["retries"]
    sim.command("corrupt 2")  # below the fault threshold (1 + retries attempts)
    insert_and_escrow(sim, events, 10)
    sim.command("corrupt 2")  # the stack's ACK or the next statuses arrive broken
    driver.stack()
    events.wait(NoteStacked)
    wait_polls(driver)
    assert len(events.of(NoteCredited)) == 1
    assert driver.stats["frames_bad"] - bad == 4
    assert driver.stats["retries"] - retries == 4
    assert events.of(DeviceFault) == []


def test_driver_level_fuzz_never_credits(running):
    sim, driver, events = running
    rng = random.Random(1234)
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        choice = rng.random()
        if choice < 0.4:
            sim.inject(bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 40))))
        elif choice < 0.7:  # a real status frame with one byte changed
            raw = bytearray(p.encode(rng.choice([p.ESCROW, p.VEND_VALID, p.STACKED]),
                                     b"\x63" if rng.random() < 0.5 else b""))
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
            sim.inject(bytes(raw))
        elif choice < 0.8:
            sim.inject(p.encode(p.VEND_VALID)[: rng.randrange(1, 5)])  # truncated
        time.sleep(0.002)
    wait_polls(driver, 3)
    assert events.of(NoteCredited) == [] and events.of(NoteEscrowed) == []
    assert driver.stats["frames_bad"] > 50


def test_unknown_denomination_in_escrow_is_returned_not_credited(running):
    sim, driver, events = running
    sim.channels.values[0x67] = 20000  # the device knows a note the config does not
    with sim._lock:
        sim._mask = b"\x00\x00"  # and a technician enabled it on the device
    sim.insert_note(20000)
    status = events.wait(DeviceStatus, state="unknown_denomination")
    assert status.detail == "0x67"
    wait_until(lambda: sim.counters()["returned"] == 1, what="returned by the driver")
    assert events.of(NoteEscrowed) == [] and events.of(NoteCredited) == []


def test_post_callback_errors_do_not_stop_polling(sim, make_driver):
    calls: list[DeviceEvent] = []

    def bad_post(event: DeviceEvent) -> None:
        calls.append(event)
        raise RuntimeError("consumer bug")

    driver = make_driver(sim, None)
    driver.start(bad_post)
    try:
        wait_until(lambda: calls, what="PowerUp")
        wait_polls(driver, 3)
        assert driver.health().state is HealthState.OK
    finally:
        driver.stop()


def test_pause_is_degraded_and_reported(running):
    sim, driver, events = running
    sim.command("pause")
    events.wait(DeviceStatus, state="pause")
    wait_until(lambda: driver.health().state is HealthState.DEGRADED)
    sim.command("clear")
    wait_until(lambda: driver.health().state is HealthState.OK)


def test_wire_log_is_hex_at_debug_level(running, caplog):
    sim, driver, events = running
    with caplog.at_level(logging.DEBUG, logger="drivers.bill_validator.id003"):
        wait_polls(driver, 2)
    wire = [r.getMessage() for r in caplog.records if ".wire.bv" in r.name]
    assert "bv -> FC 05 11 27 56" in wire
    assert any(m.startswith("bv <- FC 05 11 ") for m in wire)
