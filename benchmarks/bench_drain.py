"""Benchmark: draining a queue of offline payments to the reference billing server with the
``SyncWorker`` against a bare ``requests.Session`` POST loop of the same bodies.

``python -m benchmarks.bench_drain [--n 10000] [--chunk 500] [--dir PATH] [--tls]`` prints JSON.
With ``--tls`` both servers speak HTTPS with a throwaway CA (trustme, the test extra): the worker
verifies against it as ``billing.ca_file`` does, the bare loop with ``verify=<ca file>``. Each
side gets its own fresh in-process server on loopback (same code, same fresh seeded ledger). The
drains alternate in chunks (the order flips every round) so a noisy disk or a busy CPU hurts both
alike. After the drain both ledgers must hold exactly N payments: a correctness guard, not a timing.
"""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from benchmarks import scale_db
from benchmarks.bench_commit import fs_type
from billing_server.server import BillingServer
from billing_server.seed import DEMO_ACCOUNTS
from offline_queue import signing
from offline_queue.journal import Journal
from offline_queue.outbox import Outbox
from offline_queue.schema import connect
from offline_queue.sync import SyncWorker
from offline_queue.tls import TlsTrust

log = logging.getLogger(__name__)

KIOSK_ID = "KIOSK-BENCH"
NOTES = {10_000: 1, 2_000: 1}
COINS = {100: 3}
AMOUNT = 12_300
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def ledger_totals(db_path: Path) -> tuple[int, int]:
    """(payments, total fen) in a server's ledger, read through a separate read-only connection."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        count, total = conn.execute(
            "SELECT count(*), coalesce(sum(amount_minor), 0) FROM payments"
        ).fetchone()
    finally:
        conn.close()
    return int(count), int(total)


def queue_payments(journal: Journal, n: int, batch: int = 1000) -> list[bytes]:
    """Commit n offline payments (round-robin over the demo accounts); their stored bodies.
    Through the journal's own commit, ``batch`` of them to a transaction (each commit is then a
    savepoint)."""
    accounts = [a.account_no for a in DEMO_ACCOUNTS]
    bodies = []
    conn = journal.db.conn
    for start in range(0, n, batch):
        conn.execute("BEGIN IMMEDIATE")
        bodies += [journal.commit_payment(f"T{i:08d}", accounts[i % len(accounts)], NOTES, COINS,
                                          AMOUNT, offline=True).body
                   for i in range(start, min(n, start + batch))]
        conn.execute("COMMIT")
    return bodies


def bulk_queue(db: Any, n: int, days: int = 7, batch: int = 20_000) -> list[bytes]:
    """A week-long backlog of n offline payments built through the schema in large
    transactions, the rows each session leaves (``scale_db.rows_for``, checked against what
    ``Journal`` writes), the triggers still firing; the bodies in queue order. Through
    ``Journal.commit_payment`` a 100,000 backlog takes most of the time budget before any drain."""
    accounts = [a.account_no for a in DEMO_ACCOUNTS]
    per_day = max(1, -(-n // days))
    start = datetime.now().astimezone() - timedelta(days=days)
    conn = db.conn
    bodies: list[bytes] = []
    for first in range(0, n, batch):
        acc: dict[str, list[tuple]] = {"journal": [], "payments": [], "outbox": []}
        for i in range(first, min(n, first + batch)):
            for table, rows in scale_db.rows_for(i, kiosk_id=KIOSK_ID, accounts=accounts,
                                                 start=start, per_day=per_day,
                                                 pending=True).items():
                acc[table].extend(rows)
        conn.execute("BEGIN IMMEDIATE")
        for table in ("payments", "outbox", "journal"):
            conn.executemany(scale_db.SQL[table], acc[table])
        conn.execute("COMMIT")
        bodies += [row[3] for row in acc["outbox"]]
    return bodies


def bare_bodies(bodies: list[bytes]) -> list[tuple[str, bytes]]:
    """The same bodies with fresh txn ids, so the second server sees them as new payments."""
    out = []
    for body in bodies:
        obj = json.loads(body)
        obj["txn_id"] = "B" + obj["txn_id"]
        out.append((obj["txn_id"], json.dumps(obj, sort_keys=True, separators=(",", ":"),
                                              ensure_ascii=False).encode()))
    return out


def _throwaway_tls(root: Path) -> tuple[Any, str]:
    """A server context and the CA file that verifies it (127.0.0.1), made for this run."""
    import trustme  # the test extra: only the --tls variant needs it

    from billing_server.server import server_context

    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(root / "srv.pem"))
    return server_context(root / "srv.pem", root / "srv.pem"), str(root / "ca.pem")


class _Bare:
    """The baseline client: one keep-alive session, POST, check the status, next."""

    def __init__(self, base_url: str, items: list[tuple[str, bytes]],
                 ca_file: str | None = None, token: str = "") -> None:
        self.url = base_url.rstrip("/") + "/v1/payments"
        self.items = items
        self.next = 0
        self.http = requests.Session()
        self.http.headers.update(HEADERS)
        if ca_file:
            self.http.trust_env = False  # REQUESTS_CA_BUNDLE would replace verify= below
            self.http.verify = ca_file  # verified, as the kiosk does: the cost of TLS, no less
        # The server takes only signed requests from an enrolled kiosk: the bare loop signs too
        # (the protocol's own cost), with none of the worker's checks around it.
        self.key = signing.Ed25519PrivateKey.generate()
        resp = self.http.post(f"{base_url.rstrip('/')}/v1/kiosks/{KIOSK_ID}/enrol", timeout=10,
                              json={"public_key": signing.public_b64(self.key), "token": token})
        resp.raise_for_status()

    def send(self, count: int) -> int:
        sent = 0
        while sent < count and self.next < len(self.items):
            key, body = self.items[self.next]
            headers = {"Idempotency-Key": key, **signing.sign(
                self.key, KIOSK_ID, "POST", "/v1/payments", body, int(time.time()))}
            resp = self.http.post(self.url, data=body, headers=headers, timeout=(3.05, 10.0))
            if resp.status_code != 201:
                raise AssertionError(f"bare POST {key}: HTTP {resp.status_code} {resp.text[:200]}")
            self.next += 1
            sent += 1
        return sent


def run(n: int, chunk: int = 500, directory: str | None = None,
        tls: bool = False, measure: int | None = None) -> dict[str, Any]:
    """Queue ``n``; both sides deliver ``measure`` of them (default all) while the rest wait."""
    measure = n if measure is None else measure
    if n < 1 or chunk < 1 or not 1 <= measure <= n:
        raise ValueError("n and chunk must be at least 1, measure from 1 to n")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-drain-", dir=directory) as tmp:
        root = Path(tmp)
        context, ca_file = _throwaway_tls(root) if tls else (None, None)
        ours_server = BillingServer("127.0.0.1", 0, root / "ledger-ours.db", tls=context)
        bare_server = BillingServer("127.0.0.1", 0, root / "ledger-bare.db", tls=context)
        try:
            ours_server.start()
            bare_server.start()
            db = connect(root / "kiosk.db")
            t0 = time.perf_counter()
            bodies = bulk_queue(db, n)
            queue_s = time.perf_counter() - t0
            # the worker's own connection, as the terminal opens it (delivery bookkeeping only)
            outbox = Outbox(connect(root / "kiosk.db", durable=False))
            trust = TlsTrust(ca_file)
            worker = SyncWorker(outbox, ours_server.url, tls=trust)
            key = signing.Ed25519PrivateKey.generate()  # as kiosk.services.identity wires it
            worker.http.auth = signing.KioskAuth(key, KIOSK_ID, signing.Enrolment(
                key, KIOSK_ID, ours_server.enrol_token, root / "enrolled.json", tls=trust))
            bare = _Bare(bare_server.url, bare_bodies(bodies[:measure]), ca_file,
                         bare_server.enrol_token)
            # Open both keep-alive connections before the clock starts.
            worker.http.get(ours_server.url + "/v1/health", timeout=5).raise_for_status()
            bare.http.get(bare_server.url + "/v1/health", timeout=5).raise_for_status()

            ours_s = bare_s = 0.0
            ours_rates: list[float] = []
            bare_rates: list[float] = []  # per chunk too: a trend on both sides is the machine
            rounds = 0
            ours_done = 0
            while ours_done < measure or bare.next < measure:
                order = ("ours", "bare") if rounds % 2 == 0 else ("bare", "ours")
                progress = (ours_done, bare.next)
                for side in order:
                    t = time.perf_counter()
                    if side == "ours" and ours_done < measure:
                        result = worker.run_once(ignore_backoff=True,
                                                 max_rows=min(chunk, measure - ours_done))
                        took = time.perf_counter() - t
                        if result.retried or result.dead:
                            raise AssertionError(f"sync pass had failures: {result}")
                        ours_s += took
                        ours_rates.append(round(result.delivered / took, 1))
                        ours_done += result.delivered
                    elif side == "bare" and bare.next < measure:
                        sent = bare.send(min(chunk, measure - bare.next))
                        took = time.perf_counter() - t
                        bare_s += took
                        bare_rates.append(round(sent / took, 1))
                if (ours_done, bare.next) == progress:
                    raise AssertionError(
                        f"drain stalled: ours at {ours_done}, bare at {bare.next}/{measure}")
                rounds += 1
            stats = outbox.stats()
            worker.http.close()
            bare.http.close()
            db.conn.close()
            outbox.db.conn.close()
        finally:
            ours_server.stop()
            bare_server.stop()
        ours_ledger = ledger_totals(root / "ledger-ours.db")
        bare_ledger = ledger_totals(root / "ledger-bare.db")
        fs = fs_type(tmp)
    expected = (measure, measure * AMOUNT)
    # The correctness guard: every payment sent arrived exactly once, on both sides; the rest
    # still wait.
    if stats.delivered != measure or stats.pending != n - measure or stats.in_flight or stats.dead:
        raise AssertionError(f"outbox after the drain: {stats}")
    if ours_ledger != expected or bare_ledger != expected:
        raise AssertionError(f"ledger (count, fen) ours={ours_ledger} bare={bare_ledger}, "
                             f"expected {expected}")
    ours_rate, bare_rate = measure / ours_s, measure / bare_s
    return {
        "benchmark": "drain",
        "transport": "https (verified, throwaway CA)" if tls else "http",
        "n": n,
        "pending_at_start": n,
        "delivered_per_side": measure,
        "chunk": chunk,
        "accounts": len(DEMO_ACCOUNTS),
        "filesystem": fs,
        "queue_build_s": round(queue_s, 3),
        "ours": {"payments_per_s": round(ours_rate, 1), "seconds": round(ours_s, 2),
                 "chunk_payments_per_s": ours_rates},
        "bare": {"payments_per_s": round(bare_rate, 1), "seconds": round(bare_s, 2),
                 "chunk_payments_per_s": bare_rates},
        "ratio_ours_over_bare": round(ours_s / bare_s, 3),
        "ratio_means": "time per delivered payment, SyncWorker / bare requests loop "
                       "(1.0 = no overhead)",
        "ledger_payments": {"ours": ours_ledger[0], "bare": bare_ledger[0]},
        "elapsed_s": round(time.perf_counter() - started, 2),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_drain",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", "--pending", dest="n", type=int, default=10_000,
                        help="payments queued, per side (default 10000; --pending 100000 is a"
                             " week-long outage of a busy compound)")
    parser.add_argument("--chunk", type=int, default=500,
                        help="payments per side before the other side runs (default 500)")
    parser.add_argument("--dir", default=None,
                        help="where the temporary databases go (default: the system temp dir)")
    parser.add_argument("--measure", type=int, default=None,
                        help="payments each side delivers, timed, with the rest of the backlog"
                             " still queued (default: all of them)")
    parser.add_argument("--tls", action="store_true",
                        help="both sides over HTTPS to TLS reference servers (needs trustme)")
    args = parser.parse_args(argv)
    if args.n < 1 or args.chunk < 1:
        parser.error("--n and --chunk must be at least 1")
    if args.measure is not None and not 1 <= args.measure <= args.n:
        parser.error("--measure must be from 1 to --n")
    return run(args.n, args.chunk, args.dir, args.tls, args.measure)


if __name__ == "__main__":
    sys.stdout.write(json.dumps(main(), indent=2) + "\n")
