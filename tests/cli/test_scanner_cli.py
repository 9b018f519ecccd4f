"""The scanner as staff meet it: ``[devices.scanner]`` and ``[scanner]`` in the config (one line
naming the key for anything wrong), ``kiosk sim scanner`` on a pty for any host program, and
``kiosk devices`` reporting it."""

from __future__ import annotations

import json

import pytest
import serial

from drivers.scanner.serial2d import protocol as p
from kiosk.config import ConfigError, config_from_dict
from tests.cli.conftest import kiosk
from tests.cli.test_cli_devices import bench  # noqa: F401 - a ``kiosk sim`` process


def refused(raw: dict, *keys: str) -> str:
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw)
    msg = str(info.value)
    assert "\n" not in msg and all(key in msg for key in keys), msg
    return msg


def test_scanner_options_from_the_config() -> None:
    cfg = config_from_dict({"devices": {"scanner": {
        "url": "/dev/ttyUSB3", "prefix": "\u0002", "suffix": "\u0003", "aim": True,
        "debounce_ms": 800, "trigger": "serial", "baudrate": 115200, "max_length": 64}}})
    dev = cfg.devices["scanner"]
    assert dev.protocol == "serial2d" and dev.url == "/dev/ttyUSB3"
    assert dev.options.framing() == p.Framing(b"\x02", b"\x03", True, 64)
    assert (dev.options.debounce_ms, dev.options.trigger) == (800, "serial")


@pytest.mark.parametrize("key, value", [
    ("prefix", "é"), ("prefix", "123456789"), ("suffix", 3), ("aim", "yes"),
    ("debounce_ms", 60_001), ("max_length", 4), ("trigger", "hands-free"), ("baudrate", 4800),
    ("protocol", "newland"), ("prefx", "x"),
])
def test_bad_scanner_options_are_one_line(key: str, value: object) -> None:
    refused({"devices": {"scanner": {key: value}}}, f"devices.scanner.{key}")


def test_the_bill_pattern_from_the_config() -> None:
    cfg = config_from_dict({"scanner": {"bill_pattern": r"B(?P<account>\d{10})"}})
    assert cfg.scanner.bill_pattern == r"B(?P<account>\d{10})"
    refused({"scanner": {"bill_pattern": r"B\d{10}"}}, "scanner.bill_pattern", "account")
    refused({"scanner": {"payment_code_pattern": "[0-9"}}, "scanner.payment_code_pattern")
    refused({"scanner": {"bill": "x"}}, "scanner.bill")
    refused({"scanner": "DF"}, "scanner")


def test_bad_scanner_config_is_exit_2_with_one_line(tmp_path) -> None:
    path = tmp_path / "k.toml"
    path.write_text('[scanner]\nbill_pattern = "DF[0-9]{10}"\n', "utf-8")
    proc = kiosk("devices", "--config", str(path), timeout=60)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "scanner.bill_pattern" in proc.stderr


def test_sim_scanner_frames_codes_and_answers_host_commands(bench) -> None:  # noqa: F811
    sim = bench("scanner")
    port_line = sim.line()
    assert port_line.startswith("PORT ")
    with serial.Serial(port_line.split()[1], 9600, timeout=5) as host:
        assert sim.ask("scan DF3101000010202611").startswith("code DF")
        assert host.read_until(b"\r") == b"DF3101000010202611\r"
        host.write(p.menu_command("TRGMOD0"))
        assert host.read(9) == b"TRGMOD0\x06!"
        assert "held" in sim.ask("scan 134567890123456789")
        host.write(p.TRIGGER_ON)
        assert host.read_until(b"\r") == b"134567890123456789\r"
        assert sim.ask("garbage").startswith("sent")
        assert host.read_until(b"\r").endswith(b"B\r")
        assert sim.ask("bogus").startswith("error: ")
        assert sim.ask("counters") == "codes sent 2"
    sim.proc.stdin.close()
    assert sim.wait() == 0


def test_devices_reports_the_scanner() -> None:
    proc = kiosk("devices", "--json", timeout=60)
    assert proc.returncode == 0, proc.stderr
    (dev,) = [d for d in json.loads(proc.stdout)["devices"] if d["name"] == "scanner"]
    assert (dev["protocol"], dev["status"], dev["url"]) == ("serial2d", "ok", "sim://scanner")
    assert dev["identity"]["protocol"] == "serial2d"
