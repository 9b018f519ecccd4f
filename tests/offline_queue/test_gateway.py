"""The billing gateway seam: rows queued before the outbox forgot paths still go exactly once
with their bytes, today's bodies are unchanged, and another utility's API is one new class the
sync worker drives as it is."""

from __future__ import annotations

import http.server
import json
import sqlite3
import threading
from contextlib import contextmanager
from typing import Any

import requests

from offline_queue.errors import PermanentError, RetryableError, Untrusted
from offline_queue.gateway import PAYMENT, DeliveryReceipt, canonical_json
from offline_queue.journal import Journal
from offline_queue.outbox import Outbox
from offline_queue.schema import MIGRATIONS, SCHEMA_VERSION, _split, connect
from offline_queue.sync import Backoff, SyncWorker

ACC = "3101001234"
NO_WAIT = Backoff(base_s=0.0, factor=1.0, cap_s=0.0)


@contextmanager
def loopback(answer):
    """A server on loopback that records (method, path, Idempotency-Key, body) of every
    request and answers ``answer(method, path, body) -> (status, object)``."""
    seen: list[tuple[str, str, str | None, bytes]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _any(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append((self.command, self.path, self.headers.get("Idempotency-Key"), body))
            status, obj = answer(self.command, self.path, body)
            out = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_POST = do_PUT = _any

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", seen
    finally:
        srv.shutdown()
        srv.server_close()


def contract_proof(method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """What docs/billing-api.yaml answers a recorded request with: its ids echoed."""
    sent = json.loads(body)
    if path == "/v1/payments":
        return 201, {"payment_id": "P-" + sent["txn_id"], **{k: sent[k] for k in (
            "kiosk_id", "txn_id", "account_no", "amount_minor")}}
    if path == "/v1/feedback":
        return 201, {"feedback_id": sent["feedback_id"], "accepted_at": "2026-11-21T10:00:00Z"}
    if path.endswith("/collections"):
        return 201, {"collection_id": "C-1", "batch_id": sent["batch_id"]}
    return 404, {"error": "not_found"}


# ---------------------------------------------------------------- rows from schema v3
V3_ROWS = [  # (kind, idem_key, account_no, path, body object, amount, state)
    ("payment", "S1", ACC, "/v1/payments", {
        "kiosk_id": "KIOSK-T1", "txn_id": "S1", "account_no": ACC, "amount_minor": 1500,
        "currency": "CNY", "tender": "cash", "notes": {"1000": 1, "500": 1}, "coins": {},
        "created_at": "2026-11-21T09:30:00+08:00", "offline": True}, 1500, "PENDING"),
    ("payment", "S2", ACC, "/v1/payments", {
        "kiosk_id": "KIOSK-T1", "txn_id": "S2", "account_no": ACC, "amount_minor": 100,
        "currency": "CNY", "tender": "cash", "notes": {}, "coins": {"100": 1},
        "created_at": "2026-11-21T09:31:00+08:00", "offline": True}, 100, "IN_FLIGHT"),
    ("payment", "S0", ACC, "/v1/payments", {
        "kiosk_id": "KIOSK-T1", "txn_id": "S0", "account_no": ACC, "amount_minor": 500,
        "currency": "CNY", "tender": "cash", "notes": {"500": 1}, "coins": {},
        "created_at": "2026-11-21T09:00:00+08:00", "offline": False}, 500, "DELIVERED"),
    ("rating", "rating-S1", None, "/v1/feedback", {
        "kiosk_id": "KIOSK-T1", "feedback_id": "rating-S1", "rating": 4, "txn_id": "S1",
        "created_at": "2026-11-21T09:32:00+08:00"}, 0, "PENDING"),
    ("collection", "B-0001", None, "/v1/kiosks/KIOSK-T1/collections", {
        "kiosk_id": "KIOSK-T1", "batch_id": "B-0001", "opened_at": "2026-11-20T08:00:00+08:00",
        "closed_at": "2026-11-21T08:00:00+08:00", "expected": {"1000": 3},
        "counted": {"1000": 3}, "variance_minor": 0,
        "created_at": "2026-11-21T08:10:00+08:00"}, 0, "PENDING"),
]


def v3_database(path) -> dict[str, tuple[str, bytes]]:
    """A terminal's database as schema v3 left it, with rows queued and not yet delivered;
    each key's (path, bytes) as that version stored them."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    for number in range(3):
        for statement in _split(MIGRATIONS[number]):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 3")
    stored = {}
    for kind, key, account, path_, obj, amount, state in V3_ROWS:
        body = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        conn.execute(
            "INSERT INTO outbox (kind, idem_key, account_no, method, path, body, amount_minor,"
            " state, created_at, enqueued_elapsed_ms) VALUES (?, ?, ?, 'POST', ?, ?, ?, ?, 0, 0)",
            (kind, key, account, path_, body, amount, state))
        stored[key] = (path_, body)
    conn.close()
    return stored


def test_rows_queued_under_v3_are_delivered_once_each_with_their_bytes(tmp_path):
    stored = v3_database(tmp_path / "k.db")
    db = connect(tmp_path / "k.db")  # migrates
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    columns = {r[1] for r in db.execute("PRAGMA table_info(outbox)")}
    assert not {"method", "path"} & columns
    outbox = Outbox(db)
    assert outbox.release_in_flight() == 1  # S2 was on the wire when the old version stopped
    with loopback(contract_proof) as (url, seen):
        worker = SyncWorker(outbox, url, backoff=NO_WAIT)
        for _ in range(3):
            worker.run_once(ignore_backoff=True)
    sent = {key: (path, body) for method, path, key, body in seen if method == "POST"}
    assert len(seen) == len(sent) == 4  # each once; the delivered S0 not again
    assert sent == {k: v for k, v in stored.items() if k != "S0"}  # same paths, same bytes
    assert outbox.stats().delivered == 5 and outbox.stats().pending == 0


def test_payment_body_is_the_bytes_schema_v3_wrote(tmp_path, clock):
    journal = Journal(connect(tmp_path / "k.db"), "KIOSK-T1", clock)
    journal.session_start("S1", ACC, 1500)
    rec = journal.commit_payment("S1", ACC, {1000: 1, 500: 1}, {100: 0}, 1500, offline=True)
    obj = next(row[4] for row in V3_ROWS if row[1] == "S1")
    assert rec.body == canonical_json({**obj, "coins": {"100": 0}})
    assert rec.notes == ((500, 1), (1000, 1)) and rec.coins == ((100, 0),)
    assert journal.payment("S1") == rec  # read back as the same record, tally and all


# ---------------------------------------------------------------- another utility's API
class LedgerGateway:
    """A utility whose API files each delivery as ``PUT /ledger/<kind>/<key>`` with amounts in
    fen under its own names, and answers ``{"filed": key}``: one class, nothing else changed."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()

    def encode(self, kind: str, payload: Any) -> bytes:
        if kind == PAYMENT:
            payload = {"ref": payload.txn_id, "customer": payload.account_no,
                       "fen": payload.amount_minor,
                       "cash": [[v, n] for v, n in payload.notes + payload.coins]}
        return canonical_json(payload)

    def deliver(self, kind: str, key: str, body: bytes) -> DeliveryReceipt:
        try:
            resp = self.http.put(f"{self.base_url}/ledger/{kind}/{key}", data=body, timeout=5)
        except requests.RequestException as exc:
            raise RetryableError(str(exc)) from exc
        if resp.status_code >= 500:
            raise RetryableError(f"HTTP {resp.status_code}")
        if resp.status_code >= 400:
            raise PermanentError(f"HTTP {resp.status_code}")
        if resp.json().get("filed") != key:
            raise Untrusted("answer does not name the key")
        return DeliveryReceipt(resp.status_code, resp.text)


def test_the_sync_worker_drives_another_utilitys_gateway(tmp_path, clock):
    answers = {"PAY-1": 200, "PAY-2": 503, "PAY-3": 400}

    def ledger(method, path, body):
        key = path.rsplit("/", 1)[1]
        status = answers.get(key, 200)
        answers[key] = 200  # PAY-2 is down once
        return status, {"filed": key} if status == 200 else {}

    with loopback(ledger) as (url, seen):
        gateway = LedgerGateway(url)
        journal = Journal(connect(tmp_path / "k.db"), "KIOSK-T1", clock, encode=gateway.encode)
        for n, sid in enumerate(("PAY-1", "PAY-2", "PAY-3"), start=1):
            journal.session_start(sid, f"31010012{n:02d}", 1000)
            journal.commit_payment(sid, f"31010012{n:02d}", {1000: 1}, {}, 1000, offline=True)
        journal.enqueue("rating", "rating-PAY-1", {"stars": 5})
        outbox = Outbox(journal.db)
        worker = SyncWorker(outbox, gateway, backoff=NO_WAIT)
        first = worker.run_once(ignore_backoff=True)
        second = worker.run_once(ignore_backoff=True)
    assert (first.delivered, first.retried, first.dead) == (2, 1, 1)
    assert (second.delivered, second.retried, second.dead) == (1, 0, 0)
    assert [(m, p) for m, p, _, _ in seen] == [
        ("PUT", "/ledger/payment/PAY-1"), ("PUT", "/ledger/payment/PAY-2"),
        ("PUT", "/ledger/payment/PAY-3"), ("PUT", "/ledger/rating/rating-PAY-1"),
        ("PUT", "/ledger/payment/PAY-2")]
    assert json.loads(seen[0][3]) == {"ref": "PAY-1", "customer": "3101001201", "fen": 1000,
                                      "cash": [[1000, 1]]}
    assert seen[1][3] == seen[4][3]  # the retry is the same bytes
    assert outbox.dead_rows()[0]["idem_key"] == "PAY-3"
