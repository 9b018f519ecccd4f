"""The scanner simulator answers Honeywell's host commands byte for byte (the vectors), holds a
code in manual trigger mode until SYN T CR, and its bench commands frame what they send."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drivers.scanner.serial2d import protocol as p
from drivers.scanner.serial2d.simulator import GARBAGE, Serial2dSimulator

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "serial2d.json")
                     .read_text("utf-8"))


@pytest.mark.parametrize("vector", VECTORS["menu"], ids=lambda v: v["body"])
def test_menu_commands_answer_like_the_guide(vector: dict) -> None:
    sim = Serial2dSimulator()
    if vector["body"] == "TRGMOD?":
        sim.on_bytes(p.menu_command("TRGMOD3"))
    assert sim.on_bytes(bytes.fromhex(vector["command"])) == bytes.fromhex(vector["reply"])


def test_a_command_split_over_reads_is_answered_once_whole() -> None:
    sim = Serial2dSimulator()
    wire = p.menu_command("TRGSTO5000")
    assert sim.on_bytes(wire[:2]) == b"" and sim.on_bytes(wire[2:7]) == b""
    assert sim.on_bytes(wire[7:]) == b"TRGSTO5000\x06!"
    assert sim.on_bytes(p.menu_command("TRGSTO?", ".")) == b"TRGSTO5000\x06."
    assert sim.on_bytes(p.menu_command("TRGMOD*")) == b"TRGMOD0|3\x06!"
    assert sim.on_bytes(p.menu_command("TRGMOD^")) == b"TRGMOD0\x06!"


def test_manual_trigger_holds_the_code_until_the_host_triggers() -> None:
    sim = Serial2dSimulator(trigger_mode="0")
    assert "held" in sim.command("scan DF3101000010202611")
    assert sim.on_tick() == b""
    assert sim.on_bytes(p.TRIGGER_ON) == b"DF3101000010202611\r"
    assert sim.on_bytes(p.TRIGGER_ON) == b"" and sim.triggered  # reading, nothing in view
    sim.command("scan ABC")
    assert sim.on_tick() == b"ABC\r" and not sim.triggered  # one read per trigger
    sim.on_bytes(p.TRIGGER_ON + p.TRIGGER_OFF)
    assert not sim.triggered


def test_bench_commands_frame_what_they_send(tmp_path: Path) -> None:
    sim = Serial2dSimulator(state_path=tmp_path / "s.json", prefix=b"\x02", aim=True)
    assert sim.command("scan DF3101000010202611").startswith("code DF")
    assert sim.on_tick() == b"\x02]Q1DF3101000010202611\r"
    sim.command("crlf on")
    sim.command("repeat 2")
    assert sim.on_tick() == b"\x02]Q1DF3101000010202611\r\n" * 2
    sim.command("garbage")
    sim.command("partial 1234")
    assert sim.on_tick() == GARBAGE + b"\x021234"
    sim.command("long 5")
    assert sim.on_tick() == b"\x02]Q199999\r\n"
    assert sim.command("counters") == "codes sent 3"
    assert Serial2dSimulator(state_path=tmp_path / "s.json").codes_sent == 3
    assert "presentation mode" in sim.command("status")


@pytest.mark.parametrize("bad", ["scan", "scan a b c", "repeat", "long x", "crlf maybe",
                                 "partial", "bogus"])
def test_bad_bench_commands_are_one_error_line(bad: str) -> None:
    assert Serial2dSimulator().command(bad).startswith("error: ")


def test_payment_codes_are_masked_at_the_bench() -> None:
    answer = Serial2dSimulator().command("scan 134567890123456789")
    assert "134567890123456789" not in answer and answer.endswith("6789 sent")


def test_spy_around_sim_dumps_a_scanner_exchange(tmp_path: Path) -> None:
    import serial

    from drivers.transport import SimulatorHub

    dump = tmp_path / "wire.txt"
    hub = SimulatorHub(str(tmp_path))
    port = serial.serial_for_url(f"spy://sim://scanner?file={dump}", baudrate=9600, timeout=5)
    try:
        port.write(p.menu_command("TRGMOD?"))
        assert port.read(9) == b"TRGMOD3\x06!"
        assert hub.get("serial2d") is hub.get("scanner")  # its device's default protocol
        assert hub.get("scanner").state_file.path == tmp_path / "scanner.json"
    finally:
        port.close()
        hub.stop()
    lines = dump.read_text().splitlines()
    assert any(" TX " in line and "16 4D 0D 54 52 47" in line for line in lines)
    assert any(" RX " in line and "33 06  21" in line for line in lines)  # spy groups by 8
