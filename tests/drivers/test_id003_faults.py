"""ID-003 driver faults against the simulator over a real pty: the faults only ID-003 reports,
corrupt replies, random noise and fuzz on the line (never money), and a broken consumer.  The
faults, outages and line damage every validator shares run in test_validator_common.py."""

from __future__ import annotations

import logging
import random
import time

import pytest

from drivers.bill_validator.id003 import protocol as p
from drivers.interfaces import (
    DeviceEvent,
    DeviceFault,
    DeviceFaultCleared,
    DeviceStatus,
    EventsLost,
    HealthState,
    NoteCredited,
    NoteEscrowed,
    NoteStacked,
)
from tests.conftest import wait_until
from tests.drivers.test_id003_driver import make_driver, running, sim  # noqa: F401 - fixtures
from tests.drivers.validator_rig import insert_and_escrow, wait_polls


@pytest.mark.parametrize("knob, code, locking, clear", [
    ("cashbox-remove", "stacker_open", True, "cashbox-insert"),
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
    assert sim.command("noise FC 05 15 03") == "ok: sent 4 noise bytes"  # a cut VEND VALID
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
    for _ in range(500):  # a count, not a time span: a busy machine fuzzes just as much
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
    def wire() -> list[str]:
        return [r.getMessage() for r in caplog.records if ".wire.bv" in r.name]

    with caplog.at_level(logging.DEBUG, logger="drivers.bill_validator.id003"):
        # the unit may still answer INITIALIZE on a busy machine: wait for its idle answer
        wait_until(lambda: any(m.startswith("bv <- FC 05 11 ") for m in wire()),
                   what="an idling status answer in the wire log")
    assert "bv -> FC 05 11 27 56" in wire()
