"""The prepaid write journal (offline_queue/prepaid.py) and its schema step (v6): the write is
owed in the payment's own transaction, every step is logged append-only, and a v4 database
holding payments migrates with them."""

from __future__ import annotations

import sqlite3

import pytest

from billing_server.seed import DEMO_PREPAID_CARDS
from offline_queue.journal import Journal
from offline_queue.prepaid import PrepaidBook
from offline_queue.schema import MIGRATIONS, SCHEMA_VERSION, _split, connect

CARD, ACCT = next(iter(DEMO_PREPAID_CARDS.items()))


def test_the_card_write_is_owed_in_the_payments_transaction(tmp_path):
    db = connect(tmp_path / "k.db")
    journal = Journal(db, "KIOSK-T1")
    rec = journal.commit_payment("S-1", ACCT, {1000: 1}, {}, 1000, False, prepaid_card=CARD.lower())
    book = PrepaidBook(db)
    owed = book.pending()
    assert [(w.txn_id, w.card_uid, w.amount_minor, w.state) for w in owed] == [
        (rec.txn_id, CARD, 1000, "paid")]
    # idempotent per session, like the payment: asking again owes nothing more
    journal.commit_payment("S-1", ACCT, {1000: 1}, {}, 1000, False, prepaid_card=CARD)
    assert len(book.pending()) == 1 and book.steps(rec.txn_id) == ["paid"]
    # an ordinary payment owes no card write
    journal.commit_payment("S-2", ACCT, {1000: 1}, {}, 1000, False)
    assert len(book.pending()) == 1


def test_steps_are_logged_and_cannot_be_rewritten(tmp_path):
    db = connect(tmp_path / "k.db")
    Journal(db, "KIOSK-T1").commit_payment("S-1", ACCT, {1000: 1}, {}, 1000, False,
                                           prepaid_card=CARD)
    book = PrepaidBook(db)
    book.token_received("S-1", {"purchase_no": 1})
    book.note("S-1", "card_removed", "during write of block 5")
    for state in ("slot_written", "read_back", "pointer_flipped", "done"):
        book.advance("S-1", state)
    assert book.steps("S-1") == ["paid", "token_received", "card_removed", "slot_written",
                                 "read_back", "pointer_flipped", "done"]
    assert book.pending() == [] and book.get("S-1").token == {"purchase_no": 1}
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("DELETE FROM prepaid_steps")
    with pytest.raises(ValueError):
        book.advance("S-1", "half_done")


def test_a_v4_database_with_payments_migrates_to_the_latest(tmp_path):
    path = tmp_path / "k.db"
    conn = sqlite3.connect(str(path), isolation_level=None)
    for number in range(4):
        for statement in _split(MIGRATIONS[number]):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 4")
    # a payment as a v4 terminal stored it (today's journal code expects today's schema)
    conn.execute("INSERT INTO payments (txn_id, session_id, account_no, amount_minor, notes, coins,"
                 " created_at, local_date, offline, receipt_no) VALUES ('T-OLD', 'S-OLD', ?, 1000,"
                 " '{\"500\": 2}', '{}', '2026-01-02T10:00:00+08:00', '2026-01-02', 0, 'R-OLD')",
                 (ACCT,))
    conn.execute("INSERT INTO outbox (kind, idem_key, account_no, body, amount_minor, state,"
                 " created_at) VALUES ('payment', 'T-OLD', ?, x'7b7d', 1000, 'PENDING', 0)", (ACCT,))
    conn.close()
    db = connect(path)  # migrates
    assert SCHEMA_VERSION >= 6 and db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    journal = Journal(db, "KIOSK-T1")
    assert journal.payment("T-OLD").amount_minor == 1000
    journal.commit_payment("S-NEW", ACCT, {1000: 1}, {}, 1000, False, prepaid_card=CARD)
    assert [w.txn_id for w in PrepaidBook(db).pending()] == ["S-NEW"]
