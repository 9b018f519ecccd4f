"""``kiosk sim`` driven as a bench tool by a plain ID-003 host over its pty, and ``kiosk devices``
reporting every configured device's health -- as subprocesses, the way staff run them."""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
import time

import pytest
import serial

from drivers.bill_validator.id003 import protocol as p
from kiosk.cli.devices import serve_commands
from tests.cli.conftest import ROOT, kiosk

H = bytes.fromhex
RESET = H("FC 05 40 2B 15")
STATUS_REQ = H("FC 05 11 27 56")
ACK = H("FC 05 50 AA 05")
ENABLE_ALL = H("FC 07 C0 00 00 2D B5")
INHIBIT_OFF = H("FC 06 C3 00 04 D6")


class Bench:
    """A ``kiosk sim`` process: lines to its stdin, lines from its stdout with a deadline."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk", "sim", *args], cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self._buf = b""

    def line(self, timeout: float = 10.0) -> str:
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise AssertionError(f"no line from kiosk sim; got {self._buf!r}")
            chunk = os.read(fd, 4096)
            if not chunk:
                raise AssertionError(f"kiosk sim closed stdout; stderr: {self.stderr()}")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode()

    def ask(self, command: str) -> str:
        self.proc.stdin.write(command.encode() + b"\n")
        self.proc.stdin.flush()
        return self.line()

    def wait(self, timeout: float = 10.0) -> int:
        return self.proc.wait(timeout)

    def stderr(self) -> str:
        return self.proc.stderr.read().decode() if self.proc.poll() is not None else "(running)"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            f.close()


@pytest.fixture
def bench():
    started: list[Bench] = []

    def start(*args: str) -> Bench:
        b = Bench(*args)
        started.append(b)
        return b

    yield start
    for b in started:
        b.kill()


def exchange(port: serial.Serial, frame: bytes, size: int) -> bytes:
    port.write(frame)
    return port.read(size)


def one_status_frame(raw: bytes) -> p.Frame:
    reader = p.FrameReader()
    frames = reader.feed(raw)
    assert len(frames) == 1 and reader.pending == 0, f"not one frame: {raw.hex(' ')}"
    assert frames[0].cmd in p.STATUS_NAMES and p.status_data_ok(frames[0])
    return frames[0]


# ------------------------------------------------------------ kiosk sim
def test_sim_bill_validator_answers_a_plain_id003_host(bench):
    b = bench("bill-validator")
    first = b.line()
    assert first.startswith("PORT /dev/"), first
    path = first.split(" ", 1)[1]
    # Opened once at 8E1 and never reconfigured, as a vendor tool would (see the pty notes).
    with serial.serial_for_url(path, baudrate=9600, parity=serial.PARITY_EVEN, timeout=0.5) as port:
        assert exchange(port, RESET, 5) == ACK
        status = one_status_frame(exchange(port, STATUS_REQ, 5))
        assert status.cmd == p.INITIALIZE
        assert exchange(port, ENABLE_ALL, 7) == ENABLE_ALL  # setting commands are echoed
        assert exchange(port, INHIBIT_OFF, 6) == INHIBIT_OFF
        assert b.ask("insert 10") == "ok: inserted 10 yuan"
        # The host sees the note: accepting, then escrow of code 0x63 (10 yuan).
        seen = []
        deadline = time.monotonic() + 5
        while p.ESCROW not in seen and time.monotonic() < deadline:
            port.write(STATUS_REQ)
            head = port.read(2)
            frame = one_status_frame(head + port.read(head[1] - 2))
            seen.append(frame.cmd)
        assert seen[-1] == p.ESCROW and frame.data == b"\x63"
    counters = json.loads(b.ask("counters"))
    assert counters["total_notes"] == 0  # escrow is not money
    assert b.ask("bogus").startswith("error:")
    assert b.ask("help").startswith("commands:")
    assert b.ask("") != "PORT"  # even an empty line gets its one line
    b.proc.stdin.write(b"quit\n")
    b.proc.stdin.flush()
    assert b.wait() == 0
    assert b.proc.stdout.read() == b""  # nothing after quit
    assert "Traceback" not in b.stderr()


def test_sim_ends_cleanly_at_end_of_input(bench):
    b = bench("card-reader")
    assert b.line().startswith("PORT ")
    assert b.ask("present 0102030405").startswith("card 0102030405")
    b.proc.stdin.close()
    assert b.wait() == 0


def test_sim_state_file_keeps_counters_between_runs(bench, tmp_path):
    state = tmp_path / "coins.json"
    b = bench("coin-acceptor", "--state", str(state))
    assert b.line().startswith("PORT ")
    # Nobody enabled the acceptor: the coin is refused, and that is counted.
    assert b.ask("coin 50").startswith("rejected 50 fen")
    assert "rejected 1" in b.ask("counters")
    b.proc.stdin.close()
    assert b.wait() == 0
    again = bench("coin-acceptor", "--protocol", "cctalk", "--state", str(state))
    assert again.line().startswith("PORT ")
    assert "event counter 1;" in again.ask("counters")
    assert "rejected 1" in again.ask("counters")


@pytest.mark.parametrize("args, needle", [
    (["toaster"], "unknown device 'toaster'"),
    (["printer", "--protocol", "id003"], "no 'id003' simulator"),
    (["bill-validator", "--protocol", "pn532"], "no 'pn532' simulator"),
    (["coin-acceptor", "--state", "/nonexistent-dir/x.json"], "does not exist"),
])
def test_sim_bad_input_is_one_line_and_exit_2(args, needle):
    proc = kiosk("sim", *args, timeout=30)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr


def test_serve_commands_one_line_per_command_whatever_the_simulator_does():
    class Sim:
        def command(self, line: str) -> str:
            if line == "crash":
                raise RuntimeError("bench bug")
            if line == "multi":
                return "first\nsecond"
            return f"echo {line}"

    out = io.StringIO()
    serve_commands(Sim(), io.StringIO("a\ncrash\nmulti\n\nquit\nnever\n"), out)
    assert out.getvalue().splitlines() == [
        "echo a", "error: RuntimeError: bench bug", "first second", "echo ",
    ]


# ------------------------------------------------------------ kiosk devices
def test_devices_json_default_config_all_simulators_ok():
    proc = kiosk("devices", "--json", timeout=60)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert isinstance(report["ports"], list)
    assert all("device" in port for port in report["ports"])
    devices = {d["name"]: d for d in report["devices"]}
    assert set(devices) == {"bill_validator", "coin_acceptor", "card_reader", "printer", "scanner"}
    for dev in devices.values():
        assert set(dev) == {"name", "url", "protocol", "status", "reason", "identity"}
        assert dev["status"] == "ok", dev
        assert dev["url"].startswith("sim://")
    assert devices["bill_validator"]["protocol"] == "id003"


def test_devices_missing_port_is_a_fault_with_reason_others_ok(tmp_path):
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text('[devices.bill_validator]\nurl = "/dev/ttyNOPE"\n')
    proc = kiosk("devices", "--json", "--config", str(cfg), timeout=60)
    assert proc.returncode == 0, proc.stderr  # a report, not a failure
    devices = {d["name"]: d for d in json.loads(proc.stdout)["devices"]}
    bv = devices.pop("bill_validator")
    assert bv["status"] == "fault" and bv["url"] == "/dev/ttyNOPE"
    assert "/dev/ttyNOPE" in bv["reason"]
    assert {d["status"] for d in devices.values()} == {"ok"}


def test_devices_text_report_and_bad_config(tmp_path):
    proc = kiosk("devices", timeout=60)
    assert proc.returncode == 0, proc.stderr
    for name in ("serial ports:", "bill_validator", "coin_acceptor", "card_reader", "printer"):
        assert name in proc.stdout
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[devices.bill_validator]\nprotocol = "mdb"\n')
    proc = kiosk("devices", "--config", str(cfg), timeout=30)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "devices.bill_validator.protocol" in lines[0]
