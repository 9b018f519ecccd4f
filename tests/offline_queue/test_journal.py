"""The journal and outbox: durability pragmas, append-only rows, one-transaction commits."""

from __future__ import annotations

import json
import sqlite3

import pytest

from billing_server.seed import DEMO_ACCOUNTS
from offline_queue.schema import SCHEMA_VERSION, connect, migrate

ACC = DEMO_ACCOUNTS[0].account_no


def test_every_connection_has_wal_and_full_sync(tmp_path):
    for _ in range(2):  # the pragmas are per connection: check a second one too
        db = connect(tmp_path / "k.db")
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_migration_is_idempotent(db):
    migrate(db)
    migrate(db)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_newer_schema_is_refused(tmp_path):
    from offline_queue.errors import IntegrityError

    db = connect(tmp_path / "k.db")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(IntegrityError):
        connect(tmp_path / "k.db")


def test_journal_is_append_only(journal, db):
    journal.session_start("S1", ACC, 5000)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE journal SET value_minor = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM journal")


def test_credit_is_recorded_once_per_note(journal, db):
    journal.session_start("S1", ACC, 5000)
    assert journal.credit("S1", 1, "note", 5000) is True
    assert journal.credit("S1", 1, "note", 5000) is False  # a repeated safe event
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO journal (session_id, seq, kind, value_minor, at) VALUES ('S1', 1, 'credit', 5000, 'x')")
    assert db.execute("SELECT count(*) FROM journal WHERE kind='credit'").fetchone()[0] == 1


def test_commit_payment_writes_payment_outbox_and_journal_together(journal, outbox, db):
    journal.session_start("S1", ACC, 12000)
    rec = journal.commit_payment("S1", ACC, {10000: 1, 2000: 1}, {}, 12000, offline=True)
    body = json.loads(rec.body)
    assert body["amount_minor"] == 12000 and body["notes"] == {"2000": 1, "10000": 1}
    assert body["txn_id"] == rec.txn_id and body["offline"] is True
    assert isinstance(body["amount_minor"], int)
    assert rec.receipt_no == "KIOSK-T1-20261121-00001"
    assert outbox.stats().pending == 1 and outbox.stats().pending_total_minor == 12000
    kinds = [r[0] for r in db.execute("SELECT kind FROM journal WHERE session_id='S1' ORDER BY id")]
    assert kinds == ["session_start", "payment", "session_end"]
    # idempotent: a second commit for the session is the same payment, not a new one
    again = journal.commit_payment("S1", ACC, {10000: 1, 2000: 1}, {}, 12000, offline=True)
    assert again == rec and outbox.stats().pending == 1


def test_commit_is_all_or_nothing(journal, db):
    # An outbox row already holding this key makes the outbox insert fail mid-transaction.
    db.execute("INSERT INTO outbox (kind, idem_key, body, created_at)"
               " VALUES ('payment', 'S2', x'00', 0)")
    with pytest.raises(sqlite3.IntegrityError):
        journal.commit_payment("S2", ACC, {1000: 1}, {}, 1000, offline=False)
    assert db.execute("SELECT count(*) FROM payments").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM journal WHERE session_id='S2'").fetchone()[0] == 0


@pytest.mark.parametrize("notes,amount", [({1000: 1}, 2000), ({}, 0)])
def test_commit_refuses_a_tally_that_does_not_add_up(journal, notes, amount):
    with pytest.raises(ValueError):
        journal.commit_payment("S3", ACC, notes, {}, amount, offline=False)


def test_money_columns_refuse_floats(db):
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO journal (session_id, kind, value_minor, at) VALUES ('S', 'credit', 10.5, 'x')")


def test_outbox_rows_are_kept_until_delivered(journal, db):
    journal.commit_payment("S4", ACC, {1000: 1}, {}, 1000, offline=False)
    with pytest.raises(sqlite3.DatabaseError, match="kept until delivered"):
        db.execute("DELETE FROM outbox")


def test_open_sessions_and_receipt_numbers_per_day(journal, clock):
    journal.session_start("A", ACC, 5000)
    journal.escrow("A", 1, 5000, "stack")
    journal.session_start("B", ACC, 5000)
    journal.escrow("B", 1, 1000, "stack")
    journal.credit("B", 1, "note", 1000)
    open_ = {s.session_id: s for s in journal.open_sessions()}
    assert open_["A"].escrows == ((1, 5000, "stack"),) and open_["A"].credits == ()
    assert open_["B"].escrows == () and open_["B"].credits == ((1, "note", 1000),)
    r1 = journal.commit_payment("B", ACC, {1000: 1}, {}, 1000, offline=False)
    clock.advance(days=1)
    journal.session_start("C", ACC, 1000)
    r2 = journal.commit_payment("C", ACC, {1000: 1}, {}, 1000, offline=False)
    assert r1.receipt_no.endswith("20261121-00001") and r2.receipt_no.endswith("20261122-00001")
    assert [s.session_id for s in journal.open_sessions()] == ["A"]


def test_queue_stats_report_oldest_age(journal, outbox, mono):
    journal.commit_payment("S5", ACC, {1000: 1}, {}, 1000, offline=True)
    mono.advance(3600)
    stats = outbox.stats()
    assert stats.pending == 1 and stats.oldest_pending_age_s == 3600


def test_release_in_flight(journal, outbox):
    journal.commit_payment("S6", ACC, {1000: 1}, {}, 1000, offline=True)
    row = outbox.due(now=1e12)[0]
    assert outbox.claim(row.id)
    assert outbox.stats().in_flight == 1
    assert outbox.release_in_flight() == 1
    assert outbox.stats().pending == 1


def test_fifo_per_account(journal, outbox):
    other = DEMO_ACCOUNTS[1].account_no
    journal.commit_payment("P1", ACC, {1000: 1}, {}, 1000, offline=True)
    journal.commit_payment("P2", ACC, {1000: 1}, {}, 1000, offline=True)
    journal.commit_payment("P3", other, {1000: 1}, {}, 1000, offline=True)
    due = [r.idem_key for r in outbox.due(now=1e12)]
    assert due == ["P1", "P3"]  # P2 waits behind P1 of the same account
