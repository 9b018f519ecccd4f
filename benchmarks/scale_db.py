"""Databases of many payments built quickly through the schema, for benchmarks/bench_scale.py.

Each payment is the rows a resident's session leaves (what ``kiosk simulate`` writes): a
session start, two notes escrowed and stacked, two note credits and three coin credits, the
payment row, its outbox row (delivered, with the server's answer) and the payment and session
end journal rows; every day of 300 payments is reported. ``rows_for`` builds them without the
journal's per-payment transaction (bulk ``executemany`` in large transactions, the schema's
triggers still firing); ``check_against_journal`` proves they equal what ``Journal`` writes.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from offline_queue.gateway import PAYMENT
from offline_queue.http_gateway import encode
from offline_queue.journal import Journal, PaymentRecord, tally
from offline_queue.schema import SCHEMA_VERSION, connect

KIOSK_ID = "KIOSK-SCALE"
PER_DAY = 300
CST = timezone(timedelta(hours=8))
START = datetime(2017, 1, 2, 8, 0, tzinfo=CST)
NOTES = ((2_000, 1), (10_000, 1))
COINS = ((100, 3),)
AMOUNT = 12_300
ACCOUNTS = [f"{3_100_000_000 + i * 7919:010d}" for i in range(2000)]
BUILD = 1  # bump when the rows change: cached databases are keyed by it and the schema


def when(i: int, start: datetime = START, per_day: int = PER_DAY) -> datetime:
    day, slot = divmod(i, per_day)
    return start + timedelta(days=day, seconds=slot * (45_000 // per_day or 1))


def _j(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True)


def rows_for(i: int, *, kiosk_id: str = KIOSK_ID, accounts: list[str] = ACCOUNTS,
             start: datetime = START, per_day: int = PER_DAY,
             pending: bool = False) -> dict[str, list[tuple]]:
    """The rows of payment ``i`` as Journal writes them (ids left to SQLite); delivered, or
    with ``pending`` taken offline and still queued (benchmarks/bench_drain.py's backlog)."""
    t = when(i, start, per_day)
    sid, account = f"S{i:09d}", accounts[i % len(accounts)]
    ms = t.isoformat(timespec="milliseconds")
    created = t.isoformat(timespec="seconds")
    receipt = f"{kiosk_id}-{t:%Y%m%d}-{i % per_day + 1:05d}"
    journal = [(sid, None, "session_start", None, None,
                _j({"account_no": account, "target_minor": AMOUNT}), ms)]
    seq = 0
    for value, _n in reversed(NOTES):
        seq += 1
        journal.append((sid, seq, "escrow", "note", value, _j({"decision": "stack", "reason": ""}), ms))
        journal.append((sid, seq, "credit", "note", value, "{}", ms))
    for value, n in COINS:
        for _ in range(n):
            seq += 1
            journal.append((sid, seq, "credit", "coin", value, "{}", ms))
    journal.append((sid, None, "payment", "cash", AMOUNT, _j({"receipt_no": receipt, "txn_id": sid}), ms))
    journal.append((sid, None, "session_end", None, None, _j({"outcome": "paid"}), ms))
    record = PaymentRecord(kiosk_id, sid, sid, account, AMOUNT, receipt, created, pending,
                           tally(NOTES), tally(COINS))
    body = encode(PAYMENT, record)
    payments = [(sid, sid, account, AMOUNT, json.dumps({str(v): n for v, n in NOTES}),
                 json.dumps({str(v): n for v, n in COINS}), created, t.date().isoformat(),
                 int(pending), receipt, 0)]
    if pending:
        return {"journal": journal, "payments": payments, "outbox": [
            (PAYMENT, sid, account, body, AMOUNT, t.timestamp(), i * 1000, "PENDING", 0, None,
             None, None)]}
    answer = json.dumps({"payment_id": f"PAY-{i + 1:08d}", "txn_id": sid, "kiosk_id": kiosk_id,
                         "account_no": account, "amount_minor": AMOUNT, "arrears_minor": 0,
                         "balance_minor": AMOUNT, "receipt_ref": f"R{t:%Y%m%d}-{i + 1:06d}",
                         "accepted_at": t.astimezone(timezone.utc).isoformat()}, separators=(",", ":"))
    outbox = [(PAYMENT, sid, account, body, AMOUNT, t.timestamp(), i * 1000, "DELIVERED", 1, 201,
               answer, t.timestamp() + 2.0)]
    return {"journal": journal, "payments": payments, "outbox": outbox}


SQL = {
    "journal": "INSERT INTO journal (session_id, seq, kind, tender, value_minor, data, at)"
               " VALUES (?, ?, ?, ?, ?, ?, ?)",
    "payments": "INSERT INTO payments (txn_id, session_id, account_no, amount_minor, notes, coins,"
                " created_at, local_date, offline, receipt_no, recovered)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "outbox": "INSERT INTO outbox (kind, idem_key, account_no, body, amount_minor, created_at,"
              " enqueued_elapsed_ms, state, attempts, status_code, response, delivered_at)"
              " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
}


def build(path: Path, n: int, batch: int = 20_000) -> None:
    """A database of ``n`` delivered, reported payments at ``path`` (replaced)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    db = connect(path)
    conn = db.conn
    conn.execute("PRAGMA synchronous=OFF")  # building only; measured with the terminal's pragmas
    days = (n + PER_DAY - 1) // PER_DAY
    for start in range(0, n, batch):
        conn.execute("BEGIN")
        acc: dict[str, list[tuple]] = {"journal": [], "payments": [], "outbox": []}
        for i in range(start, min(n, start + batch)):
            for table, rows in rows_for(i).items():
                acc[table].extend(rows)
        for table in ("payments", "outbox", "journal"):
            conn.executemany(SQL[table], acc[table])
        conn.execute("COMMIT")
    conn.execute("BEGIN")
    for d in range(days):
        day = (START + timedelta(days=d)).date().isoformat()
        conn.execute("INSERT INTO report_runs (seq, report_date, generated_at, generated_by, summary)"
                     " VALUES (?, ?, ?, 'op', '{}')", (d + 1, day, day + "T22:00:00+08:00"))
    conn.execute("INSERT INTO reported_payments (txn_id, report_seq, delivered)"
                 " SELECT txn_id, CAST(julianday(local_date) - julianday(?) AS INTEGER) + 1, 1"
                 " FROM payments", (START.date().isoformat(),))
    for day in range(days):  # the receipt counters the journal would have left
        t = START + timedelta(days=day)
        count = min(PER_DAY, n - day * PER_DAY)
        conn.execute("INSERT INTO counters (name, value) VALUES (?, ?)",
                     (f"receipt:{t:%Y%m%d}", count))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def cached(n: int, cache_dir: Path) -> Path:
    """The database of ``n`` payments, built once per schema version and row build."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"scale-v{SCHEMA_VERSION}-b{BUILD}-{n}.db"
    if not path.exists():
        tmp = cache_dir / f"{path.name}.building"
        build(tmp, n)
        os.replace(tmp, path)
        for suffix in ("-wal", "-shm"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    return path


def copy(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    return dst


def check_against_journal(directory: Path, i: int = 301) -> None:
    """Payment ``i`` written by the real Journal equals ``rows_for(i)`` (AssertionError if not)."""
    path = directory / "check.db"
    db = connect(path)
    t = when(i)
    # receipt numbers count within the day: start the counter where the bulk rows say
    db.execute("INSERT INTO counters (name, value) VALUES (?, ?)", (f"receipt:{t:%Y%m%d}", i % PER_DAY))
    j = Journal(db, KIOSK_ID, clock=lambda: t)
    sid, account = f"S{i:09d}", ACCOUNTS[i % len(ACCOUNTS)]
    j.session_start(sid, account, AMOUNT)
    seq = 0
    for value, _n in reversed(NOTES):
        seq += 1
        j.escrow(sid, seq, value, "stack")
        j.credit(sid, seq, "note", value)
    for value, n in COINS:
        for _ in range(n):
            seq += 1
            j.credit(sid, seq, "coin", value)
    j.commit_payment(sid, account, dict(NOTES), dict(COINS), AMOUNT, offline=False)
    want = rows_for(i)
    got_journal = [tuple(r) for r in db.execute(
        "SELECT session_id, seq, kind, tender, value_minor, data, at FROM journal ORDER BY id")]
    got_pay = [tuple(r) for r in db.execute(
        "SELECT txn_id, session_id, account_no, amount_minor, notes, coins, created_at, local_date,"
        " offline, receipt_no, recovered FROM payments")]
    got_box = [tuple(r) for r in db.execute(
        "SELECT kind, idem_key, account_no, body, amount_minor, created_at FROM outbox")]
    db.conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if got_journal != want["journal"]:
        raise AssertionError(f"journal rows differ:\n{got_journal}\n{want['journal']}")
    if got_pay != want["payments"]:
        raise AssertionError(f"payment row differs:\n{got_pay}\n{want['payments']}")
    if got_box != [r[:6] for r in want["outbox"]]:
        raise AssertionError(f"outbox row differs:\n{got_box}\n{want['outbox']}")


def sizes(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return sum(Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists())
