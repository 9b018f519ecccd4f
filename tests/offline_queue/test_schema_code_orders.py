"""The code tender's schema step (``code_orders``, v11) on a v10 database holding
payments: the rows stay, a code order is durable and moves to ``recorded`` only in the payment's
own transaction, and a paid order records one payment whatever is retried."""

from __future__ import annotations

import sqlite3

import pytest
from sqlite_utils import Database

from offline_queue.code_orders import CodeOrders
from offline_queue.journal import Journal
from offline_queue.schema import MIGRATIONS, SCHEMA_VERSION, _split, connect

CODE_STEP = next(n for n, step in enumerate(MIGRATIONS)
                 if isinstance(step, str) and "CREATE TABLE code_orders" in step)


def v10_database(path) -> None:
    conn = sqlite3.connect(str(path), isolation_level=None)
    db = Database(conn)
    for number in range(10):
        step = MIGRATIONS[number]
        if callable(step):
            step(db)
        else:
            for statement in _split(step):
                conn.execute(statement)
    conn.execute("PRAGMA user_version = 10")
    conn.execute("INSERT INTO payments (txn_id, session_id, account_no, amount_minor, notes, coins,"
                 " created_at, local_date, offline, receipt_no) VALUES ('T1', 'T1', '1234567897',"
                 " 1000, '{\"1000\": 1}', '{}', '2026-01-02T10:00:00+08:00', '2026-01-02', 0, 'R1')")
    conn.execute("INSERT INTO outbox (kind, idem_key, account_no, body, amount_minor, state,"
                 " created_at) VALUES ('payment', 'T1', '1234567897', x'7b7d', 1000, 'PENDING', 0)")
    conn.close()


def test_the_step_follows_v10():
    assert CODE_STEP == 10


def test_a_v10_database_with_data_migrates(tmp_path):
    path = tmp_path / "k.db"
    v10_database(path)
    db = connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION > 10
    assert db.execute("SELECT txn_id, amount_minor FROM payments").fetchall() == [("T1", 1000)]
    assert db.execute("SELECT n, total_minor FROM outbox_counts WHERE state = 'PENDING'"
                      ).fetchone() == (1, 1000)
    orders = CodeOrders(db)
    orders.open_order("S2.C1", "S2", "1234567897", 5000)
    assert [o.state for o in orders.open_orders()] == ["charging"]


def test_a_paid_order_becomes_one_payment_and_an_unpaid_one_none(tmp_path):
    db = connect(tmp_path / "k.db")
    journal = Journal(db, "KIOSK-0001")
    orders = CodeOrders(db)
    orders.open_order("S1.C1", "S1", "1234567897", 5000)
    with pytest.raises(ValueError):  # not paid: no payment without a charge
        journal.commit_payment("S1.C1", "1234567897", (), (), 5000, False,
                               code_order=orders.get("S1.C1"))
    orders.set_state("S1.C1", "paid", "GW1")
    record = journal.commit_payment("S1.C1", "1234567897", (), (), 5000, False,
                                    code_order=orders.get("S1.C1"))
    again = journal.commit_payment("S1.C1", "1234567897", (), (), 5000, False,
                                   code_order=orders.get("S1.C1"))
    assert again.txn_id == record.txn_id and record.tender == "code"
    assert b'"gateway_ref":"GW1"' in record.body and b'"tender":"code"' in record.body
    assert db.execute("SELECT count(*) FROM payments").fetchone()[0] == 1
    assert orders.get("S1.C1").state == "recorded" and orders.open_orders() == []
    # read back (the receipt, a reprint): the gateway's reference is on it
    from kiosk.flow.receipt import ReceiptData, receipt_lines

    back = journal.payment("S1.C1")
    assert (back.tender, back.gateway_ref) == ("code", "GW1")
    _title, lines, _qr = receipt_lines(ReceiptData(back, "95598"))
    assert "付款码支付 流水号：GW1" in lines


def test_an_order_id_is_used_once(tmp_path):
    orders = CodeOrders(connect(tmp_path / "k.db"))
    orders.open_order("S1.C1", "S1", "1234567897", 5000)
    with pytest.raises(sqlite3.IntegrityError):
        orders.open_order("S1.C1", "S1", "1234567897", 5000)


def test_the_daily_report_shows_the_code_share_by_tender(tmp_path):
    from kiosk.staff.report import DailyReports
    from kiosk.staff.report_format import report_lines

    db = connect(tmp_path / "k.db")
    journal = Journal(db, "KIOSK-0001")
    cash = journal.commit_payment("S1", "1234567897", {10000: 1}, {}, 10000, False)
    orders = CodeOrders(db)
    orders.open_order("S2.C1", "S2", "1234567897", 4250)
    orders.set_state("S2.C1", "paid", "GW9")
    journal.commit_payment("S2.C1", "1234567897", (), (), 4250, False,
                           code_order=orders.get("S2.C1"))
    report = DailyReports(db, "KIOSK-0001").build(cash.created_at[:10])
    assert report["by_tender"] == {"note": 10000, "coin": 0, "code": 4250}
    assert report["total_minor"] == 14250
    assert any("付款码 Payment code: " in line and "42.50" in line for line in report_lines(report))
