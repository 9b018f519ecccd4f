"""Benchmark: ID-003 poll period against the configured interval, and the latency from VEND
VALID becoming available in the simulator to NoteCredited reaching the post callable -- driver
and simulator over a real pty, first on a quiet machine, then with busy processes burning CPU.

``python -m benchmarks.bench_id003_poll [--seconds 6] [--interval 0.1] [--load N]`` prints JSON.
Ratios to the configured interval are the result; nothing passes or fails on absolute times.
The simulator makes VEND VALID available right after it answers STACKING, so the credit latency
is one poll period at best: a ratio near 1.0 means no time is lost between the wire and post.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import time
from typing import Any

from drivers.bill_validator.id003 import protocol as p
from drivers.bill_validator.id003.driver import LINE_SETTINGS, Id003Driver
from drivers.bill_validator.id003.simulator import Id003Simulator
from drivers.interfaces import DeviceEvent, NoteCredited, NoteEscrowed, PowerUp
from drivers.transport import open_port

MAX_PHASE_S = 11.0  # two phases + set-up stay under 30 s whatever the arguments say
BURN = "import time\nend = time.monotonic() + {s}\nwhile time.monotonic() < end:\n    pass\n"


class _TimedSimulator(Id003Simulator):
    """The simulator, noting when each status request arrives and when VEND VALID appears."""

    def __init__(self) -> None:
        super().__init__()
        self.polls: list[float] = []
        self.vend_valid_at: list[float] = []

    def _report_status(self) -> bytes:
        self.polls.append(time.monotonic())
        return super()._report_status()

    def _set_stage(self, stage: str | None) -> None:
        super()._set_stage(stage)
        if stage == "vend_valid":
            self.vend_valid_at.append(time.monotonic())


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _wait(events: queue.Queue[tuple[float, DeviceEvent]], kind: type, until: float) -> float:
    while True:
        left = until - time.monotonic()
        if left <= 0:
            raise TimeoutError(kind.__name__)
        stamp, event = events.get(timeout=left)
        if isinstance(event, kind):
            return stamp


def phase(seconds: float, interval: float) -> dict[str, Any]:
    """Note after note for ``seconds``: insert, escrow, stack, credit."""
    sim = _TimedSimulator()
    sim.start_on_pty()
    events: queue.Queue[tuple[float, DeviceEvent]] = queue.Queue()
    driver = Id003Driver("bench", open_port(sim.port_path, LINE_SETTINGS), p.cny_channels(),
                         poll_interval=interval, owns_port=True)
    driver.start(lambda event: events.put((time.monotonic(), event)))
    latencies: list[float] = []
    errors = 0
    try:
        _wait(events, PowerUp, time.monotonic() + 5)
        driver.enable(frozenset(p.CNY_CODE_VALUES.values()))
        time.sleep(3 * interval)
        first_poll = len(sim.polls)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                sim.insert_note(1000)
                _wait(events, NoteEscrowed, end + 2)
                driver.stack()
                credited = _wait(events, NoteCredited, end + 2)
                latencies.append(credited - sim.vend_valid_at[-1])
                while "idle" not in sim.status_line() and time.monotonic() < end + 2:
                    time.sleep(interval / 4)
            except (TimeoutError, ValueError, queue.Empty):
                errors += 1
        polls = sim.polls[first_poll:]
    finally:
        driver.stop()
        sim.stop()
    periods = [b - a for a, b in zip(polls, polls[1:])]
    result: dict[str, Any] = {"poll_periods": len(periods), "notes_credited": len(latencies)}
    for label, values in (("poll_period", periods), ("credit_latency", latencies)):
        for q in (50, 99):
            value = _pct(values, q / 100)
            result[f"{label}_p{q}_s"] = None if value is None else round(value, 5)
            # relative to the configured poll interval: the driver's own time unit
            result[f"{label}_p{q}_ratio"] = None if value is None else round(value / interval, 3)
    return {
        **result,
        "cycle_errors": errors,
        "driver_stats": dict(driver.stats),
    }


def run(seconds: float, interval: float, load: int) -> dict[str, Any]:
    seconds = min(seconds, MAX_PHASE_S)
    started = time.monotonic()
    quiet = phase(seconds, interval)
    burners = [subprocess.Popen([sys.executable, "-c", BURN.format(s=seconds + 5)])
               for _ in range(load)]
    try:
        loaded = phase(seconds, interval)
    finally:
        for proc in burners:
            proc.terminate()
        for proc in burners:
            proc.wait(timeout=5)
    return {
        "benchmark": "id003_poll",
        "configured_interval_s": interval,
        "cpus": os.cpu_count(),
        "quiet": quiet,
        "loaded": {"busy_processes": load, **loaded},
        "loaded_vs_quiet_poll_p99": (
            round(loaded["poll_period_p99_s"] / quiet["poll_period_p99_s"], 3)
            if loaded["poll_period_p99_s"] and quiet["poll_period_p99_s"] else None),
        "runtime_s": round(time.monotonic() - started, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_id003_poll")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each phase")
    parser.add_argument("--interval", type=float, default=0.1, help="configured poll interval")
    parser.add_argument("--load", type=int, default=os.cpu_count() or 2,
                        help="busy processes in the loaded phase")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.interval <= 0 or args.load < 0:
        parser.error("--seconds and --interval must be positive, --load not negative")
    sys.stdout.write(json.dumps(run(args.seconds, args.interval, args.load), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
