"""Benchmark: memory over a long run. Does the terminal leak, or only fill caches?

``python -m benchmarks.bench_soak [--sessions 1000] [--chunk 200] [--warmup 200]
[--poll-ms 10] [--dir PATH] [--minutes M] [--trace FRAMES]`` prints JSON (``--trace``: where
the Python heap grew after warm-up, by tracemalloc; ``--minutes``: stop at a sample after M); the soak proper is ``--sessions 10000 --chunk 500
--warmup 2000`` (about 16 minutes on a quiet 2-core build machine, so not the default that
``make bench`` runs). One terminal (``Terminal`` on the simulated devices,
as ``kiosk simulate`` runs it, with a fast device poll) takes scripted resident sessions against
the reference server running as its own process (so only the terminal's memory is read). After
each chunk the process's resident set (``VmRSS`` in /proc/self/status, after a garbage
collection; with ``--trace``, less tracemalloc's own memory) is sampled, with SQLite's own heap
and the thread count beside it; the growth per 1,000 sessions after warm-up is the least-squares slope
over the samples, so one late allocation does not read as a trend.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

from benchmarks.bench_server import TOKEN, _free_port


def rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def sqlite_heap_kb() -> int | None:
    """SQLite's own heap in this process (its page caches, statements, schemas): the memory
    tracemalloc cannot see. ``sqlite3_memory_used()`` is reached through the library the
    ``_sqlite3`` module is linked against; None where that library does not export it."""
    import ctypes

    import _sqlite3

    try:
        used = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
    except (AttributeError, OSError):
        return None
    used.restype = ctypes.c_int64
    return used() // 1024


def slope(xs: list[float], ys: list[float]) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def _empty_trays(hub: Any) -> None:
    """The simulated devices run in this process and keep what a bench inspects (the
    printer's receipts, ccTalk's request log, up to 100,000 frames): the paper leaves with the
    resident and the log is the bench's, so neither is the terminal's memory."""
    for sim in list(hub.sims.values()):
        for name in ("receipts", "request_log"):
            kept = getattr(sim, name, None)
            if kept is not None and hasattr(kept, "clear"):
                kept.clear()


def _growth(first: Any, last: Any, top: int = 12) -> list[dict[str, Any]]:
    """Where the Python heap grew between two tracemalloc snapshots, largest first."""
    stats = last.compare_to(first, "traceback")
    return [{"kib": round(st.size_diff / 1024, 1), "blocks": st.count_diff,
             "where": [f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno}" for f in st.traceback[-4:]]}
            for st in stats[:top] if st.size_diff > 0]


def run(sessions: int, chunk: int, warmup: int, poll_ms: int, directory: str | None,
        trace: int = 0, minutes: float | None = None) -> dict[str, Any]:
    """``minutes``: stop at the first chunk boundary after this long (the run reports the
    sessions it did)."""
    import argparse as ap

    from drivers.transport import SimulatorHub
    from kiosk.cli.config_args import config
    from kiosk.cli.server import seeded_residents
    from kiosk.services.scripted_resident import run_sessions
    from kiosk.services.terminal import Terminal

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-soak-", dir=directory) as tmp:
        root = Path(__file__).resolve().parent.parent
        port = _free_port()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [str(root), os.environ.get("PYTHONPATH", "")]))}
        server = subprocess.Popen(
            [sys.executable, "-m", "billing_server", "--port", str(port), "--db",
             str(Path(tmp) / "ledger.db"), "--enrol-token", TOKEN], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, env=env, cwd=root, start_new_session=True)
        try:
            if "listening" not in server.stdout.readline():
                raise RuntimeError("the billing server did not start")
            cfg = config(ap.Namespace(config=None), db=str(Path(tmp) / "kiosk.db"),
                         api=f"http://127.0.0.1:{port}", kiosk_id="KIOSK-SOAK",
                         state_dir=str(Path(tmp) / "state"), poll_ms=poll_ms, enrol_token=TOKEN)
            os.makedirs(cfg.kiosk.state_dir, mode=0o700, exist_ok=True)
            hub = SimulatorHub(cfg.kiosk.state_dir)
            term = Terminal(cfg, hub)
            term.start()
            samples: list[tuple[int, int]] = []
            sqlite_kb: list[int | None] = []
            threads: list[int] = []
            done = failed = 0
            heap: list[tuple[int, Any]] = []  # (sessions, snapshot) with --trace
            residents = seeded_residents()
            try:
                stop_at = None if minutes is None else time.monotonic() + minutes * 60
                while done < sessions and (stop_at is None or time.monotonic() < stop_at):
                    n = min(chunk, sessions - done)
                    report = run_sessions(term, n, residents, seed=done + 1)
                    done += n
                    failed += report.failed
                    _empty_trays(hub)
                    gc.collect()
                    # tracemalloc's own bookkeeping grows with what it traces: not the terminal's
                    samples.append((done, rss_kb() - tracemalloc.get_tracemalloc_memory() // 1024))
                    sqlite_kb.append(sqlite_heap_kb())
                    threads.append(threading.active_count())
                    sys.stderr.write(f"soak: {done} sessions, {failed} failed, RSS "
                                     f"{samples[-1][1] / 1024:.1f} MB, SQLite {sqlite_kb[-1]} KiB,"
                                     f" {threads[-1]} threads, {time.perf_counter() - started:.0f} s\n")
                    if trace and done >= warmup:
                        if not tracemalloc.is_tracing():
                            tracemalloc.start(trace)  # after warm-up: what grows from here on
                        heap.append((done, tracemalloc.take_snapshot()))
                        if len(heap) >= 3:  # so far, in case the run is cut short
                            sys.stderr.write(json.dumps({"heap_growth": _growth(
                                heap[1][1], heap[-1][1], 6)}) + "\n")
                            del heap[2:-1]  # only the first two and the newest are compared
            finally:
                term.stop()
        finally:
            server.terminate()
            server.wait(10)
    after = [(s, r) for s, r in samples if s > warmup]
    growth = slope([s / 1000 for s, _ in after], [r / 1024 for _, r in after]) if len(after) >= 2 else None
    lite = [(s, k) for (s, _), k in zip(samples, sqlite_kb) if s > warmup and k is not None]
    lite_growth = (slope([s / 1000 for s, _ in lite], [k / 1024 for _, k in lite])
                   if len(lite) >= 2 else None)
    return {
        "benchmark": "soak", "sessions": done, "sessions_asked": sessions,
        "failed_sessions": failed, "chunk": chunk,
        "warmup_sessions": warmup, "poll_ms": poll_ms,
        "rss_mb_samples": [(s, round(r / 1024, 2)) for s, r in samples],
        "rss_growth_mb_per_1000_after_warmup": None if growth is None else round(growth, 3),
        "sqlite_heap_mb_samples": [(s, None if k is None else round(k / 1024, 2))
                                   for (s, _), k in zip(samples, sqlite_kb)],
        "sqlite_heap_growth_mb_per_1000_after_warmup": (None if lite_growth is None
                                                        else round(lite_growth, 3)),
        "threads_samples": [(s, t) for (s, _), t in zip(samples, threads)],
        "elapsed_s": round(time.perf_counter() - started, 1),
        **({"heap_growth_after_warmup": {
            "from_sessions": heap[1][0], "to_sessions": heap[-1][0],
            "python_heap_kib": round(sum(st.size_diff for st in heap[-1][1].compare_to(
                heap[1][1], "filename")) / 1024, 1),
            "top": _growth(heap[1][1], heap[-1][1])}} if len(heap) >= 3 else {}),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_soak",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--chunk", type=int, default=200, help="sessions between samples")
    parser.add_argument("--warmup", type=int, default=200, help="sessions before the slope counts")
    parser.add_argument("--poll-ms", type=int, default=10, help="device poll interval (the fastest the config allows)")
    parser.add_argument("--dir", default=None)
    parser.add_argument("--minutes", type=float, default=None,
                        help="stop at the first sample after this many minutes")
    parser.add_argument("--trace", type=int, default=0, metavar="FRAMES",
                        help="after warm-up, trace Python allocations (tracemalloc, FRAMES deep)"
                             " and report where the heap grew")
    args = parser.parse_args(argv)
    if args.sessions < 1 or args.chunk < 1 or args.warmup < 0 or args.poll_ms < 1:
        parser.error("--sessions, --chunk and --poll-ms must be positive, --warmup 0 or more")
    if args.trace < 0 or (args.minutes is not None and args.minutes <= 0):
        parser.error("--trace must be 0 or more, --minutes more than 0")
    return run(args.sessions, args.chunk, args.warmup, args.poll_ms, args.dir, args.trace,
               args.minutes)


if __name__ == "__main__":
    sys.stdout.write(json.dumps(main(), indent=2) + "\n")
