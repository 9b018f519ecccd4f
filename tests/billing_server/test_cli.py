"""The server's command line, as a process: ``billing-server`` and ``kiosk billing-server`` take
the same options, and bad input is one line naming the option and the bad value, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: the standalone command and the kiosk's thin entry to it
ENTRIES = {"billing-server": ["-m", "billing_server"],
           "kiosk billing-server": ["-m", "kiosk", "billing-server"]}


def run(entry: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *ENTRIES[entry], *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("args,names", [
    (["--fault", "bogus"], ["--fault", "'bogus'", "unknown fault mode"]),
    (["--fault", "drop:x"], ["--fault", "'drop:x'"]),
    (["--fault", "delay:-1"], ["--fault", "'delay:-1'", "seconds"]),
    (["--port", "99999"], ["--port", "'99999'"]),
    (["--port", "eighty"], ["--port", "'eighty'"]),
    (["--lookup-limit", "0"], ["--lookup-limit", "'0'"]),
    (["--enrol-token", "short"], ["--enrol-token", "16-128"]),
    (["--port"], ["--port", "expected one argument"]),
    (["--bogus"], ["unrecognized arguments", "--bogus"]),
    (["-v", "--config", "ignored.toml", "--port", "-5"], ["--port", "'-5'"]),
    (["settlement", "--kiosk-id", "K1", "--date", "2026-01-01"], ["--db"]),
    (["settlement", "--db", "x.db", "--kiosk-id", "K 1", "--date", "2026-01-01"],
     ["--kiosk-id", "'K 1'"]),
    (["settlement", "--db", "x.db", "--kiosk-id", "K1", "--date", "2026-02-30"],
     ["--date", "not a real calendar date"]),
])
def test_bad_input_is_one_line_naming_option_and_value(entry, args, names, tmp_path):
    proc = run(entry, *[a.replace("x.db", str(tmp_path / "x.db")) for a in args])
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert all(name in lines[0] for name in names), lines[0]
    assert lines[0].startswith(entry.split()[0]) and "usage" not in lines[0]
    assert proc.stdout == ""


@pytest.mark.parametrize("entry", ENTRIES)
def test_help_shows_the_server_options(entry):
    proc = run(entry, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: {entry} ")
    for option in ("--port", "--fault", "--enrol-token", "--lookup-limit", "--tls-cert",
                   "settlement"):
        assert option in proc.stdout
    proc = run(entry, "settlement", "--help")
    assert proc.returncode == 0 and "--kiosk-id" in proc.stdout


def test_the_kiosk_lists_the_server_command():
    proc = subprocess.run([sys.executable, "-m", "kiosk", "--help"], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0 and "billing-server" in proc.stdout
