"""Benchmark: ccTalk poll period against the configured interval, and coin-insert → CoinCredited
latency, driver and simulator over a real pty while background processes burn CPU.

``python -m benchmarks.bench_cctalk_poll [--seconds 8] [--interval 0.1] [--load N]`` prints JSON.
Reported as ratios to the configured interval, never pass/fail on absolute times.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue
import random
import sys
import time
from typing import Any

from drivers.coin_acceptor.cctalk import protocol as p
from drivers.coin_acceptor.cctalk.driver import CcTalkDriver
from drivers.coin_acceptor.cctalk.simulator import DEFAULT_CHANNELS, CcTalkSimulator
from drivers.interfaces import CoinCredited, DeviceEvent
from drivers.transport import LineSettings, open_port

HARD_LIMIT_S = 25.0


def _burn(until: float) -> None:
    x = 0
    while time.time() < until:
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(seconds: float, interval: float, load: int) -> dict[str, Any]:
    seconds = min(seconds, HARD_LIMIT_S - 5)
    ctx = multiprocessing.get_context("spawn")
    burners = [
        ctx.Process(target=_burn, args=(time.time() + seconds + 4,), daemon=True)
        for _ in range(load)
    ]
    for proc in burners:
        proc.start()
    sim = CcTalkSimulator()
    port = open_port(sim.start_on_pty(), LineSettings())
    events: queue.Queue[tuple[float, DeviceEvent]] = queue.Queue()
    driver = CcTalkDriver("bench", port, DEFAULT_CHANNELS, poll_interval=interval)
    driver.start(lambda ev: events.put((time.monotonic(), ev)))
    latencies: list[float] = []
    coins = credited = 0
    try:
        driver.enable(frozenset(DEFAULT_CHANNELS.values.values()))
        deadline = time.monotonic() + 5
        while not sim.master_enabled and time.monotonic() < deadline:
            time.sleep(0.005)
        rng = random.Random(1)
        start = time.monotonic()
        end = start + seconds
        while time.monotonic() < end:
            time.sleep(rng.uniform(0.05, 0.3))  # insert at random phases of the poll cycle
            inserted = time.monotonic()
            sim.command("coin 10")
            coins += 1
            wait_until = inserted + 10 * interval + 2.0
            while time.monotonic() < wait_until:
                try:
                    at, ev = events.get(timeout=max(0.0, wait_until - time.monotonic()))
                except queue.Empty:
                    break
                if isinstance(ev, CoinCredited):
                    credited += 1
                    latencies.append(at - inserted)
                    break
        polls = [
            t
            for t, h in list(sim.request_log)
            if h == p.HDR_READ_BUFFERED_CREDIT and start <= t <= end
        ]
        stats = dict(driver.stats)
    finally:
        driver.stop()
        port.close()
        sim.stop()
        for proc in burners:
            proc.terminate()
            proc.join(2)
    periods = [b - a for a, b in zip(polls, polls[1:], strict=False)]
    p50, p99 = _pct(periods, 0.5), _pct(periods, 0.99)
    l50, l99 = _pct(latencies, 0.5), _pct(latencies, 0.99)
    return {
        "benchmark": "cctalk_poll",
        "configured_interval_s": interval,
        "duration_s": round(seconds, 2),
        "background_load_processes": load,
        "cpu_count": os.cpu_count(),
        "polls": len(polls),
        "poll_period_p50_s": p50,
        "poll_period_p99_s": p99,
        "poll_period_ratio_p50": p50 / interval if p50 else None,
        "poll_period_ratio_p99": p99 / interval if p99 else None,
        "coins_inserted": coins,
        "coins_credited": credited,
        "credit_latency_p50_ms": l50 * 1000 if l50 is not None else None,
        "credit_latency_p99_ms": l99 * 1000 if l99 is not None else None,
        "credit_latency_ratio_p50": l50 / interval if l50 is not None else None,
        "credit_latency_ratio_p99": l99 / interval if l99 is not None else None,
        "driver_retries": stats.get("retries", 0),
        "driver_comm_failures": stats.get("comm_failures", 0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="measurement time (<= 20)")
    parser.add_argument("--interval", type=float, default=0.1, help="configured poll interval")
    parser.add_argument(
        "--load", type=int, default=os.cpu_count() or 2, help="background CPU-burning processes"
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.interval <= 0 or args.load < 0:
        parser.error("--seconds and --interval must be positive, --load not negative")
    print(json.dumps(run(args.seconds, args.interval, args.load), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
