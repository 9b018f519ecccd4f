"""The audit chain: intact after many appends; any edited, deleted, inserted or reordered entry is
found and the first bad one named; a cut-off tail is found through the anchor."""

from __future__ import annotations

import sqlite3

import pytest

from kiosk.staff.audit import GENESIS, AuditLog, entry_hash
from kiosk.staff.audit_keys import AuditKeys, key_path


@pytest.fixture
def log(db, clock, tmp_path):
    audit = AuditLog(db, clock.now, keys=AuditKeys(key_path(tmp_path / "state")))
    for i in range(1, 7):
        audit.append(f"user{i % 2}", "operator", "collection", batch=i, amount_minor=i * 100)
        clock.advance(1)
    return audit


def tamper(db_path, *sql: str) -> None:
    """What an attacker with the file does: drop the guards, change rows, commit."""
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TRIGGER audit_append_only_u")
    conn.execute("DROP TRIGGER audit_append_only_d")
    for statement in sql:
        conn.execute(statement)
    conn.commit()
    conn.close()


def test_intact_chain_verifies_and_head_moves(log):
    result = log.verify()
    assert result.ok and result.count == 6 and result.first_bad is None
    head = log.head()
    assert result.head == head != GENESIS
    log.append("x", "maintenance", "self_test", ok=True)
    assert log.head() != head and log.verify().ok


def test_each_entry_links_to_the_one_before(log):
    entries = list(reversed(log.entries()))
    assert entries[0].prev_hash == GENESIS
    for before, after in zip(entries, entries[1:]):
        assert after.prev_hash == before.hash


def test_the_log_refuses_updates_and_deletes(db, log):
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE audit_log SET actor = 'x' WHERE seq = 2")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM audit_log WHERE seq = 2")


def test_edited_entry_is_named(db_path, log):
    tamper(db_path, "UPDATE audit_log SET detail = '{\"amount_minor\":1,\"batch\":3}' WHERE seq = 3")
    result = log.verify()
    assert not result.ok and result.first_bad == 3 and "altered" in result.reason


def test_edit_with_recomputed_hash_is_named(db_path, db, log):
    row = db.execute("SELECT seq, at, actor, role, action, detail, prev_hash FROM audit_log"
                     " WHERE seq = 4").fetchone()
    forged = entry_hash(row[0], row[1], "someone_else", *row[3:])
    tamper(db_path, f"UPDATE audit_log SET actor = 'someone_else', hash = '{forged}' WHERE seq = 4")
    result = log.verify()
    assert not result.ok and result.first_bad == 4 and "without the audit key" in result.reason


def test_deleted_entry_is_named(db_path, log):
    tamper(db_path, "DELETE FROM audit_log WHERE seq = 2")
    result = log.verify()
    assert not result.ok and result.first_bad == 3 and "missing" in result.reason


def test_deleted_first_entry_is_named(db_path, log):
    tamper(db_path, "DELETE FROM audit_log WHERE seq = 1")
    result = log.verify()
    assert not result.ok and result.first_bad == 2


def test_reordered_entries_are_named(db_path, log):
    # Swap the contents of entries 2 and 3, each keeping its own hash.
    cols = "at, actor, role, action, detail, prev_hash, hash"
    tamper(db_path,
           f"CREATE TABLE t AS SELECT seq, {cols} FROM audit_log WHERE seq IN (2, 3)",
           *[f"UPDATE audit_log SET {c} = (SELECT {c} FROM t WHERE t.seq = 5 - audit_log.seq)"
             " WHERE seq IN (2, 3)" for c in cols.split(", ")])
    result = log.verify()
    assert not result.ok and result.first_bad == 2 and "link" in result.reason


def test_renumbered_entries_are_named(db_path, log):
    tamper(db_path, "UPDATE audit_log SET seq = 100 WHERE seq = 4",
           "UPDATE audit_log SET seq = 4 WHERE seq = 5", "UPDATE audit_log SET seq = 5 WHERE seq = 100")
    result = log.verify()
    assert not result.ok and result.first_bad == 4


def test_cut_tail_is_found_through_the_anchor(db_path, log):
    tamper(db_path, "DELETE FROM audit_log WHERE seq >= 5")
    result = log.verify()
    assert not result.ok and result.first_bad == 5 and "end" in result.reason


def test_everything_deleted_is_found(db_path, log):
    tamper(db_path, "DELETE FROM audit_log")
    assert not log.verify().ok


def test_inserted_entry_is_named(db_path, db, log):
    row = db.execute("SELECT hash FROM audit_log WHERE seq = 6").fetchone()
    at = "2026-11-21T09:00:06.000+08:00"
    forged = entry_hash(7, at, "ghost", "operator", "collection", "{}", row[0])
    tamper(db_path, "INSERT INTO audit_log VALUES (7, '%s', 'ghost', 'operator', 'collection',"
           " '{}', '%s', '%s')" % (at, row[0], forged))
    result = log.verify()
    assert not result.ok and result.first_bad == 7  # sealed without the key
