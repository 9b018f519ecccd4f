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
from offline_queue.code_orders import CodeOrders
from offline_queue.journal import Journal, payment_body_of
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
    monkeypatch.setattr(archive, "_digest", lambda conn, sel, rebuild=None: real(conn, sel, rebuild)
                        + ("" if conn is db.conn else "x"))
    with pytest.raises(archive.ArchiveMismatch):
        Archiver(db, keep_days=30, today=_today).run()
    assert _ids(db) == before


_CHILD = """
import sys
from datetime import date
from offline_queue.schema import connect
from offline_queue.archive import Archiver
from offline_queue.journal import payment_body_of
Archiver(connect(sys.argv[1]), keep_days=30, today=lambda: date(2026, 3, 20),
         rebuild=payment_body_of("K1")).run()
"""


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_at_each_step_leaves_every_payment_in_exactly_one_place(tmp_path, step):
    path, db = _books(tmp_path)
    everything = _ids(db)
    records = _records(db, everything)
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
    Archiver(db, keep_days=30, today=_today, rebuild=payment_body_of("K1")).run()
    live, arch = _ids(db), _archived(tmp_path)
    assert live | arch == everything and not live & arch
    assert len(arch) == 9
    assert _records(db, everything) == records  # every body given back byte for byte
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


def _records(db, txns):
    journal = Journal(db, "K1")
    return {t: journal.payment(t) for t in sorted(txns)}


def _archived_bodies(tmp_path):
    out = {}
    for p in (tmp_path / "archive").glob("*.db"):
        conn = sqlite3.connect(p)
        out.update({k: (bytes(b), d) for k, b, d in conn.execute(
            "SELECT idem_key, body, body_sha256 FROM outbox")})
        conn.close()
    return out


def test_each_delivered_body_is_stored_once_and_given_back_byte_for_byte(tmp_path):
    path, db = _books(tmp_path)
    reports = DailyReports(db, "K1", clock=lambda: datetime(2026, 3, 20, tzinfo=CST))
    before = {d: reports.build(d, settlement=None) for d in ("2026-01-05", "2026-02-03")}
    records = _records(db, _ids(db))
    Archiver(db, keep_days=30, today=_today, rebuild=payment_body_of("K1")).run()
    stored = _archived_bodies(tmp_path)
    assert len(stored) == 9
    # the facts are in the archived payment row; of the body only its digest is kept
    assert all(body == b"" and len(digest) == 32 for body, digest in stored.values())
    assert _records(db, records) == records  # reprint: the very bytes that were sent
    for d, report in before.items():
        assert reports.build(d, settlement=None) == report


def test_storing_once_makes_the_archive_smaller(tmp_path):
    sizes = {}
    for name, rebuild in (("whole", None), ("once", payment_body_of("K1"))):
        (tmp_path / name).mkdir()
        path, db = _books(tmp_path / name, days=tuple(f"2026-01-{d:02d}" for d in range(1, 29))
                          + ("2026-03-10",))
        Archiver(db, keep_days=30, today=_today, rebuild=rebuild).run()
        conn = sqlite3.connect(tmp_path / name / "archive" / "2026-01.db")
        sizes[name] = conn.execute("SELECT sum(length(body)) + sum(coalesce(length(body_sha256),"
                                   " 0)) FROM outbox").fetchone()[0]
        conn.close()
    assert sizes["once"] < sizes["whole"] / 4


def test_a_body_the_rebuild_does_not_reproduce_is_kept_whole(tmp_path):
    path, db = _books(tmp_path)
    records = _records(db, _ids(db))
    # a body written under another kiosk id, and one the encoder of today would write otherwise
    other = payment_body_of("K2")
    odd = {"s-2026-01-05-1"}
    own = payment_body_of("K1")
    Archiver(db, keep_days=30, today=_today,
             rebuild=lambda row: other(row) if row["txn_id"] in odd else own(row)).run()
    stored = _archived_bodies(tmp_path)
    assert stored["s-2026-01-05-1"] == (records["s-2026-01-05-1"].body, None)
    assert stored["s-2026-01-05-0"][0] == b""
    assert _records(db, records) == records


def test_a_rebuild_that_reads_back_otherwise_removes_nothing(tmp_path):
    path, db = _books(tmp_path)
    before = _ids(db)
    own, seen = payment_body_of("K1"), set()

    def drifting(row):  # right when the body is copied, wrong when the archive is read back
        body = own(row) + (b" " if row["txn_id"] in seen else b"")
        seen.add(row["txn_id"])
        return body

    import offline_queue.archive as archive
    with pytest.raises(archive.ArchiveMismatch):
        Archiver(db, keep_days=30, today=_today, rebuild=drifting).run()
    assert _ids(db) == before


def test_an_archive_written_before_bodies_were_stored_once_still_reads(tmp_path):
    path, db = _books(tmp_path)
    records = _records(db, _ids(db))
    Archiver(db, keep_days=30, today=_today).run()
    for month in ("2026-01", "2026-02"):
        conn = sqlite3.connect(tmp_path / "archive" / f"{month}.db")
        conn.execute("ALTER TABLE outbox DROP COLUMN body_sha256")
        conn.close()
    assert _records(db, records) == records
    found = archived_payment(db, receipt_no=records["s-2026-01-05-2"].receipt_no)
    assert found is not None and bytes(found["body"]) == records["s-2026-01-05-2"].body


def test_an_archived_payment_by_code_is_still_a_payment_by_code(tmp_path):
    path, db = _books(tmp_path, days=("2026-01-05",))
    clock = Clock()
    clock.now = datetime(2026, 1, 6, 10, 0, tzinfo=CST)
    journal = Journal(db, "K1", clock=clock)
    orders = CodeOrders(db)
    orders.open_order("S9.C1", "S9", "ACC9", 5000)
    orders.set_state("S9.C1", "paid", "GW9")
    paid = journal.commit_payment("S9.C1", "ACC9", (), (), 5000, False,
                                  code_order=orders.get("S9.C1"))
    (row_id,) = db.execute("SELECT id FROM outbox WHERE idem_key = 'S9.C1'").fetchone()
    Outbox(db).claim(row_id)
    Outbox(db).delivered(row_id, 201, "{}", 0.0)
    DailyReports(db, "K1", clock=clock).issue("2026-01-06", "op", settlement=None)
    Archiver(db, keep_days=30, today=_today, rebuild=payment_body_of("K1")).run()
    assert "S9.C1" in _archived(tmp_path)
    again = Journal(db, "K1").payment("S9.C1")
    assert (again.tender, again.gateway_ref, again.body) == ("code", "GW9", paid.body)
