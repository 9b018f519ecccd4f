"""CCNET faults: the error states only CCNET reports, a bill table that does not match the
configured channels, a noisy line, NAKs and busy states -- no event from garbage, everything
counted, credits still exactly once.  The faults and outages every validator shares run in
test_validator_common.py."""

from __future__ import annotations

import pytest

from drivers.bill_validator.ccnet import protocol as p
from drivers.bill_validator.ccnet.driver import BILL_TABLE_FAULT
from drivers.interfaces import (
    DeviceFault, DeviceFaultCleared, HealthState, NoteCredited, NoteEscrowed, NoteRejected,
    NoteStacked, PowerUp,
)
from tests.conftest import wait_until
from tests.drivers.test_ccnet_driver import (  # noqa: F401 - fixtures
    ALL_CNY, clock, make_driver, running, sim,
)
from tests.drivers.validator_rig import Events, insert_and_escrow, wait_polls


@pytest.mark.parametrize("knob, code, reason_part, clear", [
    ("cashbox-remove", "stacker_open", "removed", "cashbox-insert"),
    ("failure 52", "failure", "transport motor failure (code 0x52)", "clear"),
])
def test_error_states_are_locking_faults_until_cleared(running, knob, code, reason_part, clear):
    sim, driver, events = running
    assert sim.command(knob).startswith("ok")
    fault = events.wait(DeviceFault, code=code)
    assert fault.locking and reason_part in fault.reason
    assert driver.health().state is HealthState.FAULT
    wait_polls(driver, 3)
    assert len(events.of(DeviceFault, code=code)) == 1  # repeated state: one event
    assert sim.command(clear).startswith("ok")
    events.wait(DeviceFaultCleared, code=code)
    wait_until(lambda: driver.health().state is HealthState.OK)
    insert_and_escrow(sim, events, 10)  # and bills flow again
    driver.stack()
    events.wait(NoteStacked)


def test_pause_degrades_without_a_fault(running):
    sim, driver, events = running
    sim.command("pause")
    wait_until(lambda: driver.health().state is HealthState.DEGRADED)
    assert events.of(DeviceFault) == []
    sim.command("clear")
    wait_until(lambda: driver.health().state is HealthState.OK)


def test_bill_table_mismatch_is_a_clear_fault_and_nothing_is_accepted(sim, make_driver):
    sim.command("bill-type 2 20")  # the unit says type 2 is 20 yuan; config says 10
    events = Events()
    driver = make_driver(sim, events)
    fault = events.wait(DeviceFault, code=BILL_TABLE_FAULT)
    assert fault.locking and "type 2: configured 1000, device 2000" in fault.reason
    assert driver.health().state is HealthState.FAULT
    driver.enable(ALL_CNY)
    wait_polls(driver, 4)
    assert "inhibit=on" in sim.status_line()  # nothing enabled
    sim.command("insert 20")
    events.wait(NoteRejected, code=p.REJECT_INHIBITED)
    assert events.of(NoteEscrowed) == [] and events.of(NoteCredited) == []


def test_country_code_is_checked_when_configured(sim, make_driver):
    events = Events()
    make_driver(sim, events, country="RUS")
    fault = events.wait(DeviceFault, code=BILL_TABLE_FAULT)
    assert "country 'CHN'" in fault.reason


def test_a_matching_country_is_no_fault(sim, make_driver):
    events = Events()
    driver = make_driver(sim, events, country="CHN")
    events.wait(PowerUp)
    wait_polls(driver, 3)
    assert events.of(DeviceFault) == [] and driver.health().state is HealthState.OK


def test_garbage_and_corrupt_answers_make_no_event_and_are_counted(running):
    sim, driver, events = running
    before = list(events.log)
    sim.command("noise 02 03 07 81 03 00 00 ff 02 03")  # a BILL STACKED with a bad CRC
    sim.command("corrupt 3")
    wait_until(lambda: sim.corrupt_replies == 0)
    wait_polls(driver, 3)
    assert events.log == before  # nothing from the damaged bytes
    assert driver.stats["frames_bad"] >= 3 and driver.stats["naks_sent"] >= 1
    insert_and_escrow(sim, events, 10)
    sim.command("corrupt 2")  # damage around the credit too: still exactly one
    driver.stack()
    events.wait(NoteStacked)
    wait_polls(driver, 3)
    assert len(events.of(NoteCredited)) == 1 and sim.counters()["total_notes"] == 1


def test_device_nak_is_answered_by_sending_again(running):
    sim, driver, events = running
    sim.command("nak 2")
    wait_until(lambda: sim.nak_commands == 0)
    wait_polls(driver, 2)
    assert driver.stats["naks_received"] == 2 and events.of(DeviceFault) == []


def test_host_bad_crc_is_naked_by_the_device(sim):
    bad = bytearray(p.encode(p.POLL))
    bad[-1] ^= 0xFF
    assert sim.on_bytes(bytes(bad)) == p.encode(p.NAK)


def test_busy_device_makes_no_event(running):
    sim, driver, events = running
    before = list(events.log)
    sim.command("busy 3")
    wait_until(lambda: sim.busy_polls == 0)
    wait_polls(driver, 2)
    assert events.log == before
