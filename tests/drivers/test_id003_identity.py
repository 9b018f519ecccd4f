"""ID-003 read requests: the setting status requests (0x80-0x87) and the version request (0x88),
byte for byte in the simulator, decoded by the protocol, read by the driver at start-up over a
real pty and shown by ``identity()``."""

from __future__ import annotations

import pytest

from drivers.bill_validator.id003 import protocol as p
from drivers.bill_validator.id003.link import is_reply
from drivers.bill_validator.id003.simulator import VERSION, Id003Simulator
from drivers.errors import FrameError
from drivers.interfaces import Identified, NoteCredited, PowerUp
from drivers.ptypair import nudge_pty
from tests.conftest import wait_until
from tests.drivers.test_id003_driver import (  # noqa: F401 - fixtures are used by name
    ALL_CNY,
    Events,
    insert_and_escrow,
    make_driver,
    sim,
)
from tests.drivers.test_validator_framing import kermit_oracle
from tests.drivers.validator_rig import Id003Host

#: the host's read requests, written out (ID-003 specification, "setting status request" and
#: "version information request"); each CRC is checked against an independent oracle below
REQUESTS = {
    p.STATUS_ENABLE: "FC 05 80 27 D3",
    p.STATUS_SECURITY: "FC 05 81 AE C2",
    p.STATUS_COMMUNICATION_MODE: "FC 05 82 35 F0",
    p.STATUS_INHIBIT: "FC 05 83 BC E1",
    p.STATUS_DIRECTION: "FC 05 84 03 95",
    p.STATUS_OPTIONAL_FUNCTION: "FC 05 85 8A 84",
    p.STATUS_BAR_CODE: "FC 05 86 11 B6",
    p.STATUS_BAR_INHIBIT: "FC 05 87 98 A7",
    p.VERSION_REQUEST: "FC 05 88 6F 5F",
    p.BOOT_VERSION_REQUEST: "FC 05 89 E6 4E",
}
#: what this simulated unit answers right after power-up, written out
POWER_UP_ANSWERS = {
    p.STATUS_ENABLE: "FC 07 80 00 00 5B B3",
    p.STATUS_SECURITY: "FC 07 81 00 00 87 E9",
    p.STATUS_COMMUNICATION_MODE: "FC 06 82 00 BA 89",
    p.STATUS_INHIBIT: "FC 06 83 01 EB 81",
    p.STATUS_DIRECTION: "FC 06 84 00 6A DD",
    p.STATUS_OPTIONAL_FUNCTION: "FC 07 85 00 00 E6 8A",
    p.STATUS_BAR_CODE: "FC 07 86 01 12 C9 4F",
    p.STATUS_BAR_INHIBIT: "FC 06 87 FC E1 CA",
}
VERSION_ANSWER = ("FC 2E 88 69 28 43 48 4E 29 31 30 30 2D 53 53 20 49 44 30 30 33 2D 30 35 56 31 35"
                  " 30 2D 35 31 20 32 36 4A 55 4E 30 39 20 39 45 30 43 D9 69")
INVALID = p.encode(p.INVALID_COMMAND)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def ask(sim: Id003Simulator, cmd: int, data: bytes = b"") -> bytes:
    return sim.on_bytes(p.encode(cmd, data))


# ---------------------------------------------------------------- protocol
@pytest.mark.parametrize("cmd", sorted(REQUESTS), ids=hex)
def test_read_requests_encode_exactly(cmd):
    raw = h(REQUESTS[cmd])
    assert p.encode(cmd) == raw and p.decode(raw) == p.Frame(cmd)
    assert kermit_oracle(raw[:-2]).to_bytes(2, "little") == raw[-2:]


@pytest.mark.parametrize("answer", [*POWER_UP_ANSWERS.values(), VERSION_ANSWER])
def test_written_out_answers_have_the_right_crc(answer):
    raw = h(answer)
    assert raw[1] == len(raw) and kermit_oracle(raw[:-2]).to_bytes(2, "little") == raw[-2:]


def test_each_setting_has_its_read_back():
    assert [p.setting_request(c) for c in sorted(p.SETTING_COMMANDS)] == list(range(0x80, 0x88))
    assert p.SETTING_OF_REQUEST[p.STATUS_BAR_INHIBIT] == p.SET_BAR_INHIBIT
    with pytest.raises(FrameError):
        p.setting_request(p.STATUS_REQUEST)


def test_setting_status_answers_decode_with_their_lengths():
    assert p.decode_setting_status(p.Frame(0x80, b"\xfe\xff"), 0x80) == b"\xfe\xff"
    assert p.decode_setting_status(p.Frame(0x85, b"\x01"), 0x85) == b"\x01"  # length not fixed
    for frame, request in [(p.Frame(0x80, b"\x00"), 0x80), (p.Frame(0x83, b""), 0x83),
                           (p.Frame(0x84, b"\x00"), 0x83), (p.Frame(0x88, b"x"), 0x88)]:
        with pytest.raises(FrameError):
            p.decode_setting_status(frame, request)


def test_version_string_is_read_into_its_parts():
    assert p.decode_version(VERSION.encode()) == {
        "version": VERSION, "model": "i(CHN)100-SS", "country": "CHN",
        "protocol_version": "ID003-05", "firmware": "V150-51", "date": "26JUN09",
        "checksum": "9E0C"}
    assert p.decode_version(b"  EBA-40 custom  ") == {"version": "EBA-40 custom"}
    assert p.encode_version(VERSION) == h(VERSION_ANSWER)
    for bad in (b"", b"V1\x00", "版本".encode()):
        with pytest.raises(FrameError):
            p.decode_version(bad)
    with pytest.raises(FrameError):
        p.encode_version("x" * p.MAX_DATA_LEN + "y")


def test_a_read_answer_is_only_the_answer_to_its_own_request():
    sent = p.encode(p.VERSION_REQUEST)
    assert is_reply(p.Frame(p.VERSION_REQUEST, b"V1"), sent, "read")
    assert is_reply(p.Frame(p.INVALID_COMMAND), sent, "read")  # an older unit
    assert not is_reply(p.Frame(p.VERSION_REQUEST), sent, "read")
    assert not is_reply(p.Frame(p.ENABLE_IDLING), sent, "read")
    assert not is_reply(p.Frame(p.STATUS_ENABLE, b"\x00\x00"), sent, "read")
    # and a late read answer is never taken for a status
    assert not is_reply(p.Frame(p.VERSION_REQUEST, b"V1"), p.encode(p.STATUS_REQUEST), "status")
    assert not is_reply(p.Frame(p.STATUS_INHIBIT, b"\x01"), p.encode(p.STATUS_REQUEST), "status")


# ---------------------------------------------------------------- simulator
def test_power_up_settings_read_back_byte_for_byte():
    sim = Id003Simulator()
    for cmd, answer in POWER_UP_ANSWERS.items():
        assert ask(sim, cmd) == h(answer), hex(cmd)
    assert ask(sim, p.VERSION_REQUEST) == h(VERSION_ANSWER)
    boot = p.decode(ask(sim, p.BOOT_VERSION_REQUEST))
    assert boot.cmd == p.BOOT_VERSION_REQUEST and p.decode_version(boot.data)["version"]
    assert p.decode(ask(sim, p.STATUS_REQUEST)).cmd == p.POWER_UP  # reading changed nothing


def test_read_backs_follow_the_settings_the_host_wrote():
    sim = Id003Simulator()
    writes = {p.SET_ENABLE: b"\xfe\xff", p.SET_SECURITY: b"\x03\x00", p.SET_INHIBIT: b"\x00",
              p.SET_DIRECTION: b"\x0c", p.SET_OPTIONAL_FUNCTION: b"\x01\x00",
              p.SET_BAR_CODE: b"\x01\x0a", p.SET_BAR_INHIBIT: b"\xfe",
              p.SET_COMMUNICATION_MODE: b"\x00"}
    for cmd, data in writes.items():
        assert ask(sim, cmd, data) == p.encode(cmd, data)  # echoed
        assert ask(sim, p.setting_request(cmd)) == p.encode(p.setting_request(cmd), data)
    assert sim.command("settings").startswith("C0=FEFF C1=0300 C2=00 C3=00 C4=0C")
    sim.power_cycle()  # settings are volatile
    for cmd, answer in POWER_UP_ANSWERS.items():
        assert ask(sim, cmd) == h(answer), hex(cmd)


def test_read_requests_are_answered_in_faults_too_and_refused_with_data():
    sim = Id003Simulator()
    ask(sim, p.RESET)
    sim.set_fault("acceptor_jam")
    assert ask(sim, p.STATUS_INHIBIT) == h(POWER_UP_ANSWERS[p.STATUS_INHIBIT])
    assert ask(sim, p.VERSION_REQUEST) == h(VERSION_ANSWER)
    assert ask(sim, p.STATUS_ENABLE, b"\x00") == INVALID
    assert ask(sim, p.VERSION_REQUEST, b"\x00") == INVALID
    assert ask(sim, 0x8F) == INVALID  # not a request this unit knows


def test_an_older_unit_refuses_the_version_request_and_the_bench_can_set_it():
    sim = Id003Simulator(version=None)
    assert ask(sim, p.VERSION_REQUEST) == INVALID
    assert sim.command("version") == "version none (answers INVALID COMMAND)"
    assert sim.command("version i(CHN)200-SS ID003-06V201-07 01FEB24 1A2B").startswith("version i(")
    assert p.decode_version(p.decode(ask(sim, p.VERSION_REQUEST)).data)["firmware"] == "V201-07"
    assert sim.command("version 版本").startswith("error: ")
    assert sim.command("version none").startswith("version none")
    with pytest.raises(ValueError):
        Id003Simulator(version="\x01")


# ---------------------------------------------------------------- driver over a pty
def test_driver_reads_the_version_at_start_up(sim, make_driver):
    events = Events()
    driver = make_driver(sim, events)
    assert isinstance(driver, Identified)
    events.wait(PowerUp, condition="normal")
    wait_until(lambda: "firmware" in driver.identity(), what="version read")
    assert driver.identity() == {"protocol": "id003", **p.decode_version(VERSION.encode())}
    assert driver.identity()["firmware"] == "V150-51"
    # the unit was swapped for another during a power cut: the new start-up reads the new one
    sim.command("version i(CHN)200-SS ID003-06V201-07 01FEB24 1A2B")
    sim.command("power-cycle")
    events.wait(PowerUp, count=2, condition="normal")
    wait_until(lambda: driver.identity().get("firmware") == "V201-07", what="new version read")


def test_an_older_unit_without_a_version_still_takes_money(tmp_path, make_driver):
    sim = Id003Simulator(state_path=tmp_path / "bv.json", version=None)
    sim.start_on_pty()
    try:
        events = Events()
        driver = make_driver(sim, events)
        events.wait(PowerUp, condition="normal")
        driver.enable(ALL_CNY)
        wait_until(lambda: "inhibit=off" in sim.status_line(), what="acceptance enabled")
        assert driver.identity() == {"protocol": "id003"}
        insert_and_escrow(sim, events, 20)
        driver.stack()
        assert events.wait(NoteCredited).denomination_minor == 2000
    finally:
        sim.stop()


def test_settings_the_driver_wrote_read_back_over_the_pty(sim, make_driver):
    events = Events()
    driver = make_driver(sim, events)
    events.wait(PowerUp, condition="normal")
    driver.enable(ALL_CNY)
    wait_until(lambda: "inhibit=off" in sim.status_line(), what="acceptance enabled")
    driver.stop()  # leaves the acceptor inhibited; the port is the raw host's now
    nudge_pty(sim.port_path)  # a pty refuses a second 8E1 open unless nudged (drivers/ptypair)
    host = Id003Host(sim.port_path)
    try:
        got = p.decode_setting_status(host.ask(p.STATUS_ENABLE), p.STATUS_ENABLE)
        assert p.enabled_codes(got) == frozenset(p.CNY_CODE_VALUES)
        assert host.ask(p.STATUS_INHIBIT) == p.Frame(p.STATUS_INHIBIT, b"\x01")
        assert host.ask(p.STATUS_DIRECTION) == p.Frame(p.STATUS_DIRECTION, b"\x00")
        assert host.ask(p.VERSION_REQUEST).encode() == h(VERSION_ANSWER)
    finally:
        host.close()
