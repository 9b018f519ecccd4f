"""Benchmark: does a terminal nine years old work like a new one?

``python -m benchmarks.bench_scale [--sizes 0,100000] [--full] [--commits 300] [--cache DIR]``
prints JSON. Databases of each size (``--full`` adds 1,000,000 payments, about nine years of a
busy terminal) are built through the schema (benchmarks/scale_db.py, checked against what the
journal writes) and cached under ``--cache`` keyed by schema version. For each size, in this
one run:

- the commit as the runner does it: ``commit_payment`` (with the high-water record advanced
  and WAL checkpoints on their own thread, as the terminal wires them) then ``outbox.stats()``,
  p50/p99;
- start-up: a fresh process opening the database and doing the database work of a start
  (migration check, the bounded integrity check, the high-water comparison, releasing in-flight
  rows, power-up reconciliation, the queue figures), warm, and cold: the file's pages dropped
  from the page cache first with ``posix_fadvise(POSIX_FADV_DONTNEED)`` (no root needed; the
  next read comes from the disk);
- ``queue status`` (the figures and the dead letters), ``report daily`` (build of a day),
  ``due()``;
- the queue figures two ways, to choose between them: counters kept by triggers (what the
  schema does) and partial indexes over open rows (delivered rows still need a count);
- bytes per payment.

Each figure is also given as a ratio to the empty database's in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

from benchmarks import scale_db
from benchmarks.bench_commit import fs_type, percentile
from kiosk.staff.report import DailyReports
from offline_queue.checkpoint import Checkpointer, leave_checkpoints
from offline_queue.highwater import HighWater, Record, journal_state, note_credits
from offline_queue.journal import Journal
from offline_queue.outbox import Outbox
from offline_queue.schema import connect

DEFAULT_CACHE = Path(tempfile.gettempdir()) / "kiosk-bench-scale"

_STARTUP = r"""
import sys, time, json
t0 = time.perf_counter()
from offline_queue.schema import connect
from offline_queue.startup_check import recent_problem
from offline_queue.checkpoint import Checkpointer, leave_checkpoints
from offline_queue.highwater import journal_state, note_credits
from offline_queue.journal import Journal
from offline_queue.outbox import Outbox
t1 = time.perf_counter()
db = connect(sys.argv[1])
assert recent_problem(db) is None
journal_state(db); note_credits(db)
Outbox(db).release_in_flight()
Journal(db, "K").open_sessions()
Outbox(db).stats()
t2 = time.perf_counter()
print(json.dumps({"imports_s": t1 - t0, "database_s": t2 - t1}))
"""


def _drop_cache(path: Path) -> bool:
    ok = True
    for suffix in ("", "-wal", "-shm"):
        p = Path(f"{path}{suffix}")
        if not p.exists():
            continue
        fd = os.open(str(p), os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        except (OSError, AttributeError):
            ok = False
        finally:
            os.close(fd)
    return ok


def _startup(path: Path, cold: bool) -> float:
    if cold:
        _drop_cache(path)
    out = subprocess.run([sys.executable, "-c", _STARTUP, str(path)], capture_output=True,
                         text=True, check=True, cwd=Path(__file__).resolve().parent.parent)
    return json.loads(out.stdout.strip().splitlines()[-1])["database_s"]


def _best(fn: Callable[[], Any], n: int) -> dict[str, float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return {"median_ms": round(statistics.median(times) * 1000, 3),
            "min_ms": round(min(times) * 1000, 3)}


def _stats_partial(db: Any) -> tuple:
    """The alternative to counters: open states counted over the state index's open range;
    delivered rows can only be counted by walking them."""
    open_counts = db.execute("SELECT state, count(*), sum(amount_minor) FROM outbox"
                             " WHERE state IN ('PENDING', 'IN_FLIGHT', 'DEAD') GROUP BY state").fetchall()
    delivered = db.execute("SELECT count(*) FROM outbox WHERE state = 'DELIVERED'").fetchone()[0]
    return open_counts, delivered


class _Side:
    """One database, opened as the terminal opens it, with its journal and outbox."""

    def __init__(self, path: Path, n: int, tmp: Path, commits: int) -> None:
        self.n = n
        self.db = connect(path)
        leave_checkpoints(self.db)  # as the terminal wires it: checkpoints on their own thread
        # looking more often than the terminal's 0.5 s: this commits hundreds a second, a
        # terminal a few a minute, and the log should stay as short as a terminal's
        self.checkpointer = Checkpointer(path, connect, every_s=0.1)
        water = HighWater(self.db, tmp / f"hw-{n}.json",
                          Record.of(journal_state(self.db), None, note_credits(self.db)))
        # Every size measures on the same kind of day: the day after its history ends, from
        # 07:00, every commit of the run inside it, so the day's report covers as many
        # payments at every size and only the history behind it differs.
        last = scale_db.when(max(n - 1, 0))
        self.t = last.replace(hour=7, minute=0, second=0) + timedelta(days=1)
        self.step = timedelta(seconds=max(1, min(30, 16 * 3600 // (commits + 20))))
        self.journal = Journal(self.db, scale_db.KIOSK_ID, clock=lambda: self.t,
                               on_commit=water.advance)
        self.outbox = Outbox(self.db)
        self.lat: list[int] = []

    def commit(self, i: int, keep: bool) -> None:
        self.t += self.step
        t = time.perf_counter_ns()
        self.journal.commit_payment(f"N{i:07d}", scale_db.ACCOUNTS[i % 50], dict(scale_db.NOTES),
                                    dict(scale_db.COINS), scale_db.AMOUNT, offline=True)
        self.outbox.stats()  # as the runner does after every commit
        if keep:
            self.lat.append(time.perf_counter_ns() - t)

    def reads(self) -> dict[str, Any]:
        outbox, db = self.outbox, self.db
        reports = DailyReports(db, scale_db.KIOSK_ID)
        day = self.t.date().isoformat()
        now = outbox.elapsed.now_s()
        return {
            "commit_p50_ms": round(percentile(self.lat, 0.5) / 1e6, 3),
            "commit_p99_ms": round(percentile(self.lat, 0.99) / 1e6, 3),
            # tens of microseconds each: many calls, so the median is not one scheduler hiccup
            "queue_status": _best(lambda: (outbox.stats(), outbox.dead_rows()), 300),
            "report_daily": _best(lambda: reports.build(day, settlement=None), 10),
            "report_day_payments": db.execute("SELECT count(*) FROM payments WHERE local_date = ?",
                                              (day,)).fetchone()[0],
            "due": _best(lambda: outbox.due(now), 300),
            "stats_counters": _best(outbox.stats, 300),
            "stats_partial_index": _best(lambda: _stats_partial(db), 5),
        }


def measure(paths: dict[int, Path], commits: int, tmp: Path) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for n, path in paths.items():  # start-up first, before this process has read the files
        out[n] = {"payments": n, "file_bytes": scale_db.sizes(path),
                  # the best of several fresh processes: a few milliseconds each, so one
                  # scheduler delay would otherwise be the figure
                  "startup_cold_s": round(min(_startup(path, True) for _ in range(3)), 4),
                  "startup_warm_s": round(min(_startup(path, False) for _ in range(7)), 4)}
    sides = [_Side(path, n, tmp, commits) for n, path in paths.items()]
    for side in sides:
        side.checkpointer.start()
    for i in range(commits + 20):  # one commit each in turn, the order flipped every round
        for side in (sides if i % 2 == 0 else list(reversed(sides))):
            side.commit(i, keep=i >= 20)  # the first ones warm the statement cache
    for side in sides:
        side.checkpointer.stop()
        out[side.n].update(side.reads())
        side.db.conn.close()
    return out


def run(sizes: list[int], commits: int, cache: Path, directory: str | None,
        archive_payments: int = 9000) -> dict[str, Any]:
    started = time.perf_counter()
    out: dict[str, Any] = {"benchmark": "scale", "sizes": sizes, "commits": commits}
    with tempfile.TemporaryDirectory(prefix="bench-scale-", dir=directory) as tmp_s:
        tmp = Path(tmp_s)
        scale_db.check_against_journal(tmp)
        out["rows_checked_against_journal"] = True
        build_s: dict[str, float] = {}
        copy_s: dict[str, float] = {}
        paths = {}
        for n in sizes:
            t = time.perf_counter()
            src = scale_db.cached(n, cache)
            build_s[str(n)] = round(time.perf_counter() - t, 1)
            # Measuring adds payments: every size is measured on a copy, so the cached database
            # stays as built (a run on the cache itself would find its own sessions of the last
            # run already paid, and their day's report already longer).
            t = time.perf_counter()
            paths[n] = scale_db.copy(src, tmp / src.name)
            copy_s[str(n)] = round(time.perf_counter() - t, 1)
        out["build_or_cache_s"] = build_s
        out["copy_s"] = copy_s
        per = measure(paths, commits, tmp)
        base = per[sizes[0]]
        for n in sizes:
            r = per[n]
            r["ratios_to_empty"] = {
                "commit_p50": round(r["commit_p50_ms"] / base["commit_p50_ms"], 3),
                "commit_p99": round(r["commit_p99_ms"] / base["commit_p99_ms"], 3),
                "startup_warm": round(r["startup_warm_s"] / base["startup_warm_s"], 3),
                "startup_cold": round(r["startup_cold_s"] / base["startup_cold_s"], 3),
                "queue_status": round(r["queue_status"]["median_ms"] / base["queue_status"]["median_ms"], 3),
                "report_daily": round(r["report_daily"]["median_ms"] / base["report_daily"]["median_ms"], 3),
                "due": round(r["due"]["median_ms"] / base["due"]["median_ms"], 3),
                "stats_counters": round(r["stats_counters"]["median_ms"] / base["stats_counters"]["median_ms"], 3),
                "stats_partial_index": round(r["stats_partial_index"]["median_ms"]
                                             / base["stats_partial_index"]["median_ms"], 3),
            }
            if n and sizes[0] == 0:
                r["bytes_per_payment_live"] = round((r["file_bytes"] - base["file_bytes"]) / n, 1)
        out["by_size"] = {str(n): per[n] for n in sizes}
        out["archive"] = _archive_bytes(tmp, archive_payments)
        out["filesystem"] = fs_type(tmp)
    out["elapsed_s"] = round(time.perf_counter() - started, 1)
    return out


def _archive_bytes(tmp: Path, n: int = 9000) -> dict[str, Any]:
    """Bytes per payment in a monthly archive: a month of payments built, reported, archived."""
    from datetime import date

    from offline_queue.archive import Archiver
    from offline_queue.journal import payment_body_of

    path = tmp / "arch" / "kiosk.db"
    path.parent.mkdir()
    scale_db.build(path, n)
    live_before = scale_db.sizes(path)
    db = connect(path)
    moved = Archiver(db, keep_days=0, today=lambda: date(2030, 1, 1),
                     rebuild=payment_body_of(scale_db.KIOSK_ID)).run()
    count = sum(m.payments for m in moved)
    db.execute("VACUUM")
    db.conn.close()
    arch = sum(scale_db.sizes(Path(m.path)) for m in {m.path: m for m in moved}.values())
    return {"payments_moved": count, "archive_bytes_per_payment": round(arch / max(count, 1), 1),
            "live_bytes_per_payment_before": round(live_before / n, 1),
            "live_bytes_after_vacuum": scale_db.sizes(path)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_scale",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="0,100000", help="payments per database (default 0,100000)")
    parser.add_argument("--full", action="store_true", help="add 1,000,000 payments")
    parser.add_argument("--commits", type=int, default=300, help="commits measured per size")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help=f"where built databases are kept (default {DEFAULT_CACHE})")
    parser.add_argument("--dir", default=None, help="where the temporary files go")
    parser.add_argument("--archive-payments", type=int, default=9000,
                        help="payments built and archived for the archive's bytes (default 9000)")
    args = parser.parse_args(argv)
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()} | {0})
    except ValueError:
        parser.error("--sizes wants numbers separated by commas")
    if args.full:
        sizes = sorted(set(sizes) | {1_000_000})
    if any(s < 0 for s in sizes) or args.commits < 5 or args.archive_payments < 1:
        parser.error("sizes must be 0 or more, --commits at least 5, --archive-payments 1 or more")
    return run(sizes, args.commits, args.cache, args.dir, args.archive_payments)


if __name__ == "__main__":
    sys.stdout.write(json.dumps(main(), indent=2) + "\n")
