"""The reference payment gateway's HTTP layer (stdlib ThreadingHTTPServer, HTTP/1.1). Run it as
``payment-gateway`` / ``kiosk payment-gateway`` (payment_gateway/cli.py) or start
``PaymentGateway`` in a thread from tests."""

from __future__ import annotations

import logging
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from payment_gateway.api import GatewayApi, Response, error
from payment_gateway.faults import Fault, FaultSwitch, parse_fault
from payment_gateway.store import Store

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "ReferenceGateway/1"
    timeout = 60
    server: _Server

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # any other method: 405 from the API's routes
            return lambda: self._serve(name[3:])
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY or "chunked" in self.headers.get("Transfer-Encoding", ""):
            self.close_connection = True
            self._send(error(400, "invalid_request", f"Content-Length must be 0..{MAX_BODY}"))
            return
        raw = self.rfile.read(length) if length else b""
        try:
            resp = self.server.app.handle(method, parts.path, parts.query, self.headers, raw)
        except Exception:
            log.exception("unhandled error on %s", method)
            resp = error(500, "internal", "internal error")
        if resp.unanswered:
            self.close_connection = True  # recorded; the kiosk never hears of it
            return
        self._send(resp)

    def _send(self, resp: Response) -> None:
        self.send_response(resp.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(resp.body)))
        for name, value in resp.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], app: GatewayApi) -> None:
        self.app = app
        super().__init__(addr, _Handler)


class PaymentGateway:
    """The reference gateway on ``host:port`` (port 0: a free one), its store at ``db_path``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8090,
                 db_path: str | Path = "payment-gateway.db", fault: Fault | str | None = None,
                 enrol_token: str | None = None) -> None:
        self.host, self._port, self.db_path = host, port, Path(db_path)
        self.enrol_token = enrol_token or secrets.token_urlsafe(24)
        self.faults = FaultSwitch(parse_fault(fault) if isinstance(fault, str) else fault)
        self.store: Store | None = None
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1] if self._httpd else self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> PaymentGateway:
        self.store = Store(self.db_path)
        try:
            self._httpd = _Server((self.host, self._port),
                                  GatewayApi(self.store, self.faults, self.enrol_token))
        except OSError:
            self.store.close()
            self.store = None
            raise
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.2}, name="payment-gateway",
                                        daemon=True)
        self._thread.start()
        return self

    def set_fault(self, mode: str, **kw: Any) -> None:
        self.faults.set(Fault(mode, **kw))

    def settlement(self, merchant_id: str, day: str) -> tuple[int, int]:
        assert self.store is not None
        return self.store.settlement(merchant_id, day)

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            self._port = httpd.server_address[1]  # a restart reuses the port
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self.store is not None:
            self.store.close()
            self.store = None

    def __enter__(self) -> PaymentGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
