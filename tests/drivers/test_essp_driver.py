"""eSSP driver against the eSSP simulator over a real pty: what only eSSP does (the encrypted
session, the protocol version, resent commands, power-up with a note inside, the latched cash
box, a wrong key and a replayed counter: refused, no credit, a clear fault).  The behaviours
every validator shares run in test_validator_common.py.  Every wait has a deadline."""

from __future__ import annotations

import serial

from drivers.bill_validator.essp.driver import CRYPTO_FAULT, LINE_SETTINGS
from drivers.bill_validator.essp.simulator import CNY_CHANNELS, EsspSimulator
from drivers.interfaces import (DeviceFault, DeviceFaultCleared, DeviceStatus, HealthState,
                                NoteCredited, NoteEscrowed, NoteRejected, NoteStacked, PowerUp)
from tests.conftest import wait_until
from tests.drivers.validator_rig import (KINDS, Events, insert_and_escrow, validator_fixtures,
                                         wait_polls)

KIND = KINDS["essp"]
ALL = frozenset(CNY_CHANNELS.values())


sim, make_driver, running = validator_fixtures(KIND)


def test_line_is_8n2_and_session_is_encrypted(running):
    sim, driver, _ = running
    port = driver.port
    assert (port.baudrate, port.bytesize, port.parity, port.stopbits) == (
        9600, serial.EIGHTBITS, serial.PARITY_NONE, serial.STOPBITS_TWO) == (
        LINE_SETTINGS.baudrate, 8, LINE_SETTINGS.parity, LINE_SETTINGS.stopbits)
    assert "key=set" in sim.status_line()
    ident = driver.identity()
    assert ident["serial_number"] == 0x01020304 and ident["firmware"] == "0430"
    assert ident["protocol_version"] == 7 and ident["channels"][6] == 10000
    assert driver.health().state == HealthState.OK


def test_host_negotiates_down_to_what_it_speaks(sim, make_driver):
    events = Events()
    driver = make_driver(sim, events, max_protocol=6)
    events.wait(PowerUp)
    assert driver.protocol_version == 6 and driver.identity()["channels"][1] == 100


def test_refused_note_is_rejected(running):
    sim, driver, events = running
    sim.command("reject")
    assert events.wait(NoteRejected).code == 0xEC
    assert not events.of(NoteEscrowed) and sim.counters()["rejected"] == 1


def test_lost_reply_is_resent_and_not_acted_on_twice(running):
    sim, driver, events = running
    insert_and_escrow(sim, events, 5)
    sim.command("drop 2")
    driver.stack()
    events.wait(NoteStacked)
    assert len(events.of(NoteCredited)) == 1 and sim.counters()["stacked"] == {"500": 1}
    assert driver.stats["retries"] >= 2


def _stage(sim, stage, value=1000, channel=3):
    sim.state["note"] = {"value": value, "channel": channel, "stage": stage, "refuse": False}
    sim.state_file.save(sim.state)


def test_power_up_with_note_past_escrow_cleared_into_cashbox(tmp_path, make_driver):
    """The unit finishes the note into the cash box at power-up (NOTE CLEARED INTO CASHBOX):
    the host's power-up reconciliation credits and flags the journaled note from
    ``bill_in_stacker``; the acknowledgement waits until the host released the power-up."""
    first = EsspSimulator(state_path=tmp_path / "bv.json")
    _stage(first, "stacking")
    sim = EsspSimulator(state_path=tmp_path / "bv.json")  # switched on again
    sim.start_on_pty()
    try:
        events = Events()
        driver = make_driver(sim, events, hold_power_up=True)
        assert events.wait(PowerUp).condition == "bill_in_stacker"
        assert events.wait(DeviceStatus, state="note_cleared_into_cashbox")
        wait_polls(driver, 0)
        wait_until(lambda: "pending_ack=1" in sim.status_line(), what="ack held")
        assert "pending_ack=1" in sim.status_line()  # not acknowledged before release
        driver.release_power_up()
        wait_until(lambda: "pending_ack=0" in sim.status_line(), what="ack after release")
        assert not events.of(NoteCredited)  # reconciliation credits it, never twice
        assert sim.counters()["stacked"] == {"1000": 1}
    finally:
        sim.stop()


def test_power_up_with_note_in_path_cleared_from_front(tmp_path, make_driver):
    _stage(EsspSimulator(state_path=tmp_path / "bv.json"), "escrow_wait")
    sim = EsspSimulator(state_path=tmp_path / "bv.json")
    sim.start_on_pty()
    try:
        events = Events()
        make_driver(sim, events)
        assert events.wait(PowerUp).condition == "bill_in_acceptor"
        events.wait(DeviceStatus, state="note_cleared_from_front")
        assert not events.of(NoteCredited) and sim.counters()["returned"] == 1
    finally:
        sim.stop()


def test_host_restart_with_note_held_in_escrow_returns_it(running, make_driver):
    sim, driver, events = running
    insert_and_escrow(sim, events, 100)
    driver.stop()  # the host goes away while the note is held
    events2 = Events()
    make_driver(sim, events2)
    assert events2.wait(PowerUp).condition == "bill_in_acceptor"
    wait_until(lambda: sim.counters()["returned"] == 1, what="note handed back")
    assert not events2.of(NoteCredited) and sim.counters()["total_notes"] == 0


def test_cashbox_removed_latched_until_replaced(running):
    sim, driver, events = running
    sim.command("cashbox-remove")
    events.wait(DeviceFault, code="stacker_open")
    wait_polls(driver, 5)
    assert not events.of(DeviceFaultCleared, code="stacker_open")
    sim.command("cashbox-insert")
    events.wait(DeviceFaultCleared, code="stacker_open")


def test_slave_reset_while_running_rekeys_and_carries_on(running):
    sim, driver, events = running
    sim.command("power-cycle")
    events.wait(PowerUp, count=2)
    driver.enable(ALL)
    wait_until(lambda: sim.ready_for_note, what="enabled after the reset")
    insert_and_escrow(sim, events, 10)
    driver.stack()
    events.wait(NoteCredited)


def test_wrong_fixed_key_is_a_clear_fault_and_no_money(tmp_path, make_driver):
    sim = EsspSimulator(state_path=tmp_path / "bv.json", fixed_key="1111222233334444")
    sim.start_on_pty()
    try:
        events = Events()
        driver = make_driver(sim, events)
        fault = events.wait(DeviceFault, code=CRYPTO_FAULT)
        assert fault.locking and "key" in fault.reason
        assert "1111222233334444" not in fault.reason and "0123456701234567" not in fault.reason
        assert driver.health().state == HealthState.FAULT
        wait_polls(driver, 0)
        assert not events.of(PowerUp) and not events.of(NoteCredited)
    finally:
        sim.stop()


def test_forged_replies_under_a_wrong_key_are_refused(running):
    sim, driver, events = running
    insert_and_escrow(sim, events, 20)
    sim.command("wrong-key on")
    driver.stack()
    events.wait(DeviceFault, code=CRYPTO_FAULT)
    wait_until(lambda: driver.stats["crypto_refused"] >= 3, what="refusals")
    assert not events.of(NoteCredited)
    sim.command("wrong-key off")
    events.wait(DeviceFaultCleared, code=CRYPTO_FAULT)
    events.wait(NoteStacked)
    assert len(events.of(NoteCredited)) == 1 and sim.counters()["total_notes"] == 1


def test_replayed_counter_is_refused(running):
    sim, driver, events = running
    insert_and_escrow(sim, events, 50)
    driver.stack()
    events.wait(NoteCredited)
    sim.command("replay 1")  # the next reply is the previous encrypted packet, sent again
    fault = events.wait(DeviceFault, code=CRYPTO_FAULT)
    assert "eCOUNT" in fault.reason and driver.stats["replays_refused"] == 1
    events.wait(DeviceFaultCleared, code=CRYPTO_FAULT)  # re-keyed
    wait_polls(driver, 5)
    assert len(events.of(NoteCredited)) == 1 and sim.counters()["total_notes"] == 1
