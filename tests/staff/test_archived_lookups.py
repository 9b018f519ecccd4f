"""Staff find archived payments: reprint by receipt number, the recent receipts list and the
daily report look into the monthly archives for what the live database no longer holds."""

from __future__ import annotations

from datetime import datetime

from kiosk.staff.receipts import recent_receipts, txn_for_receipt
from kiosk.staff.report import DailyReports
from offline_queue.archive import Archiver
from offline_queue.journal import Journal
from tests.offline_queue.test_archive import CST, _archived, _books, _ids, _today


def _receipt(db, txn_id):
    return db.execute("SELECT receipt_no FROM payments WHERE txn_id = ?", (txn_id,)).fetchone()[0]


def test_reprint_history_and_report_find_archived_payments(tmp_path):
    path, db = _books(tmp_path)
    old, live = "s-2026-01-20-1", "s-2026-03-10-0"
    old_no, live_no = _receipt(db, old), _receipt(db, live)
    record = Journal(db, "K1").payment(old)
    newest_before = recent_receipts(db, 6)
    reports = DailyReports(db, "K1", clock=lambda: datetime(2026, 3, 20, tzinfo=CST))
    report_before = reports.build("2026-01-20", settlement=None)

    Archiver(db, keep_days=30, today=_today).run()
    assert old in _archived(tmp_path) and old not in _ids(db)

    # reprint by number: the archived receipt is found, then printed from the same record
    assert txn_for_receipt(db, old_no) == old
    assert Journal(db, "K1").payment(txn_for_receipt(db, old_no)) == record
    assert txn_for_receipt(db, live_no) == live
    assert txn_for_receipt(db, "K1-20260120-00099") is None
    # the recent receipts run on into the archive, newest first, each once
    assert recent_receipts(db, 6) == newest_before
    assert [r[0] for r in recent_receipts(db, 2)] == [r[0] for r in newest_before[:2]]
    # the daily report of an archived day is the report it was
    assert reports.build("2026-01-20", settlement=None) == report_before
