"""The billing client against the real reference server, a dead port, and a server that
answers nonsense; and the client's own request bodies checked against the OpenAPI document."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from billing_server.seed import DEMO_ACCOUNTS, DEMO_CARDS, UNSEEDED_ACCOUNT, UNSEEDED_CARD
from kiosk.services.billing_client import BillingClient, NotFound
from offline_queue.cache import ReferenceCache
from offline_queue.journal import Journal
from offline_queue.schema import connect
from tests.billing_server.conftest import billing_server  # noqa: F401
from tests.billing_server.openapi_check import validate_request
from tests.offline_queue.test_sync import free_port
from tests.billing_server.conftest import sign_as_test_kiosk


@pytest.fixture
def cache(tmp_path):
    return ReferenceCache(connect(tmp_path / "k.db"))


def test_account_and_card_lookup(billing_server, cache):
    client = sign_as_test_kiosk(BillingClient(billing_server.url, cache))
    acc = DEMO_ACCOUNTS[0]
    info = client.account(acc.account_no)
    assert info.arrears_minor == acc.arrears_minor and not info.from_cache
    assert info.holder_masked == acc.holder_masked
    uid = next(iter(DEMO_CARDS))
    assert client.card(uid) == DEMO_CARDS[uid]


def test_unknown_account_and_card(billing_server, cache):
    client = sign_as_test_kiosk(BillingClient(billing_server.url, cache))
    with pytest.raises(NotFound) as err:
        client.account(UNSEEDED_ACCOUNT)
    assert err.value.reason == "unknown_account"
    with pytest.raises(NotFound) as err:
        client.card(UNSEEDED_CARD)
    assert err.value.reason == "unknown_card"


def test_offline_uses_cache_with_as_of(billing_server, cache):
    acc = DEMO_ACCOUNTS[2]
    uid = next(u for u, a in DEMO_CARDS.items() if a == acc.account_no)
    sign_as_test_kiosk(BillingClient(billing_server.url, cache)).card(uid)
    sign_as_test_kiosk(BillingClient(billing_server.url, cache)).account(acc.account_no)
    offline = BillingClient(f"http://127.0.0.1:{free_port()}", cache, connect_timeout=0.5)
    assert offline.card(uid) == acc.account_no
    info = offline.account(acc.account_no)
    assert info.from_cache and info.as_of and info.arrears_minor == acc.arrears_minor
    # never seen: payable (the number passed its check) but without a balance
    never = offline.account(DEMO_ACCOUNTS[8].account_no)
    assert never.from_cache and never.arrears_minor is None
    with pytest.raises(NotFound) as err:
        offline.card("ABCDEF0123")
    assert err.value.reason == "unknown_card_offline"


@pytest.mark.parametrize("payload", [b"<html>502</html>", b'{"account_no": 5}', b"[1,2]",
                                     b'{"account_no": "3101000010", "arrears_minor": 12.5}'])
def test_nonsense_from_server_is_treated_as_offline(cache, payload):
    class Nonsense(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Nonsense)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        info = BillingClient(f"http://127.0.0.1:{srv.server_address[1]}", cache).account(DEMO_ACCOUNTS[0].account_no)
    finally:
        srv.shutdown()
    assert info.from_cache and info.arrears_minor is None  # no float balance ever reaches the screen


def test_client_request_bodies_match_the_contract(tmp_path):
    journal = Journal(connect(tmp_path / "k.db"), "KIOSK-0001")
    rec = journal.commit_payment("20261121-abc", DEMO_ACCOUNTS[0].account_no, {10000: 1, 500: 2},
                                 {100: 1}, 11100, offline=True)
    validate_request("post", "/v1/payments", json.loads(rec.body))
    journal.enqueue("rating", "rating-x", {
        "kiosk_id": "KIOSK-0001", "feedback_id": "rating-x", "rating": 5, "txn_id": rec.txn_id,
        "created_at": "2026-11-21T10:00:00+08:00"})
    body = json.loads(journal.db.execute("SELECT body FROM outbox WHERE idem_key='rating-x'").fetchone()[0])
    validate_request("post", "/v1/feedback", body)
