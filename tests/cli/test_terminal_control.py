"""Staff tools beside a running terminal (docs/architecture.md, Staff tools and the running
terminal): a headless ``kiosk demo --stay`` in a subprocess holds the simulated devices and
serves its control socket; ``kiosk faults clear``, ``kiosk diag --json``, ``kiosk sync --once``,
``kiosk queue requeue`` and ``kiosk staff card`` run as subprocesses beside it."""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kiosk.services.control import ControlUnavailable, ask, socket_path
from kiosk.staff.audit import AuditLog
from kiosk.staff.audit_keys import AuditKeys, key_path
from kiosk.staff.auth import StaffAuth
from offline_queue.schema import connect
from tests.staff.conftest import CHEAP

MT_PIN, OP_PIN = "402917", "730164"
START_S = 60.0


def kiosk(cwd: Path, *args: str, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], input=stdin, text=True,
                          capture_output=True, timeout=timeout, cwd=cwd)


class Running:
    """The headless terminal: its stdout lines, bench commands, its control socket."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.db = cwd / "var" / "demo" / "kiosk.db"
        self.socket = socket_path(cwd / "var" / "demo" / "devices")
        self.lines: queue.Queue[str] = queue.Queue()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk", "demo", "--headless", "--sessions", "0", "--stay"],
            cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, env={**os.environ, "KIVY_NO_ARGS": "1"})
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_line("control socket", START_S)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_line(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line with {text!r} within {timeout} s")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if text in line:
                return line

    def bench(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def status(self) -> dict:
        return ask(self.socket, {"op": "status"}, timeout=10)

    def until(self, check, timeout: float = 10.0) -> dict:
        """Poll the terminal's own state until ``check(status)`` holds (no fixed sleeps)."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if check(status):
                return status
            if time.monotonic() > deadline:
                raise AssertionError(f"terminal state never matched: {status}")
            threading.Event().wait(0.05)  # a poll interval, not an ordering assumption

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.bench("quit")
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture
def running(tmp_path):
    demo = tmp_path / "var" / "demo"
    demo.mkdir(parents=True)
    db = connect(demo / "kiosk.db")
    # the key the running demo terminal will find under its state folder
    keys = AuditKeys(key_path(demo / "devices"))
    auth = StaffAuth(db, AuditLog(db, keys=keys), params=CHEAP)
    auth.add_user("mt1", "maintenance", MT_PIN, "test")
    auth.add_user("op1", "operator", OP_PIN, "test")
    db.conn.close()
    term = Running(tmp_path)
    try:
        yield term
    finally:
        term.stop()


def test_faults_clear_and_diag_beside_a_running_terminal(running):
    db = ["--db", "var/demo/kiosk.db"]
    mode = stat.S_IMODE(os.stat(running.socket).st_mode)
    assert stat.S_ISSOCK(os.stat(running.socket).st_mode) and mode == 0o600

    running.bench("fault bill_validator jam")
    running.until(lambda s: s["phase"] == "out_of_service" and s["faults"])

    listed = kiosk(running.cwd, "faults", "list", "--json", *db)
    assert listed.returncode == 0, listed.stderr
    assert [(f["device"], f["code"]) for f in json.loads(listed.stdout)] == [("bill_validator", "jam")]

    # Without the PIN nothing is cleared: the terminal checks it (lockout and audit included).
    wrong = kiosk(running.cwd, "faults", "clear", "bill_validator", "jam", "--user", "mt1", *db,
                  stdin="999999\n")
    assert wrong.returncode == 1 and "bad_pin" in wrong.stderr
    assert running.status()["phase"] == "out_of_service"

    cleared = kiosk(running.cwd, "faults", "clear", "bill_validator", "jam", "--user", "mt1", *db,
                    stdin=MT_PIN + "\n")
    assert cleared.returncode == 0, cleared.stderr
    assert "running terminal" in cleared.stdout
    # The unlock was queued on the deciding thread before the answer: the very next look at
    # the running terminal finds it back in service (well within the second promised).
    after = running.status()
    assert after["faults"] == [] and after["phase"] == "idle"

    diag = kiosk(running.cwd, "diag", "--json", *db)
    assert diag.returncode == 0, diag.stderr
    report = json.loads(diag.stdout)
    assert report["served_by"] == "running terminal"
    devices = {e["name"]: e for e in report["entries"] if e["kind"] == "device"}
    # the ports stay the terminal's: every device reports through it, none is "busy"
    assert set(devices) >= {"bill_validator", "card_reader", "printer"}
    assert all(e["status"] == "ok" for e in devices.values()), devices
    api = next(e for e in report["entries"] if e["name"] == "billing_api")
    assert api["status"] == "ok"  # the terminal checked its own billing server

    refused = kiosk(running.cwd, "diag", "--self-test", "printer", "--user", "mt1", *db,
                    stdin=MT_PIN + "\n")
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1

    synced = kiosk(running.cwd, "sync", "--once", *db)
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)["pending"] == 0
    requeued = kiosk(running.cwd, "queue", "requeue", *db)
    assert requeued.returncode == 0 and requeued.stdout.strip() == "requeued 0"

    audit = sqlite3.connect(running.db).execute(
        "SELECT actor, action FROM audit_log WHERE action IN ('login', 'login_failed',"
        " 'fault_cleared') ORDER BY seq").fetchall()
    assert ("mt1", "login_failed") in audit and ("mt1", "fault_cleared") in audit


def test_staff_card_registered_through_the_running_terminal(running):
    card = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "staff", "card", "op1", "--db", "var/demo/kiosk.db",
         "--wait", "30"], cwd=running.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        assert card.stdout is not None
        assert "tap the card" in card.stdout.readline()
        # The request reaches the terminal before the tap: poll until it waits for a card.
        running.until(lambda s: s["card_waiting"], timeout=30)
        running.bench("card")  # the bench taps the next demo card on the simulated reader
        out, err = card.communicate(timeout=40)
    finally:
        if card.poll() is None:
            card.kill()
    assert card.returncode == 0, err
    rows = sqlite3.connect(running.db).execute("SELECT card_mac, user_id FROM staff_cards").fetchall()
    assert len(rows) == 1 and rows[0][1] == "op1"
    from billing_server.seed import DEMO_CARDS

    assert all(uid not in rows[0][0] and uid.lower() not in rows[0][0] for uid in DEMO_CARDS)
    # the tap was the staff tool's: no resident session started from it
    assert running.status()["phase"] == "idle"


def test_no_terminal_means_the_database(tmp_path):
    """A socket file left by a crash answers nothing: the tools use the database."""
    demo = tmp_path / "var" / "demo"
    (demo / "devices").mkdir(parents=True)
    import socket as so

    stale = so.socket(so.AF_UNIX, so.SOCK_STREAM)
    stale.bind(str(socket_path(demo / "devices")))
    stale.close()  # bound, never listening: connect is refused
    with pytest.raises(ControlUnavailable):
        ask(socket_path(demo / "devices"), {"op": "ping"})
    listed = kiosk(tmp_path, "faults", "list", "--db", "var/demo/kiosk.db")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == "no locking fault"


def _dead_payment(db_path: Path, kiosk_id: str, txn: str) -> None:
    """A payment the billing system refused for good (as a 422 leaves it)."""
    from kiosk.flow.account import make_account_number
    from offline_queue.journal import Journal

    db = connect(db_path)
    Journal(db, kiosk_id).commit_payment(txn, make_account_number("987650001"), {1000: 1}, {},
                                         1000, offline=True)
    db.execute("UPDATE outbox SET state = 'DEAD', status_code = 422 WHERE idem_key = ?", (txn,))
    db.conn.close()


def test_readdress_through_the_running_terminal_reaches_the_server(running):
    from billing_server.seed import DEMO_ACCOUNTS

    db = ["--db", "var/demo/kiosk.db"]
    _dead_payment(running.db, "KIOSK-0001", "S9")
    done = kiosk(running.cwd, "queue", "readdress", "S9", "--account",
                 DEMO_ACCOUNTS[0].account_no, "--user", "op1", *db, stdin=OP_PIN + "\n")
    assert done.returncode == 0, done.stderr
    assert "S9.R1" in done.stdout and DEMO_ACCOUNTS[0].account_no not in done.stdout
    synced = kiosk(running.cwd, "sync", "--once", *db)
    assert synced.returncode == 0, synced.stderr
    states = dict(sqlite3.connect(running.db).execute(
        "SELECT idem_key, state FROM outbox WHERE kind = 'payment'").fetchall())
    assert states == {"S9": "DEAD", "S9.R1": "DELIVERED"}
    again = kiosk(running.cwd, "queue", "refund", "S9", "--phone", "13800138000", "--user", "op1",
                  *db, stdin=OP_PIN + "\n")
    assert again.returncode == 1 and "already resolved" in again.stderr


def test_readdress_and_refund_on_the_database_when_no_terminal_runs(tmp_path):
    from billing_server.seed import DEMO_ACCOUNTS

    path = tmp_path / "k.db"
    db = connect(path)
    keys = AuditKeys(key_path(tmp_path / "devices"))  # the state folder beside --db
    StaffAuth(db, AuditLog(db, keys=keys), params=CHEAP).add_user("op1", "operator", OP_PIN, "test")
    db.conn.close()
    _dead_payment(path, "KIOSK-0001", "S1")
    _dead_payment(path, "KIOSK-0001", "S2")
    args = ["--db", str(path)]
    bad = kiosk(tmp_path, "queue", "readdress", "S1", "--account", "1234567890", "--user", "op1",
                *args, stdin=OP_PIN + "\n")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    done = kiosk(tmp_path, "queue", "readdress", "S1", "--account", DEMO_ACCOUNTS[0].account_no,
                 "--user", "op1", *args, stdin=OP_PIN + "\n")
    assert done.returncode == 0, done.stderr
    body = sqlite3.connect(path).execute(
        "SELECT body, state FROM outbox WHERE idem_key = 'S1.R1'").fetchone()
    assert json.loads(body[0])["readdressed_from"] == "S1" and body[1] == "PENDING"
    refund = kiosk(tmp_path, "queue", "refund", "S2", "--phone", "13800138000", "--user", "op1",
                   *args, stdin=OP_PIN + "\n")
    assert refund.returncode == 0 and "138******00" in refund.stdout
    assert "13800138000" not in refund.stdout + refund.stderr
    requeued = kiosk(tmp_path, "queue", "requeue", *args)
    assert requeued.stdout.strip() == "requeued 0"  # neither is ever sent again
    paid = kiosk(tmp_path, "queue", "refund", "S2", "--paid", "--user", "op1", *args,
                 stdin=OP_PIN + "\n")
    assert paid.returncode == 0, paid.stderr
