"""The sync worker against the real reference server on loopback: exactly-once delivery under
every fault mode, dead letters, backoff and the circuit."""

from __future__ import annotations

import http.server
import json
import random
import socket
import threading

import pytest
import requests

from billing_server.seed import DEMO_ACCOUNTS
from offline_queue.sync import Backoff, Circuit, SyncWorker
from tests.billing_server.openapi_check import validate_response
from tests.billing_server.conftest import sign_as_test_kiosk, signed_session

ACC = [a.account_no for a in DEMO_ACCOUNTS]


def worker_for(outbox, url, **kw):
    kw.setdefault("backoff", Backoff(base_s=0.0, factor=1.0, cap_s=0.0))
    return sign_as_test_kiosk(SyncWorker(outbox, url, connect_timeout=1.0, read_timeout=2.0, **kw))


def queue_payments(journal, n, offline=True):
    recs = []
    for i in range(n):
        journal.session_start(f"S{i}", ACC[i % len(ACC)], 1000)
        recs.append(journal.commit_payment(f"S{i}", ACC[i % len(ACC)], {1000: 1, 500: i % 3}, {},
                                           1000 + 500 * (i % 3), offline=offline))
    return recs


def one_pass_against(handler, journal, outbox):
    """One payment queued and one sync pass against a loopback server answering with
    ``handler`` (an http.server request handler class); the pass's result."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        queue_payments(journal, 1)
        return worker_for(outbox, f"http://127.0.0.1:{srv.server_address[1]}").run_once()
    finally:
        srv.shutdown()
        srv.server_close()


def server_ledger(server):
    return {p["txn_id"]: p["amount_minor"] for p in server.ledger.payments()}


def kiosk_journal(journal):
    return {p["txn_id"]: p["amount_minor"] for p in journal.payments()}


def drain(worker, outbox, passes=20):
    for _ in range(passes):
        worker.run_once(ignore_backoff=True)
        if outbox.stats().pending == 0:
            break


def test_delivers_and_stores_server_answer(journal, outbox, billing_server):
    recs = queue_payments(journal, 3)
    result = worker_for(outbox, billing_server.url).run_once()
    assert result.delivered == 3 and outbox.stats().delivered == 3
    assert server_ledger(billing_server) == kiosk_journal(journal)
    row = journal.db.execute("SELECT status_code, response FROM outbox WHERE idem_key=?", (recs[0].txn_id,)).fetchone()
    assert row[0] == 201
    validate_response("post", "/v1/payments", 201, json.loads(row[1]))


@pytest.mark.parametrize("mode", ["500", "drop", "reset", "malformed", "delay"])
def test_each_fault_mode_ends_with_ledger_equal_to_journal(journal, outbox, billing_server, mode):
    queue_payments(journal, 6)
    kw = {"seconds": 3.0} if mode == "delay" else {"count": 3}
    billing_server.set_fault(mode, **kw)
    worker = worker_for(outbox, billing_server.url)
    worker.run_once()
    if mode == "delay":
        billing_server.set_fault("none")
    drain(worker, outbox)
    stats = outbox.stats()
    assert stats.pending == 0 and stats.dead == 0 and stats.delivered == 6
    assert server_ledger(billing_server) == kiosk_journal(journal)  # count, amounts, ids


def test_every_retry_sends_identical_bytes(journal, outbox, billing_server):
    """Drop the answer after the server committed: the retry must be a replay, not a 409."""
    (rec,) = queue_payments(journal, 1)
    billing_server.set_fault("drop", count=1)
    worker = worker_for(outbox, billing_server.url)
    assert worker.run_once().retried == 1
    assert len(billing_server.ledger.payments()) == 1  # committed despite no answer
    assert worker.run_once(ignore_backoff=True).delivered == 1
    assert outbox.stats().dead == 0 and len(billing_server.ledger.payments()) == 1
    sent = journal.db.execute("SELECT body FROM outbox").fetchone()[0]
    assert bytes(sent) == rec.body


def test_conflicting_body_for_same_key_goes_dead(journal, outbox, billing_server):
    (rec,) = queue_payments(journal, 1)
    other = json.loads(rec.body)
    other["amount_minor"] += 100
    other["notes"] = {"1000": 1, "100": 1}
    r = signed_session().post(billing_server.url + "/v1/payments", data=json.dumps(other),
                      headers={"Idempotency-Key": rec.txn_id, "Content-Type": "application/json"}, timeout=5)
    assert r.status_code == 201
    result = worker_for(outbox, billing_server.url).run_once()
    assert result.dead == 1
    dead = outbox.dead_rows()
    assert dead[0]["status_code"] == 409 and "idempotency_conflict" in dead[0]["last_error"]


def test_unknown_account_is_dead_lettered_and_requeueable(journal, outbox, billing_server):
    from kiosk.flow.account import make_account_number

    stranger = make_account_number("999999999")
    journal.session_start("X", stranger, 1000)
    journal.commit_payment("X", stranger, {1000: 1}, {}, 1000, offline=True)
    worker = worker_for(outbox, billing_server.url)
    assert worker.run_once().dead == 1
    assert outbox.stats().dead == 1 and outbox.stats().pending == 0
    assert outbox.requeue_dead("X") == 1
    assert outbox.stats().pending == 1  # visible again; staff decided


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_down_keeps_everything_and_opens_circuit(journal, outbox):
    queue_payments(journal, 8)
    url = f"http://127.0.0.1:{free_port()}"
    worker = worker_for(outbox, url, circuit=Circuit(threshold=3, cooldown_s=60))
    result = worker.run_once()
    assert result.circuit_open and result.retried == 3  # stopped hammering after 3 failures
    assert outbox.stats().pending == 8 and outbox.stats().delivered == 0


def test_backoff_is_capped_full_jitter():
    b = Backoff(base_s=1.0, factor=1.6, cap_s=120.0)
    rng = random.Random(7)
    delays = [b.delay(n, rng) for n in range(1, 40)]
    assert all(0 <= d <= 120.0 for d in delays)
    assert all(b.delay(1, random.Random(i)) <= 1.0 for i in range(50))
    assert max(b.delay(30, random.Random(i)) for i in range(200)) > 60  # reaches the cap region


def test_failed_row_waits_for_its_backoff(journal, outbox, clock):
    queue_payments(journal, 1)
    now = [1000.0]
    worker = SyncWorker(outbox, f"http://127.0.0.1:{free_port()}", connect_timeout=0.5,
                        backoff=Backoff(base_s=10, factor=2, cap_s=10), clock=lambda: now[0],
                        rng=random.Random(1))
    worker.run_once()
    next_at = journal.db.execute("SELECT next_attempt_at FROM outbox").fetchone()[0]
    assert 1000.0 <= next_at <= 1010.0
    assert outbox.due(now=next_at - 0.001) == []
    assert len(outbox.due(now=next_at)) == 1


def test_garbage_answer_is_retried_not_marked_delivered(journal, outbox):
    """A server that answers 200 with nonsense has not confirmed anything."""
    class Nonsense(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "9")
            self.end_headers()
            self.wfile.write(b"<html>oops")

        def log_message(self, *a):
            pass

    result = one_pass_against(Nonsense, journal, outbox)
    assert result.retried == 1 and outbox.stats().pending == 1
    assert "malformed" in journal.db.execute("SELECT last_error FROM outbox").fetchone()[0]
