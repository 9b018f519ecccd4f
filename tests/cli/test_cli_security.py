"""On-box security as someone with a shell would try it (docs/security.md), through the real
command line in a fresh folder with umask 022: every file the terminal makes is 0600 in 0700
folders; a database or key file others can read is refused; trivial PINs are refused; 8
parallel wrong-PIN attempts are serialised; a chain re-hashed without the key fails
``kiosk audit verify``; a whole journey logged at debug level leaks no account, card or token."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from billing_server.seed import DEMO_ACCOUNTS, DEMO_CARDS
from tests.billing_server.conftest import TEST_TOKEN
from tests.staff.test_security_staff import tamper

PIN = "402817"


def kiosk(*args: str, cwd: Path, stdin: str = "", timeout: float = 120) -> subprocess.CompletedProcess:
    """``kiosk …`` in ``cwd`` as a shell with umask 022 would run it."""
    return subprocess.run([sys.executable, "-m", "kiosk", *args], input=stdin, text=True,
                          capture_output=True, timeout=timeout, cwd=cwd,
                          preexec_fn=lambda: os.umask(0o022))


def one_line(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture
def home(tmp_path) -> Path:
    folder = tmp_path / "fresh"
    folder.mkdir()
    return folder


def add_alice(home: Path, *extra: str) -> None:
    added = kiosk("staff", "add", "alice", "--role", "operator", "--db", "var/kiosk.db", *extra,
                  cwd=home, stdin=f"{PIN}\n")
    assert added.returncode == 0, added.stderr


def test_everything_the_terminal_creates_is_private(home, billing_server):
    add_alice(home)  # in a fresh folder: the command makes the folders it needs
    sim = kiosk("simulate", "--sessions", "2", "--db", "var/kiosk.db", "--api", billing_server.url,
                "--enrol-token", TEST_TOKEN, cwd=home)
    assert sim.returncode == 0, sim.stderr
    made = sorted(home.rglob("*"))
    names = {p.name for p in made}
    assert {"kiosk.db", "audit.key", "journal-highwater.json"} <= names, names
    wrong = [f"{p.relative_to(home)} {stat.S_IMODE(p.stat().st_mode):04o}" for p in made
             if stat.S_IMODE(p.stat().st_mode) != (0o700 if p.is_dir() else 0o600)]
    assert wrong == []


def test_a_database_or_key_file_others_can_read_is_refused(home):
    add_alice(home)
    os.chmod(home / "var" / "kiosk.db", 0o644)
    refused = kiosk("staff", "list", "--db", "var/kiosk.db", cwd=home)
    assert refused.returncode == 2 and "chmod 600" in one_line(refused)
    (home / "shared.toml").write_text('[kiosk]\ndb = "var/kiosk.db"\nstate_dir = "var/devices"\n'
                                      'allow_shared_files = true\n')
    assert kiosk("staff", "list", "--config", "shared.toml", cwd=home).returncode == 0
    os.chmod(home / "var" / "kiosk.db", 0o600)
    os.chmod(home / "var" / "devices" / "keys" / "audit.key", 0o640)
    refused = kiosk("audit", "verify", "--db", "var/kiosk.db", cwd=home)
    assert refused.returncode == 2 and "audit key file" in one_line(refused)


@pytest.mark.parametrize("pin, why", [("1357", "at least 6 digits"),
                                      ("111111", "one digit repeated")])
def test_staff_add_refuses_trivial_pins_in_one_line(home, pin, why):
    refused = kiosk("staff", "add", "bob", "--role", "operator", "--db", "var/kiosk.db",
                    cwd=home, stdin=f"{pin}\n")
    assert refused.returncode == 1 and why in one_line(refused)


def test_scrypt_cost_comes_from_the_config_with_a_floor(home):
    (home / "k.toml").write_text('[kiosk]\ndb = "var/kiosk.db"\n[staff]\nscrypt_n = 32768\n')
    add_alice(home, "--config", "k.toml")
    stored = sqlite3.connect(home / "var" / "kiosk.db").execute(
        "SELECT pin_hash FROM staff_users").fetchone()[0]
    assert stored.startswith("scrypt$32768$8$1$")
    (home / "cheap.toml").write_text('[staff]\nscrypt_n = 1024\n')
    refused = kiosk("staff", "list", "--config", "cheap.toml", cwd=home)
    assert refused.returncode == 2 and "staff.scrypt_n" in one_line(refused)


def test_parallel_wrong_pins_are_serialised(home):
    (home / "k.toml").write_text('[kiosk]\ndb = "var/kiosk.db"\n[staff]\nscrypt_n = 32768\n'
                                 'free_attempts = 3\n')
    add_alice(home, "--config", "k.toml")
    procs = [subprocess.Popen([sys.executable, "-m", "kiosk", "report", "daily", "--user", "alice",
                               "--config", "k.toml"], cwd=home, text=True, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(8)]
    for p in procs:
        p.stdin.write("999999\n")
        p.stdin.close()
    outcomes = [p.wait(timeout=120) for p in procs]
    errors = [p.stderr.read() for p in procs]
    assert outcomes == [1] * 8, errors
    db = sqlite3.connect(home / "var" / "kiosk.db")
    evaluated = db.execute("SELECT count(*) FROM audit_log WHERE action = 'login_failed'").fetchone()[0]
    locked = db.execute("SELECT count(*) FROM audit_log WHERE action = 'login_locked_out'").fetchone()[0]
    assert evaluated == 3 and locked == 5, (evaluated, locked)
    assert sum("bad_pin" in e for e in errors) == 3 and sum("locked_out" in e for e in errors) == 5


def test_a_copy_rehashed_without_the_key_fails_audit_verify(home):
    (home / "k.toml").write_text('[kiosk]\ndb = "var/kiosk.db"\n[staff]\nscrypt_n = 32768\n')
    add_alice(home, "--config", "k.toml")
    for _ in range(3):
        wrong = kiosk("report", "daily", "--user", "alice", "--config", "k.toml", cwd=home,
                      stdin="999999\n")
        assert wrong.returncode == 1
    ok = kiosk("audit", "verify", "--db", "var/kiosk.db", cwd=home)
    assert ok.returncode == 0 and "intact: 4 entries" in ok.stdout, ok.stdout + ok.stderr
    shutil.copy2(home / "var" / "kiosk.db", home / "var" / "copy.db")  # beside it: same key
    tamper(home / "var" / "copy.db", "DELETE FROM audit_log WHERE action = 'login_failed'",
           "DELETE FROM login_throttle", rehash=True)
    broken = kiosk("audit", "verify", "--db", "var/copy.db", cwd=home)
    assert broken.returncode == 1 and "BROKEN at entry #1" in broken.stdout, broken.stdout


def test_a_journey_logged_at_debug_level_leaks_nothing(home, billing_server):
    sim = kiosk("-v", "simulate", "--sessions", "4", "--db", "var/kiosk.db", "--api",
                billing_server.url, "--enrol-token", TEST_TOKEN, cwd=home)
    assert sim.returncode == 0, sim.stderr[-2000:]
    log = sim.stderr
    assert "urllib3.connectionpool" in log and "/v1/accounts/" in log  # the lines that used to leak
    secrets = ([a.account_no for a in DEMO_ACCOUNTS] + list(DEMO_CARDS) + [TEST_TOKEN])
    leaked = [s for s in secrets if s in log]
    assert leaked == [], [line for line in log.splitlines() if any(s in line for s in leaked)][:5]
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", log)  # no phone number either
