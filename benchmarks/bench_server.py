"""Benchmark: the reference billing server under a fleet's burst.

``python -m benchmarks.bench_server [--clients 1,10,50] [--payments 1500] [--dir PATH]`` prints
JSON. The server runs as its own process (``python -m billing_server``, its ledger on the
disk with ``synchronous=FULL``); for each client count the same number of payments is posted by
that many kiosks at once, each its own enrolled kiosk id on its own keep-alive connection, all
released together (a fleet coming back after an outage). The clients are threads spread over a
few processes, so the client side's GIL is not what is measured. Reported per count: payments
per second, p50/p99 latency, connection resets and other errors, and the ratio of throughput to
the single client's. The ledger must end with exactly every payment (a correctness guard).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_commit import fs_type, percentile

TOKEN = "bench-server-token-0123456789"
PROCESSES = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _client_process(args: tuple[str, list[tuple[str, int]], float]) -> dict[str, Any]:
    """Run one thread per (kiosk id, payments) in this process, all released at ``start_at``."""
    import requests

    from billing_server.seed import DEMO_ACCOUNTS
    from offline_queue import signing

    url, kiosks, start_at = args
    latencies: list[int] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()

    def one(kiosk_id: str, count: int) -> None:
        http = requests.Session()
        key = signing.Ed25519PrivateKey.generate()
        resp = http.post(f"{url}/v1/kiosks/{kiosk_id}/enrol", timeout=30,
                         json={"public_key": signing.public_b64(key), "token": TOKEN})
        resp.raise_for_status()
        http.close()
        http = requests.Session()  # a fresh connection, opened in the burst
        mine: list[int] = []
        while time.time() < start_at:
            time.sleep(0.001)
        for i in range(count):
            body = json.dumps({
                "kiosk_id": kiosk_id, "txn_id": f"{kiosk_id}-T{i:06d}",
                "account_no": DEMO_ACCOUNTS[i % len(DEMO_ACCOUNTS)].account_no,
                "amount_minor": 12_300, "currency": "CNY", "tender": "cash",
                "notes": {"10000": 1, "2000": 1}, "coins": {"100": 3},
                "created_at": "2026-11-21T09:30:00+08:00", "offline": True,
            }, sort_keys=True, separators=(",", ":")).encode()
            headers = {"Content-Type": "application/json", "Idempotency-Key": f"{kiosk_id}-T{i:06d}",
                       **signing.sign(key, kiosk_id, "POST", "/v1/payments", body, int(time.time()))}
            for _attempt in range(5):  # a reset is counted, then the payment is sent again
                t = time.perf_counter_ns()
                try:
                    r = http.post(f"{url}/v1/payments", data=body, headers=headers,
                                  timeout=(10, 30))
                except requests.ConnectionError as exc:
                    kind = "reset" if "reset" in str(exc).lower() else "connection"
                    with lock:
                        errors[kind] = errors.get(kind, 0) + 1
                    http = requests.Session()
                    continue
                if r.status_code not in (200, 201):
                    with lock:
                        errors[f"http_{r.status_code}"] = errors.get(f"http_{r.status_code}", 0) + 1
                    continue
                mine.append(time.perf_counter_ns() - t)
                break
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=one, args=k) for k in kiosks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"latencies": latencies, "errors": errors}


def _burst(url: str, clients: int, payments: int, tag: str) -> dict[str, Any]:
    per = [payments // clients + (1 if i < payments % clients else 0) for i in range(clients)]
    kiosks = [(f"K{tag}-{i:03d}", per[i]) for i in range(clients)]
    groups = [kiosks[i::PROCESSES] for i in range(min(PROCESSES, clients))]
    start_at = time.time() + 3.0 + clients * 0.05  # time for every kiosk to enrol first
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(len(groups)) as pool:
        results = pool.map(_client_process, [(url, g, start_at) for g in groups])
    wall = time.time() - start_at
    lat = [x for r in results for x in r["latencies"]]
    errors: dict[str, int] = {}
    for r in results:
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    return {"clients": clients, "payments": len(lat), "seconds": round(wall, 2),
            "payments_per_s": round(len(lat) / wall, 1),
            "p50_ms": round(percentile(lat, 0.5) / 1e6, 2), "p99_ms": round(percentile(lat, 0.99) / 1e6, 2),
            "resets": errors.get("reset", 0), "errors": errors}


def run(clients: list[int], payments: int, directory: str | None) -> dict[str, Any]:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-server-", dir=directory) as tmp:
        ledger = Path(tmp) / "ledger.db"
        port = _free_port()
        root = Path(__file__).resolve().parent.parent
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH", "")]))}
        server = subprocess.Popen(
            [sys.executable, "-m", "billing_server", "--port", str(port), "--db", str(ledger),
             "--enrol-token", TOKEN], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env, cwd=root, start_new_session=True)
        try:
            line = server.stdout.readline()
            if "listening" not in line:
                raise RuntimeError(f"server did not start: {line} {server.stderr.read()[-500:]}")
            url = f"http://127.0.0.1:{port}"
            rows = [_burst(url, c, payments, f"{c}x{n}") for n, c in enumerate(clients)]
        finally:
            server.terminate()
            server.wait(10)
        conn = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
        booked = conn.execute("SELECT count(*) FROM payments").fetchone()[0]
        conn.close()
        fs = fs_type(tmp)
    if booked != payments * len(clients):
        raise AssertionError(f"ledger holds {booked} payments, expected {payments * len(clients)}")
    single = next((r for r in rows if r["clients"] == 1), rows[0])
    for r in rows:
        r["throughput_ratio_to_single"] = round(r["payments_per_s"] / single["payments_per_s"], 3)
    return {"benchmark": "server", "payments_per_burst": payments, "filesystem": fs,
            "cpu_count": os.cpu_count(), "bursts": rows, "ledger_payments": booked,
            "elapsed_s": round(time.perf_counter() - started, 1)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_server",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,10,50", help="client counts (default 1,10,50)")
    parser.add_argument("--payments", type=int, default=1500, help="payments per burst")
    parser.add_argument("--dir", default=None, help="where the ledger goes")
    args = parser.parse_args(argv)
    try:
        clients = [int(c) for c in args.clients.split(",") if c.strip()]
    except ValueError:
        parser.error("--clients wants numbers separated by commas")
    if not clients or min(clients) < 1 or args.payments < max(clients):
        parser.error("client counts must be 1 or more and --payments at least the largest")
    return run(clients, args.payments, args.dir)


if __name__ == "__main__":
    sys.stdout.write(json.dumps(main(), indent=2) + "\n")
