"""The bill validator poll benchmarks' shared machinery (benchmarks/bench_<protocol>_poll.py):
poll period against the configured interval, and two latencies -- the device's safe event
becoming available in the simulator → NoteCredited at the post callable, and the host's
``stack()`` → NoteCredited (what a resident waits for) -- driver and simulator over a real pty,
built from the protocol's registry entry, first on a quiet machine, then with busy processes
burning CPU.

``python -m benchmarks.bench_<protocol>_poll [--seconds 6] [--interval 0.1] [--load N]`` prints
JSON. Ratios to the configured interval are the result; nothing passes or fails on absolute
times.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import queue
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from drivers import registry
from drivers.interfaces import DeviceEvent, NoteCredited, NoteEscrowed, PowerUp
from drivers.transport import open_port

MAX_PHASE_S = 11.0  # two phases + set-up stay under 30 s whatever the arguments say
BURN = "import time\nend = time.monotonic() + {s}\nwhile time.monotonic() < end:\n    pass\n"
NOTE_MINOR = 1000  # 10 yuan: a channel in every protocol's default table


@dataclass(frozen=True)
class Timing:
    """Where a protocol's simulator answers a poll, and the stage at which its safe event is
    there for the next answer to carry (ID-003 VEND VALID, CCNET BILL STACKED, eSSP CREDIT)."""

    protocol: str
    poll_method: str
    safe_stage: str


def timed_simulator(t: Timing) -> type:
    """The protocol's simulator, noting when each poll arrives and when the safe event appears."""
    base = registry.entry(t.protocol).simulator()

    class Timed(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            self.polls: list[float] = []
            self.safe_at: list[float] = []

        def _set_stage(self, stage: str | None) -> None:
            super()._set_stage(stage)
            if stage == t.safe_stage:
                self.safe_at.append(time.monotonic())

    poll = getattr(base, t.poll_method)

    def timed_poll(self: Any, *args: Any) -> Any:
        self.polls.append(time.monotonic())
        return poll(self, *args)

    setattr(Timed, t.poll_method, timed_poll)
    return Timed


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


def phase(t: Timing, seconds: float, interval: float) -> dict[str, Any]:
    """Note after note for ``seconds``: insert, escrow, stack, credit."""
    entry = registry.entry(t.protocol)
    options = entry.options()
    sim = timed_simulator(t)()
    sim.start_on_pty()
    events: queue.Queue[tuple[float, DeviceEvent]] = queue.Queue()
    port = open_port(sim.port_path, entry.line_settings(options))
    driver = entry.open_driver(registry.DriverSetup("bench", port, options,
                                                    poll_interval_s=interval))
    driver.start(lambda event: events.put((time.monotonic(), event)))
    latencies: list[float] = []
    stack_to_credit: list[float] = []
    errors = 0
    try:
        _wait(events, PowerUp, time.monotonic() + 5)
        driver.enable(frozenset(options.channels.values()))
        ready_by = time.monotonic() + 5
        while not sim.ready_for_note and time.monotonic() < ready_by:
            time.sleep(interval / 4)
        first_poll = len(sim.polls)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                sim.insert_note(NOTE_MINOR)
                _wait(events, NoteEscrowed, end + 2)
                stacked = time.monotonic()
                driver.stack()
                credited = _wait(events, NoteCredited, end + 2)
                latencies.append(credited - sim.safe_at[-1])
                stack_to_credit.append(credited - stacked)
                while not sim.ready_for_note and time.monotonic() < end + 2:
                    time.sleep(interval / 4)
            except (TimeoutError, ValueError, IndexError, queue.Empty):
                errors += 1
        polls = sim.polls[first_poll:]
    finally:
        driver.stop()
        sim.stop()
    periods = [b - a for a, b in itertools.pairwise(polls)]
    result: dict[str, Any] = {"poll_periods": len(periods), "notes_credited": len(latencies)}
    for label, values in (("poll_period", periods), ("credit_latency", latencies),
                          ("stack_to_credit", stack_to_credit)):
        for q in (50, 99):
            value = _pct(values, q / 100)
            result[f"{label}_p{q}_s"] = None if value is None else round(value, 5)
            # relative to the configured poll interval: the driver's own time unit
            result[f"{label}_p{q}_ratio"] = None if value is None else round(value / interval, 3)
    return {**result, "cycle_errors": errors, "driver_stats": dict(driver.stats)}


def run(t: Timing, seconds: float, interval: float, load: int) -> dict[str, Any]:
    seconds = min(seconds, MAX_PHASE_S)
    started = time.monotonic()
    quiet = phase(t, seconds, interval)
    burners = [subprocess.Popen([sys.executable, "-c", BURN.format(s=seconds + 5)])
               for _ in range(load)]
    try:
        loaded = phase(t, seconds, interval)
    finally:
        for proc in burners:
            proc.terminate()
        for proc in burners:
            proc.wait(timeout=5)
    return {
        "benchmark": f"{t.protocol}_poll",
        "configured_interval_s": interval,
        "cpus": os.cpu_count(),
        "quiet": quiet,
        "loaded": {"busy_processes": load, **loaded},
        "loaded_vs_quiet_poll_p99": (
            round(loaded["poll_period_p99_s"] / quiet["poll_period_p99_s"], 3)
            if loaded["poll_period_p99_s"] and quiet["poll_period_p99_s"] else None),
        "runtime_s": round(time.monotonic() - started, 2),
    }


def main_for(t: Timing, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.bench_{t.protocol}_poll")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each phase")
    parser.add_argument("--interval", type=float, default=0.1, help="configured poll interval")
    parser.add_argument("--load", type=int, default=os.cpu_count() or 2,
                        help="busy processes in the loaded phase")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.interval <= 0 or args.load < 0:
        parser.error("--seconds and --interval must be positive, --load not negative")
    sys.stdout.write(json.dumps(run(t, args.seconds, args.interval, args.load), indent=2) + "\n")
    return 0
