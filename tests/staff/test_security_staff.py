"""On-box security of the staff parts (docs/security.md): the PIN policy, a lockout whose
success clears only its own id and whose terminal-wide count decays with time, the keyed audit
chain (a chain re-hashed without the key, a lost key, pre-upgrade entries, rotation) and the
server's anchor flagging a restored older database."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat

import pytest

from kiosk.staff import audit as a
from kiosk.staff.audit import GENESIS, AuditLog, entry_hash
from kiosk.staff.audit_keys import AuditKeys, key_path
from kiosk.staff.auth import GLOBAL_KEY, LockoutPolicy, StaffAuth
from kiosk.staff.console import StaffConsole
from kiosk.staff.errors import AuditKeyError, BadPin, LockedOut, PinRejected
from kiosk.staff.heartbeat import HeartbeatService
from kiosk.staff.pins import check_new_pin
from offline_queue.journal import Journal
from offline_queue.outbox import Outbox
from offline_queue.schema import SCHEMA_VERSION, MIGRATIONS, _split, connect
from tests.billing_server.conftest import sign_as_test_kiosk
from tests.staff.conftest import CHEAP, OP_PIN, make_config


# ---------------------------------------------------------------- PIN policy
@pytest.mark.parametrize("pin, why", [
    ("1357", "at least 6 digits"), ("111111", "one digit repeated"),
    ("123456", "consecutive"), ("987654", "consecutive"), ("890123", "consecutive"),
    ("121212", "pattern"), ("123123", "pattern"), ("12345a", "digits only"),
    ("1" * 13, "at most 12"),
])
def test_trivial_pins_are_refused_with_the_reason(pin, why):
    with pytest.raises(PinRejected, match=why):
        check_new_pin(pin)


def test_a_pin_may_not_be_the_staff_ids_digits():
    with pytest.raises(PinRejected, match="staff id"):
        check_new_pin("482019", "op482019")
    with pytest.raises(PinRejected, match="staff id"):
        check_new_pin("730482", "tech482")
    assert check_new_pin("730519", "tech482") == "730519"
    assert check_new_pin("258046") == "258046"


# ---------------------------------------------------------------- lockout
def throttle(db, key):
    row = db.execute("SELECT failures FROM login_throttle WHERE key = ?", (key,)).fetchone()
    return row[0] if row else 0


def test_a_success_clears_only_its_own_id_and_not_the_terminal_count(console, db):
    for _ in range(2):
        with pytest.raises(BadPin):
            console.login("mt1", "000000")
    console.login("op1", OP_PIN)
    assert throttle(db, "user:mt1") == 2  # op1's success is not mt1's
    assert throttle(db, GLOBAL_KEY) == 2  # nor the terminal's: that decays with time
    assert throttle(db, "user:op1") == 0


def test_the_terminal_wide_count_decays_with_time(db, console, clock):
    policy = LockoutPolicy(global_free_attempts=4, global_decay_s=600)
    auth = StaffAuth(db, console.audit, clock=clock.time, params=CHEAP, policy=policy)
    for i in range(4):
        with pytest.raises(BadPin):
            auth.login(f"guess{i}", "246801")
    with pytest.raises(LockedOut):
        auth.login("op1", OP_PIN)
    clock.advance(30)  # the wait is over, but four failures are still remembered …
    with pytest.raises(BadPin):
        auth.login("guess9", "246801")
    with pytest.raises(LockedOut):
        auth.login("op1", OP_PIN)  # … so the next one locks again at once
    clock.advance(3 * 600)  # three of the five are forgotten
    auth.login("op1", OP_PIN)
    assert throttle(db, GLOBAL_KEY) == 2  # five failures, three forgotten; the success not one


def test_the_failure_is_counted_before_the_pin_is_checked(db, console, monkeypatch):
    """A process killed while scrypt runs has already paid for its attempt."""
    import kiosk.staff.auth as auth_module

    seen = []

    def spy(pin, stored):
        seen.append(throttle(db, "user:op1"))
        raise KeyboardInterrupt  # the process dies during the check

    monkeypatch.setattr(auth_module, "verify_pin", spy)
    with pytest.raises(KeyboardInterrupt):
        console.login("op1", "000000")
    assert seen == [1] and throttle(db, "user:op1") == 1


# ---------------------------------------------------------------- the keyed chain
def tamper(db_path, *sql, rehash=False):
    """Without the key: drop the guards, change rows, optionally re-hash the whole chain with
    the published unkeyed function and move the anchor to the new head."""
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TRIGGER audit_append_only_u")
    conn.execute("DROP TRIGGER audit_append_only_d")
    for statement in sql:
        conn.execute(statement)
    if rehash:
        rows = conn.execute("SELECT seq, at, actor, role, action, detail FROM audit_log"
                            " ORDER BY seq").fetchall()
        conn.execute("DELETE FROM audit_log")
        prev = GENESIS
        for new_seq, (_, at, actor, role, action, detail) in enumerate(rows, 1):
            digest = entry_hash(new_seq, at, actor, role, action, detail, prev)
            conn.execute("INSERT INTO audit_log VALUES (?,?,?,?,?,?,?,?)",
                         (new_seq, at, actor, role, action, detail, prev, digest))
            prev = digest
        conn.execute("UPDATE audit_anchor SET seq = ?, hash = ?", (len(rows), prev))
    conn.commit()
    conn.close()


def test_a_chain_rehashed_without_the_key_fails_at_its_first_entry(console, db_path):
    for _ in range(3):
        with pytest.raises(BadPin):
            console.login("op1", "000000")
    assert console.audit.verify().ok
    tamper(db_path, "DELETE FROM audit_log WHERE action = 'login_failed'",
           "DELETE FROM login_throttle", rehash=True)
    result = console.audit.verify()
    assert not result.ok and result.first_bad == 1 and "without the audit key" in result.reason


def test_the_key_file_is_private_and_one_others_can_read_is_refused(console, db_path):
    path = key_path(console.config.kiosk.state_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    os.chmod(path, 0o644)
    with pytest.raises(AuditKeyError, match="group or others"):
        console.audit.append("x", "operator", "reprint")
    assert not console.audit.verify().ok


def test_a_missing_key_is_never_silently_replaced(console, db_path):
    path = key_path(console.config.kiosk.state_dir)
    path.unlink()
    with pytest.raises(AuditKeyError, match="restore it"):
        console.audit.append("x", "operator", "reprint")
    assert not path.exists()
    assert console.audit.ensure_key("cli:test", rekey=True)  # kiosk audit new-key
    result = console.audit.verify()
    assert not result.ok and result.first_bad == 1 and "no longer has" in result.reason
    assert console.audit.entries(limit=1)[0].action == a.AUDIT_KEY_CREATED


def test_rotation_keeps_old_entries_verifiable(console):
    before = console.audit.keys.load()
    entry = console.audit.rotate_key("cli:test")
    console.audit.append("op1", "operator", "reprint", txn_id="T1")
    after = console.audit.keys.load()
    assert len(after.epochs) == 2 and after.epochs[0] == before.epochs[0]
    assert after.epochs[1].from_seq == entry.seq + 1 and console.audit.verify().ok


def v4_database(path):
    """A database as the previous version left it: schema v4 and unkeyed audit entries."""
    conn = sqlite3.connect(path, isolation_level=None)
    for step in MIGRATIONS[:4]:
        for statement in _split(step):
            conn.execute(statement)
    prev = GENESIS
    for seq in (1, 2):
        at = f"2026-11-2{seq}T09:00:00.000+08:00"
        digest = entry_hash(seq, at, "cli:root", "admin", "staff_added", "{}", prev)
        conn.execute("INSERT INTO audit_log VALUES (?,?,?,?,?,?,?,?)",
                     (seq, at, "cli:root", "admin", "staff_added", "{}", prev, digest))
        prev = digest
    conn.execute("INSERT INTO audit_anchor VALUES (1, 2, ?)", (prev,))
    conn.execute("INSERT INTO login_throttle (key, failures, locked_until) VALUES ('*', 2, 0)")
    conn.execute("PRAGMA user_version = 4")
    conn.close()


def test_a_v4_database_migrates_and_its_unkeyed_entries_still_verify(tmp_path):
    path = tmp_path / "old.db"
    v4_database(path)
    db = connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 5
    assert db.execute("SELECT value FROM meta WHERE key = 'audit_legacy_until'").fetchone() == ("2",)
    assert db.execute("SELECT failures, last_failure_at FROM login_throttle").fetchone() == (2, 0)
    log = AuditLog(db, keys=AuditKeys(key_path(tmp_path / "state")))
    log.ensure_key()  # the first start of the new version
    log.append("op1", "operator", "reprint")
    assert log.verify().ok and log.verify().count == 4
    # an entry added later with the unkeyed function does not pass for a pre-upgrade one
    tamper(path, "DELETE FROM audit_log WHERE seq > 2")
    conn = sqlite3.connect(path)
    head = conn.execute("SELECT hash FROM audit_log WHERE seq = 2").fetchone()[0]
    forged = entry_hash(3, "x", "ghost", "admin", "staff_added", "{}", head)
    conn.execute("INSERT INTO audit_log VALUES (3, 'x', 'ghost', 'admin', 'staff_added', '{}', ?, ?)",
                 (head, forged))
    conn.execute("UPDATE audit_anchor SET seq = 3, hash = ?", (forged,))
    conn.commit()
    result = log.verify()
    assert not result.ok and result.first_bad == 3


# ---------------------------------------------------------------- the server's anchor
def beat(billing_server, db, cfg) -> HeartbeatService:
    """A heartbeat service as a (re)started terminal makes it: knows nothing of the server."""
    console = StaffConsole(db, cfg, Journal(db, cfg.kiosk.id), params=CHEAP)
    return HeartbeatService(cfg.kiosk.id, Outbox(db), console.audit,
                            sign_as_test_kiosk(_probe(billing_server), cfg.kiosk.id), dict)


def _probe(billing_server):
    from kiosk.staff.billing_queries import BillingProbe

    return BillingProbe(billing_server.url)


def server_view(billing_server, kiosk_id):
    return billing_server.ledger.audit_anchor(kiosk_id)


@pytest.mark.parametrize("more_after_restore", [0, 6])
def test_an_older_database_restored_is_flagged_at_the_next_heartbeat(
        billing_server, tmp_path, console, more_after_restore):
    cfg = make_config(tmp_path / "kiosk.db", billing_server.url)
    svc = beat(billing_server, console.db, cfg)
    assert svc.send_once() and svc.audit_status["status"] == "ok"
    backup = tmp_path / "backup.db"
    console.db.conn.execute("VACUUM INTO ?", (str(backup),))  # the copy someone keeps
    for i in range(4):
        console.audit.append("op1", "operator", "reprint", txn_id=f"T{i}")
    assert svc.send_once() and svc.audit_status["status"] == "ok"
    seen = server_view(billing_server, cfg.kiosk.id)
    assert seen.seq == console.audit.tip()[0] and not seen.flagged_reason

    restored = connect(backup)  # the older database put back, the terminal restarted
    if more_after_restore:  # and used until its chain is longer than what the server saw
        log = AuditLog(restored, keys=console.audit.keys)
        for i in range(more_after_restore):
            log.append("op1", "operator", "reprint", txn_id=f"R{i}")
    again = beat(billing_server, restored, cfg)
    assert again.send_once()
    assert again.audit_status["status"] == "flagged", again.audit_status
    reason = server_view(billing_server, cfg.kiosk.id).flagged_reason
    assert reason and ("older database" in reason or "rewritten" in reason)
    # and it stays flagged, also for the terminal's real chain
    assert svc.send_once() and svc.audit_status["status"] == "flagged"


def test_a_growing_chain_is_never_flagged_across_restarts(billing_server, tmp_path, console):
    cfg = make_config(tmp_path / "kiosk.db", billing_server.url)
    for _ in range(3):
        svc = beat(billing_server, console.db, cfg)  # a restart: learns the server's entry
        console.audit.append("op1", "operator", "reprint")
        assert svc.send_once() and svc.audit_status["status"] == "ok", svc.audit_status
    assert server_view(billing_server, cfg.kiosk.id).seq == console.audit.tip()[0]


def test_backup_copy_with_its_key_verifies(console, tmp_path):
    """docs/security.md, Backup: the database and the key file together are a backup."""
    copy = tmp_path / "copy"
    console.db.conn.execute("VACUUM INTO ?", (str(tmp_path / "copy.db"),))
    shutil.copytree(tmp_path / "state" / "keys", copy / "keys")
    log = AuditLog(connect(tmp_path / "copy.db"), keys=AuditKeys(key_path(copy)))
    assert log.verify().ok
