"""Lookups only use an answer that is about what was asked: a redirect is not followed, an
answer about another account or card is treated like no answer (the cache is used instead)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from billing_server.seed import DEMO_ACCOUNTS, DEMO_CARDS
from kiosk.services.billing_client import BillingClient
from offline_queue.cache import ReferenceCache
from offline_queue.schema import connect

ASKED, OTHER = DEMO_ACCOUNTS[0], DEMO_ACCOUNTS[1]
CARD = next(u for u, a in DEMO_CARDS.items() if a == ASKED.account_no)


def account_body(acc) -> dict:
    return {"account_no": acc.account_no, "holder_masked": acc.holder_masked,
            "address_masked": acc.address_masked, "arrears_minor": 1, "balance_minor": 0,
            "currency": "CNY", "as_of": "2026-12-01T00:00:00.000Z"}


class Liar:
    """GET answers: ``redirect`` (302 to a JSON 200 about the account), ``other`` (a 200 about
    another account / card), ``stall`` (headers, then nothing until the test ends)."""

    def __init__(self, mode: str) -> None:
        self.mode, self.gets, self.done = mode, [], threading.Event()
        self.gave_up = threading.Event()  # the client hung up in the middle of a stalled answer
        liar = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                liar.gets.append(self.path)
                if self.path.startswith("/elsewhere"):
                    return self._send(200, account_body(ASKED))
                if liar.mode == "redirect":
                    return self._send(302, {}, {"Location": "/elsewhere"})
                if liar.mode == "stall":
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{")
                    self.wfile.flush()
                    for _ in range(100):  # a byte now and then: no single read times out
                        if liar.done.wait(0.5):
                            return
                        try:
                            self.wfile.write(b" ")
                            self.wfile.flush()
                        except OSError:
                            liar.gave_up.set()
                            return
                    return
                if "/cards/" in self.path:
                    return self._send(200, {"card_uid": "FFFFFFFFFF", "account_no": ASKED.account_no})
                return self._send(200, account_body(OTHER))

            def _send(self, status, obj, headers=None):
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.done.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def cache(tmp_path):
    return ReferenceCache(connect(tmp_path / "k.db"))


@pytest.mark.parametrize("mode", ["redirect", "other", "stall"])
def test_untrusted_account_answer_is_not_used(cache, mode):
    liar = Liar(mode)
    try:
        client = BillingClient(liar.url, cache, connect_timeout=0.5, read_timeout=1.0)
        info = client.account(ASKED.account_no)
        if mode == "stall":  # ended by the total deadline, not by the server finishing
            assert liar.gave_up.wait(30)
    finally:
        liar.close()
    assert info.from_cache and info.arrears_minor is None  # never seen, offline: no balance shown
    assert info.account_no == ASKED.account_no
    assert not any(p.startswith("/elsewhere") for p in liar.gets), "a redirect was followed"


def test_card_answer_about_another_card_is_not_used(cache):
    liar = Liar("other")
    try:
        from kiosk.services.billing_client import NotFound

        with pytest.raises(NotFound) as err:
            BillingClient(liar.url, cache).card(CARD)
    finally:
        liar.close()
    assert err.value.reason == "unknown_card_offline"
