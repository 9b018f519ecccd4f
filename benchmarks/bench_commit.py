"""Benchmark: one payment commit through ``Journal.commit_payment`` against raw ``sqlite3`` writing
the same rows (same schema, same WAL + synchronous=FULL, one BEGIN/COMMIT per payment).

``python -m benchmarks.bench_commit [--n 2000] [--dir PATH]`` prints JSON. The two databases sit
in one temporary directory and the commits alternate one by one (the order flips every round), so a
noisy disk hurts both sides alike. Reported as a ratio measured in this run, never pass/fail.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from billing_server.seed import DEMO_ACCOUNTS
from offline_queue.highwater import HighWater, Record, journal_state, record_path
from offline_queue.journal import Journal, local_now
from offline_queue.schema import MIGRATIONS, SCHEMA_VERSION, connect
from sqlite_utils import Database

log = logging.getLogger(__name__)

KIOSK_ID = "KIOSK-BENCH"
WARMUP = 20
# One ¥100 note, one ¥20 note and three ¥1 coins: a typical bill, in fen.
NOTES = {10_000: 1, 2_000: 1}
COINS = {100: 3}
AMOUNT = 12_300


def percentile(values: list[int], q: float) -> int:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def fs_type(path: str | Path) -> str:
    """The file system the path lives on (on tmpfs fsync is free and the numbers mean nothing)."""
    best, kind = "", "unknown"
    target = os.path.realpath(path)
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                parts = line.split()
                mount = parts[1] if len(parts) >= 3 else ""
                inside = target == mount or target.startswith(mount.rstrip("/") + "/")
                if mount and inside and len(mount) > len(best):
                    best, kind = mount, parts[2]
    except OSError:
        pass
    return kind


def raw_connect(path: Path) -> sqlite3.Connection:
    """The baseline: plain sqlite3, the same pragmas and the same tables, indexes and triggers."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    for script in MIGRATIONS:
        if callable(script):  # a step written as a function (offline_queue/schema.py)
            script(Database(conn))
        else:
            conn.executescript(script)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return conn


def raw_commit(conn: sqlite3.Connection, session_id: str, account_no: str, now: datetime,
               elapsed_ms: int = 0) -> None:
    """What a hand-written commit does: build the same body, then the same statements in one
    transaction (the elapsed clock's save included). No idempotency look-up first (Journal does
    one: that is part of its cost)."""
    created_at = now.isoformat(timespec="seconds")
    notes = {str(k): v for k, v in sorted(NOTES.items())}
    coins = {str(k): v for k, v in sorted(COINS.items())}
    body = json.dumps(
        {"kiosk_id": KIOSK_ID, "txn_id": session_id, "account_no": account_no,
         "amount_minor": AMOUNT, "currency": "CNY", "tender": "cash", "notes": notes,
         "coins": coins, "created_at": created_at, "offline": True},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    ).encode()
    at = now.isoformat(timespec="milliseconds")
    conn.execute("BEGIN")
    try:
        counter = f"receipt:{now:%Y%m%d}"
        conn.execute("INSERT INTO counters (name, value) VALUES (?, 1)"
                     " ON CONFLICT(name) DO UPDATE SET value = value + 1", (counter,))
        number = conn.execute("SELECT value FROM counters WHERE name = ?", (counter,)).fetchone()[0]
        receipt_no = f"{KIOSK_ID}-{now:%Y%m%d}-{number:05d}"
        conn.execute(
            "INSERT INTO payments (txn_id, session_id, account_no, amount_minor, notes, coins,"
            " created_at, local_date, offline, receipt_no, recovered)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (session_id, session_id, account_no, AMOUNT, json.dumps(notes), json.dumps(coins),
             created_at, now.date().isoformat(), 1, receipt_no, 0),
        )
        conn.execute("INSERT INTO meta (key, value) VALUES ('elapsed_ms', ?) ON CONFLICT(key)"
                     " DO UPDATE SET value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
                     (elapsed_ms,))
        conn.execute(
            "INSERT INTO outbox (kind, idem_key, account_no, body, amount_minor,"
            " created_at, enqueued_elapsed_ms)"
            " VALUES ('payment', ?, ?, ?, ?, ?, ?)",
            (session_id, account_no, body, AMOUNT, now.timestamp(), elapsed_ms),
        )
        journal_sql = ("INSERT INTO journal (session_id, seq, kind, tender, value_minor, data, at)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?)")
        conn.execute(journal_sql, (session_id, None, "payment", "cash", AMOUNT,
                                   json.dumps({"receipt_no": receipt_no, "txn_id": session_id},
                                              sort_keys=True), at))
        conn.execute(journal_sql, (session_id, None, "session_end", None, None,
                                   json.dumps({"outcome": "paid"}, sort_keys=True), at))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _summary(latencies_ns: list[int]) -> dict[str, Any]:
    total_s = sum(latencies_ns) / 1e9
    return {
        "ops_per_s": round(len(latencies_ns) / total_s, 1),
        "mean_us": round(sum(latencies_ns) / len(latencies_ns) / 1000, 1),
        "p50_us": round(percentile(latencies_ns, 0.50) / 1000, 1),
        "p99_us": round(percentile(latencies_ns, 0.99) / 1000, 1),
    }


def _count(conn: sqlite3.Connection, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def run(n: int, directory: str | None = None, highwater: bool = True) -> dict[str, Any]:
    """Commit ``n`` payments each way, alternating, and return the summary."""
    if n < 1:
        raise ValueError("n must be at least 1")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-commit-", dir=directory) as tmp:
        ours_db = connect(Path(tmp) / "ours.db")
        raw = raw_connect(Path(tmp) / "raw.db")
        # As the terminal runs: the high-water record outside the database follows each commit.
        water = (HighWater(ours_db, record_path(tmp), Record.of(journal_state(ours_db)))
                 if highwater else None)
        journal = Journal(ours_db, KIOSK_ID, on_commit=water.advance if water else None)
        accounts = [a.account_no for a in DEMO_ACCOUNTS]

        def ours(i: int) -> None:
            journal.commit_payment(f"S{i:08d}", accounts[i % len(accounts)], NOTES, COINS, AMOUNT,
                                   offline=True)

        def baseline(i: int) -> None:
            raw_commit(raw, f"S{i:08d}", accounts[i % len(accounts)], local_now())

        for i in range(WARMUP):  # file growth, page cache and statement cache, not measured
            ours(n + i)
            baseline(n + i)
        times: dict[str, list[int]] = {"ours": [], "raw": []}
        sides: list[tuple[str, Callable[[int], None]]] = [("ours", ours), ("raw", baseline)]
        for i in range(n):
            for name, fn in sides if i % 2 == 0 else reversed(sides):
                t0 = time.perf_counter_ns()
                fn(i)
                times[name].append(time.perf_counter_ns() - t0)
        rows = {
            "ours": {t: _count(ours_db.conn, t) for t in ("payments", "outbox", "journal")},
            "raw": {t: _count(raw, t) for t in ("payments", "outbox", "journal")},
        }
        ours_db.conn.close()
        raw.close()
        fs = fs_type(tmp)
    expected = {"payments": n + WARMUP, "outbox": n + WARMUP, "journal": 2 * (n + WARMUP)}
    if rows["ours"] != expected or rows["raw"] != expected:
        raise AssertionError(f"row counts {rows} differ from {expected}")
    ours_s, raw_s = _summary(times["ours"]), _summary(times["raw"])
    return {
        "benchmark": "commit",
        "n": n,
        "pragmas": "journal_mode=WAL synchronous=FULL",
        "filesystem": fs,
        "rows_per_payment": "1 payment + 1 outbox + 2 journal + receipt counter",
        "highwater_record": highwater,
        "ours": ours_s,
        "raw": raw_s,
        "ratio_ours_over_raw": round(ours_s["mean_us"] / raw_s["mean_us"], 3),
        "ratio_p50_ours_over_raw": round(ours_s["p50_us"] / raw_s["p50_us"], 3),
        "ratio_means": "time per commit, ours / raw sqlite3 (1.0 = no overhead)",
        "elapsed_s": round(time.perf_counter() - started, 2),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_commit",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="payments per side (default 2000)")
    parser.add_argument("--dir", default=None,
                        help="where the temporary databases go (default: the system temp dir)")
    parser.add_argument("--no-highwater", action="store_true",
                        help="commit without advancing the journal's high-water record")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    return run(args.n, args.dir, highwater=not args.no_highwater)


if __name__ == "__main__":
    sys.stdout.write(json.dumps(main(), indent=2) + "\n")
