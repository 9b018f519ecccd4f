"""The start-up journal check: a database new, shorter or behind its high-water record — or a
record damaged or removed — is a persisted locking fault that only staff clear (audited), and
clearing adopts the database as the new baseline. A normal restart raises nothing."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from kiosk.staff.audit import AuditLog
from kiosk.staff.audit_keys import AuditKeys
from kiosk.staff.console import StaffConsole
from kiosk.staff.errors import AuditKeyError, FaultNotClearable, PermissionDenied
from kiosk.staff.faults import LockingFaults
from kiosk.staff.journal_guard import guard_on_start
from offline_queue import highwater as hw
from offline_queue.errors import IntegrityError
from offline_queue.journal import Journal
from offline_queue.schema import connect
from tests.staff.conftest import CHEAP, MT_PIN, OP_PIN, make_config


@pytest.fixture
def cfg(db_path, tmp_path):
    base = make_config(db_path)
    return dataclasses.replace(base, kiosk=dataclasses.replace(
        base.kiosk, state_dir=str(tmp_path / "state")))


def start(db, cfg) -> Journal:
    """What Terminal.start does with the check."""
    water = guard_on_start(db, cfg)
    return Journal(db, cfg.kiosk.id, on_commit=water.advance)


def pay(journal: Journal, sid: str) -> None:
    journal.session_start(sid, "1234567890", 1000)
    journal.credit(sid, 1, "note", 1000)
    journal.commit_payment(sid, "1234567890", {1000: 1}, {}, 1000, offline=True)


def journal_faults(db, db_path):
    return [(f.device, f.code) for f in LockingFaults(db, db_path, AuditLog(db, keys=AuditKeys.of_key(b"k" * 32))).active()
            if f.device == "journal"]


def console_for(db, cfg) -> StaffConsole:
    c = StaffConsole(db, cfg, Journal(db, cfg.kiosk.id), params=CHEAP)
    c.auth.add_user("op1", "operator", OP_PIN, "test")
    c.auth.add_user("mt1", "maintenance", MT_PIN, "test")
    return c


def test_fresh_install_and_normal_restarts_raise_nothing(db, db_path, cfg):
    journal = start(db, cfg)
    record = hw.read_record(hw.record_path(cfg.kiosk.state_dir))
    assert (record.journal_max_id, record.payments) == (0, 0)
    pay(journal, "S1")
    for _ in range(2):  # restart, restart again: same database, as far as its record
        again = connect(db_path)
        pay(start(again, cfg), f"S{_ + 2}")
    assert journal_faults(db, db_path) == []
    assert hw.read_record(hw.record_path(cfg.kiosk.state_dir)).payments == 3


def test_first_start_after_upgrade_creates_the_record(db, db_path, cfg):
    pay(Journal(db, "KIOSK-T1"), "S1")  # written by the software before the record existed
    start(db, cfg)
    assert hw.read_record(hw.record_path(cfg.kiosk.state_dir)).payments == 1
    assert journal_faults(db, db_path) == []


def test_replaced_database_locks_and_stays_locked(db, db_path, cfg, tmp_path):
    pay(start(db, cfg), "S1")
    db.conn.close()
    for suffix in ("", "-wal", "-shm"):
        p = tmp_path / f"kiosk.db{suffix}"
        p.unlink(missing_ok=True)
    fresh = connect(db_path)
    with pytest.raises(hw.JournalFault) as err:
        guard_on_start(fresh, cfg)
    assert isinstance(err.value, IntegrityError)  # the app's and simulate's locked path
    assert err.value.code == hw.REPLACED
    assert f"database {db_path} is new" in err.value.reason
    assert "expected journal row" in err.value.reason and "1 payment" in err.value.reason
    assert journal_faults(fresh, db_path) == [("journal", "replaced")]
    with pytest.raises(hw.JournalFault):  # the next start too: found in the table and the record
        guard_on_start(connect(db_path), cfg)


def test_shorter_database_is_behind(db, db_path, cfg, tmp_path):
    pay(start(db, cfg), "S1")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(db_path, tmp_path / "old.db")  # the database as it was after one payment
    db.conn.close()
    second = connect(db_path)
    pay(start(second, cfg), "S2")
    second.conn.close()
    shutil.copy(tmp_path / "old.db", db_path)
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"kiosk.db{suffix}").unlink(missing_ok=True)
    with pytest.raises(hw.JournalFault) as err:
        guard_on_start(connect(db_path), cfg)
    assert err.value.code == hw.BEHIND
    assert "the journal ends at row" in err.value.reason and "it has 1 payment" in err.value.reason
    assert "2 payments" in err.value.reason


def test_damaged_record_locks(db, db_path, cfg):
    start(db, cfg)
    hw.record_path(cfg.kiosk.state_dir).write_text("{truncated")
    with pytest.raises(hw.JournalFault) as err:
        guard_on_start(db, cfg)
    assert err.value.code == hw.RECORD_UNREADABLE and "unreadable" in err.value.reason


def test_both_slots_damaged_locks_as_unreadable(db, db_path, cfg):
    pay(start(db, cfg), "S1")
    path = hw.record_path(cfg.kiosk.state_dir)
    assert path.stat().st_size == hw.FILE_SIZE
    path.write_bytes(b"\0" * hw.SLOT_SIZE + b"\xa5" * hw.SLOT_SIZE)  # zeros, then garbage
    with pytest.raises(hw.JournalFault) as err:
        guard_on_start(connect(db_path), cfg)
    assert err.value.code == hw.RECORD_UNREADABLE and "no valid slot" in err.value.reason
    assert journal_faults(db, db_path) == [("journal", "record_unreadable")]


def test_a_torn_slot_does_not_lock(db, db_path, cfg):
    pay(start(db, cfg), "S1")  # several advances: both slots hold a record
    path = hw.record_path(cfg.kiosk.state_dir)
    valid, _ = hw._slots(path.read_bytes())
    newest = max(valid)[1]
    raw = bytearray(path.read_bytes())
    raw[newest * hw.SLOT_SIZE:(newest + 1) * hw.SLOT_SIZE] = bytes(hw.SLOT_SIZE)
    path.write_bytes(bytes(raw))  # the last advance lost: the record lags, never leads
    pay(start(connect(db_path), cfg), "S2")
    assert journal_faults(db, db_path) == []
    assert hw.read_record(path).payments == 2


def test_upgraded_in_place_the_json_record_is_kept_and_converted(db, db_path, cfg):
    """A terminal whose record is still the JSON file earlier versions wrote starts unlocked,
    and a database behind that JSON record still locks."""
    pay(Journal(db, "KIOSK-T1"), "S1")
    path = hw.record_path(cfg.kiosk.state_dir)
    path.parent.mkdir(mode=0o700, parents=True)
    record = hw.Record.of(hw.journal_state(db))
    path.write_text(json.dumps({"version": 1, **dataclasses.asdict(record)}, sort_keys=True))
    hw.remember_record(db, path)  # as the earlier version left it
    pay(start(db, cfg), "S2")
    assert journal_faults(db, db_path) == []
    assert path.stat().st_size == hw.FILE_SIZE and hw.read_record(path).payments == 2

    ahead = dataclasses.replace(record, payments=5)
    path.write_text(json.dumps({"version": 1, **dataclasses.asdict(ahead)}, sort_keys=True))
    with pytest.raises(hw.JournalFault) as err:
        guard_on_start(connect(db_path), cfg)
    assert err.value.code == hw.BEHIND and "5 payments" in err.value.reason


def test_removed_record_locks_once_one_was_written(db, db_path, cfg):
    pay(start(db, cfg), "S1")
    hw.record_path(cfg.kiosk.state_dir).unlink()
    with pytest.raises(hw.JournalFault) as err:
        guard_on_start(db, cfg)
    assert err.value.code == hw.RECORD_MISSING and "is missing" in err.value.reason


def test_staff_clear_is_audited_and_adopts_the_baseline(db, db_path, cfg):
    pay(start(db, cfg), "S1")
    path = hw.record_path(cfg.kiosk.state_dir)
    record = hw.read_record(path)
    hw.write_record(path, dataclasses.replace(record, payments=record.payments + 4))
    with pytest.raises(hw.JournalFault):
        guard_on_start(db, cfg)
    console = console_for(db, cfg)
    assert [(f.device, f.code) for f in console.faults.active()] == [("journal", "behind")]
    with pytest.raises(PermissionDenied):
        console.clear_fault(console.login("op1", OP_PIN), "journal", "behind")
    fault = console.clear_fault(console.login("mt1", MT_PIN), "journal", "behind")
    assert fault.code == "behind"
    assert hw.read_record(path).payments == 1  # the database as it is is the new baseline
    entries = [e for e in console.audit.entries(limit=20) if e.action == "fault_cleared"]
    assert entries and entries[0].detail["device"] == "journal" and entries[0].actor == "mt1"
    pay(start(db, cfg), "S2")  # and the terminal starts again
    assert journal_faults(db, db_path) == []


def test_clear_refuses_a_record_in_another_place(db, db_path, cfg, tmp_path):
    start(db, cfg)
    path = hw.record_path(cfg.kiosk.state_dir)
    hw.write_record(path, dataclasses.replace(hw.read_record(path), journal_max_id=99))
    with pytest.raises(hw.JournalFault):
        guard_on_start(db, cfg)
    elsewhere = dataclasses.replace(cfg, kiosk=dataclasses.replace(
        cfg.kiosk, state_dir=str(tmp_path / "elsewhere")))
    console_for(db, cfg)
    console = StaffConsole(db, elsewhere, Journal(db, cfg.kiosk.id), params=CHEAP)
    # the audit key is not there either: not even the login is accepted (docs/security.md)
    with pytest.raises(AuditKeyError, match="state-dir"):
        console.clear_fault(console.login("mt1", MT_PIN), "journal", "behind")
    assert not (tmp_path / "elsewhere").exists()
    (tmp_path / "elsewhere" / "keys").mkdir(parents=True, mode=0o700)
    shutil.copy2(tmp_path / "state" / "keys" / "audit.key", tmp_path / "elsewhere" / "keys")
    with pytest.raises(FaultNotClearable, match="state-dir"):
        console.clear_fault(console.login("mt1", MT_PIN), "journal", "behind")
    assert journal_faults(db, db_path) == [("journal", "behind")]
