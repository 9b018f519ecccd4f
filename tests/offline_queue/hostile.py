"""A small misbehaving billing server on loopback, for the kiosk's client-side trust checks.

``HostileServer(mode, upstream=None)``: every POST gets the answer ``mode`` names. With
``upstream`` (the real reference server's URL) the request is first forwarded there, so the real
ledger records it and only the answer the kiosk sees is wrong: the kiosk must still not mark it
delivered, and a later replay to the real server must settle it exactly once.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

HEALTH = b'{"ok":true,"server_time":"2026-12-01T00:00:00.000Z"}'
MODES = ("301", "302", "307", "empty", "other_txn", "other_amount", "other_kiosk", "html",
         "trickle", "trickle_headers", "429", "half", "array")


class HostileServer:
    def __init__(self, mode: str, upstream: str | None = None, retry_after: str = "30") -> None:
        assert mode in MODES, mode
        self.mode, self.upstream, self.retry_after = mode, upstream, retry_after
        self.stopping = threading.Event()
        self.posts = 0
        self.gets = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def forward(self, path: str, headers: Any, raw: bytes) -> tuple[int, bytes]:
        if self.upstream is None:
            return 201, raw  # no ledger: "echo" what was sent
        r = requests.post(self.upstream + path, data=raw, timeout=10, headers={
            k: v for k, v in headers.items() if k.lower() in ("content-type", "idempotency-key", "content-digest", "signature-input",
                                      "signature")})
        return r.status_code, r.content


def _handler(server: HostileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            with server._lock:
                server.gets += 1
            self._answer(200, HEALTH)  # where the redirects point: a JSON 200

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            mode = server.mode
            if mode == "half":
                self.rfile.read(length // 2)
                self.close_connection = True
                return  # hang up with half the body unread and no answer
            raw = self.rfile.read(length)
            if self.path == "/v1/health":
                self._answer(200, HEALTH)
                return
            with server._lock:
                server.posts += 1
            status, answer = server.forward(self.path, self.headers, raw)
            if mode in ("301", "302", "307"):
                self._answer(int(mode), b"", {"Location": "/v1/health"})
            elif mode == "empty":
                self._answer(200, b"{}")
            elif mode == "array":
                self._answer(200, b"[]")
            elif mode == "html":
                self._answer(200, b"<html><body>Payment OK</body></html>", ctype="text/html")
            elif mode in ("other_txn", "other_amount", "other_kiosk"):
                self._answer(201, _tampered(mode, raw, answer))
            elif mode == "429":
                self._answer(429, b'{"error":"rate_limited","message":"slow down"}',
                             {"Retry-After": server.retry_after})
            elif mode == "trickle":
                self._trickle(answer, headers_too=False)
            elif mode == "trickle_headers":
                self._trickle(answer, headers_too=True)

        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None,
                    ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _trickle(self, body: bytes, headers_too: bool) -> None:
            """One byte a second: each read succeeds, so only a total deadline ends it."""
            head = (f"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()
            data = head + body
            if not headers_too:
                self.wfile.write(head)
                data = body
            self.close_connection = True
            for i in range(len(data)):
                try:
                    self.wfile.write(data[i:i + 1])
                    self.wfile.flush()
                except OSError:
                    return  # the client gave up: what we want
                if server.stopping.wait(1.0):
                    return

    return Handler


def _tampered(mode: str, raw: bytes, answer: bytes) -> bytes:
    """A well-formed Payment answer about something other than what was sent."""
    sent = json.loads(raw)
    try:
        obj = json.loads(answer)
        assert isinstance(obj, dict) and "payment_id" in obj
    except (ValueError, AssertionError):
        obj = {k: sent[k] for k in ("kiosk_id", "txn_id", "account_no", "amount_minor")}
        obj |= {"payment_id": "PAY-99999999", "arrears_minor": 0, "balance_minor": 0,
                "receipt_ref": "R-1", "accepted_at": "2026-12-01T00:00:00.000Z"}
    if mode == "other_txn":
        obj["txn_id"] = str(obj["txn_id"]) + "-other"
    elif mode == "other_amount":
        obj["amount_minor"] = int(obj["amount_minor"]) + 100
    else:
        obj["kiosk_id"] = "KIOSK-OTHER"
    return json.dumps(obj).encode()
