"""eSSP driver against the eSSP simulator over a real pty: the encrypted session, note cycles,
repeated and resent credits (credited once), power-up with a note inside, faults, a wrong key
and a replayed counter (refused: no credit, a clear fault).  Every wait has a deadline."""

from __future__ import annotations

import pytest
import serial

from drivers.bill_validator.essp.driver import CRYPTO_FAULT, LINE_SETTINGS, EsspDriver
from drivers.bill_validator.essp.simulator import CNY_CHANNELS, EsspSimulator
from drivers.interfaces import (ChannelMap, DeviceFault, DeviceFaultCleared, DeviceStatus,
                                HealthState, NoteCredited, NoteEscrowed, NoteRejected,
                                NoteReturned, NoteStacked, PowerUp)
from drivers.transport import open_port
from tests.conftest import wait_until
from tests.drivers.test_id003_driver import Events, wait_polls

FAST = {"poll_interval": 0.02, "reply_timeout": 0.15, "retries": 2}
ALL = frozenset(CNY_CHANNELS.values())


@pytest.fixture
def sim(tmp_path):
    simulator = EsspSimulator(state_path=tmp_path / "bv.json")
    simulator.start_on_pty()
    yield simulator
    simulator.stop()


@pytest.fixture
def make_driver():
    started: list[EsspDriver] = []

    def make(simulator, events=None, **options):
        driver = EsspDriver("bv", open_port(simulator.port_path, LINE_SETTINGS),
                            ChannelMap(dict(CNY_CHANNELS)), owns_port=True,
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
    events = Events()
    driver = make_driver(sim, events)
    events.wait(PowerUp, condition="normal")
    driver.enable(ALL)
    wait_until(lambda: sim.ready_for_note, what="acceptance enabled")
    return sim, driver, events


def escrow(sim, events, yuan, count=1):
    assert sim.command(f"insert {yuan}") == f"ok: inserted {yuan} yuan"
    return events.wait(NoteEscrowed, count=count, denomination_minor=yuan * 100)


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


def test_note_stacked_credited_once(running):
    sim, driver, events = running
    escrow(sim, events, 10)
    assert "stage=escrow_wait" in sim.status_line()
    wait_polls(driver, 5)  # HOLD keeps it: no POLL may accept it before the host decides
    assert "stage=escrow_wait" in sim.status_line() and not events.of(NoteCredited)
    driver.stack()
    assert events.wait(NoteCredited).denomination_minor == 1000
    events.wait(NoteStacked)
    wait_polls(driver, 5)
    assert len(events.of(NoteCredited)) == 1
    assert sim.counters()["stacked"] == {"1000": 1}


def test_note_returned_on_host_request(running):
    sim, driver, events = running
    escrow(sim, events, 50)
    driver.return_note()
    ev = events.wait(NoteReturned)
    assert (ev.denomination_minor, ev.reason) == (5000, "host")
    assert not events.of(NoteCredited) and sim.counters()["returned"] == 1


def test_refused_note_is_rejected(running):
    sim, driver, events = running
    sim.command("reject")
    assert events.wait(NoteRejected).code == 0xEC
    assert not events.of(NoteEscrowed) and sim.counters()["rejected"] == 1


def test_repeated_credit_until_ack_is_credited_once(running):
    sim, driver, events = running
    escrow(sim, events, 20)
    sim.command("ignore-ack 3")  # the unit repeats NOTE CREDIT for three more polls
    driver.stack()
    events.wait(NoteStacked)
    assert len(events.of(NoteCredited)) == 1 and sim.counters()["total_notes"] == 1


def test_lost_reply_is_resent_and_not_acted_on_twice(running):
    sim, driver, events = running
    escrow(sim, events, 5)
    sim.command("drop 2")
    driver.stack()
    events.wait(NoteStacked)
    assert len(events.of(NoteCredited)) == 1 and sim.counters()["stacked"] == {"500": 1}
    assert driver.stats["retries"] >= 2


def test_noise_on_the_line_makes_no_event(running):
    sim, driver, events = running
    before = len(events.log)
    sim.command("noise 7F 80 03 F0 EE 03 00 00 7F 55 7F")
    wait_polls(driver, 5)
    assert len(events.log) == before
    assert driver.stats["bytes_dropped"] + driver.stats["frames_bad"] > 0
    escrow(sim, events, 1)
    driver.stack()
    events.wait(NoteCredited)


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
    escrow(sim, events, 100)
    driver.stop()  # the host goes away while the note is held
    events2 = Events()
    make_driver(sim, events2)
    assert events2.wait(PowerUp).condition == "bill_in_acceptor"
    wait_until(lambda: sim.counters()["returned"] == 1, what="note handed back")
    assert not events2.of(NoteCredited) and sim.counters()["total_notes"] == 0


@pytest.mark.parametrize("word,code", [("jam", "acceptor_jam"), ("stacker-jam", "stacker_jam"),
                                       ("stacker-full", "stacker_full"), ("cheat", "cheated")])
def test_faults_raise_and_clear(running, word, code):
    sim, driver, events = running
    sim.command(word)
    assert events.wait(DeviceFault, code=code).locking
    assert driver.health().state == HealthState.FAULT
    sim.command("clear")
    events.wait(DeviceFaultCleared, code=code)
    wait_until(lambda: driver.health().state == HealthState.OK, what="healthy again")


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
    escrow(sim, events, 10)
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
    escrow(sim, events, 20)
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
    escrow(sim, events, 50)
    driver.stack()
    events.wait(NoteCredited)
    sim.command("replay 1")  # the next reply is the previous encrypted packet, sent again
    fault = events.wait(DeviceFault, code=CRYPTO_FAULT)
    assert "eCOUNT" in fault.reason and driver.stats["replays_refused"] == 1
    events.wait(DeviceFaultCleared, code=CRYPTO_FAULT)  # re-keyed
    wait_polls(driver, 5)
    assert len(events.of(NoteCredited)) == 1 and sim.counters()["total_notes"] == 1
