"""Schema v5 (staff cards, dead-payment resolutions) on a v4 database holding data: the rows
stay, the new tables work, and a resolved payment is no longer re-queued."""

from __future__ import annotations

import sqlite3

from offline_queue.outbox import Outbox
from offline_queue.schema import MIGRATIONS, SCHEMA_VERSION, _split, connect


def v4_database(path) -> None:
    conn = sqlite3.connect(str(path), isolation_level=None)
    for number in range(4):
        for statement in _split(MIGRATIONS[number]):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 4")
    conn.execute("INSERT INTO payments (txn_id, session_id, account_no, amount_minor, notes, coins,"
                 " created_at, local_date, offline, receipt_no) VALUES ('T1', 'T1', '1234567897',"
                 " 1000, '{\"1000\": 1}', '{}', '2026-01-02T10:00:00+08:00', '2026-01-02', 1, 'R1')")
    conn.execute("INSERT INTO outbox (kind, idem_key, account_no, body, amount_minor, state,"
                 " created_at) VALUES ('payment', 'T1', '1234567897', x'7b7d', 1000, 'DEAD', 0)")
    conn.execute("INSERT INTO staff_users VALUES ('op1', 'operator', 'h', 'a', 'a')")
    conn.close()


def test_v4_database_with_data_migrates_to_v5(tmp_path):
    path = tmp_path / "k.db"
    v4_database(path)
    db = connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 5
    assert db.execute("SELECT txn_id, amount_minor FROM payments").fetchall() == [("T1", 1000)]
    assert db.execute("SELECT idem_key, state FROM outbox").fetchall() == [("T1", "DEAD")]
    db.execute("INSERT INTO staff_cards VALUES ('mac', 'op1', 'now', 'test')")
    db.execute("INSERT INTO payment_resolutions (txn_id, kind, phone, decided_at, decided_by)"
               " VALUES ('T1', 'refund', '13800138000', 'now', 'op1')")
    assert Outbox(db).requeue_dead() == 0  # resolved: never sent again
    # a staff id removed takes its cards with it
    db.execute("DELETE FROM staff_users WHERE user_id = 'op1'")
    assert db.execute("SELECT count(*) FROM staff_cards").fetchone()[0] == 0


def test_a_resolution_is_one_kind_with_its_own_fields(tmp_path):
    db = connect(tmp_path / "k.db")
    for bad in ("INSERT INTO payment_resolutions (txn_id, kind, decided_at, decided_by)"
                " VALUES ('T', 'refund', 'now', 'x')",  # a refund without a phone
                "INSERT INTO payment_resolutions (txn_id, kind, phone, decided_at, decided_by)"
                " VALUES ('T', 'readdressed', '1', 'now', 'x')"):  # no new transaction
        try:
            db.execute(bad)
        except sqlite3.IntegrityError:
            continue
        raise AssertionError(f"accepted: {bad}")
