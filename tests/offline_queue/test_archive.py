"""Retention to monthly archives (offline_queue/archive.py): only delivered, reported payments
move; a crash at every step leaves each payment in exactly one of the live database and the
archive (live first); the daily report, reprint and the high-water count are unchanged."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import pytest

from kiosk.staff.report import DailyReports
from offline_queue.archive import Archiver, archived_payment
from offline_queue.highwater import journal_state, note_credits
from offline_queue.journal import Journal
from offline_queue.outbox import Outbox
from offline_queue.schema import connect

CST = timezone(timedelta(hours=8))
STEPS = ("archive_marked", "archive_copied", "archive_verified", "archive_removed")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=CST)

    def __call__(self) -> datetime:
        return self.now


def _books(tmp_path, days=("2026-01-05", "2026-01-20", "2026-02-03", "2026-03-10")):
    """Three payments a day on ``days``; all delivered except the last day's second one; every
    day but the last reported."""
    path = tmp_path / "kiosk.db"
    db = connect(path)
    clock = Clock()
    journal = Journal(db, "K1", clock=clock)
    outbox = Outbox(db)
    for d in days:
        for i in range(3):
            clock.now = datetime.fromisoformat(f"{d}T09:0{i}:00+08:00")
            sid = f"s-{d}-{i}"
            journal.session_start(sid, f"ACC{i}", 1000)
            journal.credit(sid, 1, "note", 1000)
            journal.commit_payment(sid, f"ACC{i}", {1000: 1}, {}, 1000, offline=False)
    for row_id, idem in db.execute("SELECT id, idem_key FROM outbox").fetchall():
        if idem != f"s-{days[-1]}-1":
            outbox.claim(row_id)
            outbox.delivered(row_id, 201, "{}", 0.0)
    reports = DailyReports(db, "K1", clock=clock)
    for d in days[:-1]:
        reports.issue(d, "op", settlement=None, settlement_error="offline")
    return path, db


def _ids(conn_or_path, table="payments"):
    if not isinstance(conn_or_path, sqlite3.Connection) and not hasattr(conn_or_path, "execute"):
        if not conn_or_path.exists():
            return set()
        conn = sqlite3.connect(conn_or_path)
        try:
            return {r[0] for r in conn.execute(f"SELECT txn_id FROM {table}")}
        except sqlite3.OperationalError:
            return set()
        finally:
            conn.close()
    return {r[0] for r in conn_or_path.execute(f"SELECT txn_id FROM {table}")}


def _archived(tmp_path):
    out = set()
    for p in (tmp_path / "archive").glob("*.db"):
        out |= _ids(p)
    return out


def _today():
    return date(2026, 3, 20)


def test_only_delivered_and_reported_payments_move_and_nothing_is_lost(tmp_path):
    path, db = _books(tmp_path)
    before = _ids(db)
    hw_before = journal_state(db), note_credits(db)
    moved = Archiver(db, keep_days=30, today=_today).run()
    assert [m.month for m in moved] == ["2026-01", "2026-02"]
    live, arch = _ids(db), _archived(tmp_path)
    assert live | arch == before and not live & arch
    assert arch == {f"s-{d}-{i}" for d in ("2026-01-05", "2026-01-20", "2026-02-03") for i in range(3)}
    # nothing undelivered or unreported has left, and its journal rows are still there
    assert {"s-2026-03-10-0", "s-2026-03-10-1", "s-2026-03-10-2"} <= live
    assert db.execute("SELECT count(*) FROM journal WHERE session_id LIKE 's-2026-01%'").fetchone()[0] == 0
    # the high-water record sees the same books (a shorter database would lock)
    assert (journal_state(db), note_credits(db)) == hw_before
    # the queue figures still add up
    assert Outbox(db).stats().delivered == 2


def test_undelivered_payment_of_an_old_month_never_moves(tmp_path):
    path, db = _books(tmp_path, days=("2026-01-05", "2026-01-06"))
    # the undelivered one is 2026-01-06's second payment; 2026-01-06 was not reported either
    DailyReports(db, "K1").issue("2026-01-06", "op", settlement=None)
    Archiver(db, keep_days=30, today=_today).run()
    assert "s-2026-01-06-1" in _ids(db)
    assert "s-2026-01-06-1" not in _archived(tmp_path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM journal WHERE session_id = 's-2026-01-06-1'")


def test_report_and_reprint_find_archived_payments(tmp_path):
    path, db = _books(tmp_path)
    reports = DailyReports(db, "K1", clock=lambda: datetime(2026, 3, 20, tzinfo=CST))
    before = {d: reports.build(d, settlement=None) for d in ("2026-01-05", "2026-02-03")}
    receipt = Journal(db, "K1").payment("s-2026-01-05-2")
    Archiver(db, keep_days=30, today=_today).run()
    assert "s-2026-01-05-2" not in _ids(db)
    for d, report in before.items():
        assert reports.build(d, settlement=None) == report  # the three-way report unchanged
    assert Journal(db, "K1").payment("s-2026-01-05-2") == receipt
    found = archived_payment(db, receipt_no=receipt.receipt_no)
    assert found is not None and found["txn_id"] == "s-2026-01-05-2"


def test_archive_is_append_only(tmp_path):
    path, db = _books(tmp_path)
    Archiver(db, keep_days=30, today=_today).run()
    arch = sqlite3.connect(tmp_path / "archive" / "2026-01.db")
    for sql in ("DELETE FROM payments", "UPDATE journal SET kind = 'x'", "DELETE FROM outbox"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            arch.execute(sql)


def test_a_copy_that_does_not_read_back_removes_nothing(tmp_path, monkeypatch):
    import offline_queue.archive as archive

    path, db = _books(tmp_path)
    before = _ids(db)
    real = archive._digest
    monkeypatch.setattr(archive, "_digest",
                        lambda conn, sel: real(conn, sel) + ("" if conn is db.conn else "x"))
    with pytest.raises(archive.ArchiveMismatch):
        Archiver(db, keep_days=30, today=_today).run()
    assert _ids(db) == before


_CHILD = """
import sys
from datetime import date
from offline_queue.schema import connect
from offline_queue.archive import Archiver
Archiver(connect(sys.argv[1]), keep_days=30, today=lambda: date(2026, 3, 20)).run()
"""


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_at_each_step_leaves_every_payment_in_exactly_one_place(tmp_path, step):
    path, db = _books(tmp_path)
    everything = _ids(db)
    db.conn.close()
    crashed = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True,
                             text=True, env={**_env(), "KIOSK_CRASH_AT": step}, timeout=60)
    assert crashed.returncode == 86, crashed.stderr[-2000:]
    db = connect(path)
    live, arch = _ids(db), _archived(tmp_path)
    # live first: a payment still live counts there, copied or not; none is in neither
    assert live | arch == everything
    if step in ("archive_marked", "archive_copied", "archive_verified"):
        assert live == everything
    # the next run finishes the move: then each payment is in exactly one place
    Archiver(db, keep_days=30, today=_today).run()
    live, arch = _ids(db), _archived(tmp_path)
    assert live | arch == everything and not live & arch
    assert len(arch) == 9
    assert db.execute("SELECT count(*) FROM archive_permit").fetchone()[0] == 0


def _env():
    import os

    return dict(os.environ)


def test_the_archive_command_moves_old_months_and_refuses_a_bad_age(tmp_path):
    path, db = _books(tmp_path)
    db.conn.close()
    bad = subprocess.run([sys.executable, "-m", "kiosk", "queue", "archive", "--db", str(path),
                          "--keep-days", "-3"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "--keep-days" in bad.stderr
    ok = subprocess.run([sys.executable, "-m", "kiosk", "queue", "archive", "--db", str(path),
                         "--keep-days", "30"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    # today is the real date: every reported, delivered month is older than 30 days
    assert "2026-01 6 payments" in ok.stdout
    assert sorted(p.name for p in (tmp_path / "archive").iterdir())[:2] == ["2026-01.db", "2026-02.db"]
