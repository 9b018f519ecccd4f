"""The reference central billing server: the HTTP layer of docs/billing-api.yaml over the ledger.

stdlib only: ThreadingHTTPServer speaking HTTP/1.1 keep-alive with Nagle off (measured here: 23
req/s with it, ~700 without). Run it as ``billing-server`` (or ``kiosk billing-server``; the
command line is billing_server.cli) or start ``BillingServer`` in a thread from tests. It can be
told to misbehave (billing_server.faults) to test exactly-once delivery.
With a certificate and key it serves HTTPS (TLS 1.2 or later); the handshake runs on each
connection's own thread, so a client that stalls it holds up no one else.
"""

from __future__ import annotations

import logging
import math
import secrets
import socket
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from datetime import datetime
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from billing_server.faults import MALFORMED_BODY, Fault, FaultSwitch, parse_fault, reset_connection
from billing_server.ledger import Ledger
from billing_server.routes import LOOKUPS_PER_MINUTE, BillingApi, Response, error
from billing_server.seed import DEMO_ACCOUNTS, DEMO_CARDS, DEMO_NOTICES

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20
#: connections the kernel holds before accept(): a fleet reconnecting at once after an outage
#: (Python's default of 5 reset 43 of 50 kiosks; listen(2), "backlog")
LISTEN_BACKLOG = 1024
#: connections served at once; the rest wait in the listen backlog, never in memory
MAX_WORKERS = 128
IDLE_TIMEOUT_S = 60  # an idle keep-alive connection is closed after this
HANDSHAKE_TIMEOUT_S = 10


def server_context(cert_file: str | Path, key_file: str | Path) -> ssl.SSLContext:
    """A server-side context; TLS 1.2 or later (RFC 8996 deprecates 1.0 and 1.1). OSError or
    ssl.SSLError if the certificate or key cannot be read or do not belong together."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert_file), str(key_file))
    return ctx


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "KioskBilling/1"
    timeout = IDLE_TIMEOUT_S
    server: _Server

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def __getattr__(self, name: str) -> Any:
        # Every other method (HEAD, OPTIONS, TRACE, CONNECT, made-up ones) goes through the router
        # too: a JSON 405 with Allow (or 404), never http.server's HTML 501.
        if name.startswith("do_"):
            return lambda: self._serve(self.command)
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own refusals (a bad request line, headers too long) are HTML by default;
        # docs/billing-api.yaml promises the JSON Error body for every error.
        self.close_connection = True
        # An unparseable request line leaves the HTTP/0.9 default, which sends no status line or
        # headers at all: answer as HTTP/1.1 so the client can read a status and a JSON body.
        self.request_version = "HTTP/1.1"
        self._send(error(code, "invalid_request", message or "request refused"))

    def log_message(self, format: str, *args: Any) -> None:
        # The default logs the raw request line, which holds account numbers and card ids.
        pass

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self._send(error(411, "length_required", "send Content-Length, not chunked"))
            return None
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True  # the unread body would desynchronise keep-alive
            self._send(error(413 if length > 0 else 400, "invalid_request",
                             f"Content-Length must be 0..{MAX_BODY}"))
            return None
        return self.rfile.read(length) if length else b""

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        raw = self._read_body()
        if raw is None:
            return
        app = self.server.app
        fault = app.faults.take(parts.path)
        if fault is not None:
            log.info("fault %s on %s %s", fault.mode, method, "/".join(parts.path.split("/")[:3]))
            if fault.mode == "delay":
                self.server.stopping.wait(fault.seconds)
            elif fault.mode == "500":
                self._send(error(500, "internal", "injected fault: nothing was recorded"))
                return
            elif fault.mode == "429":
                resp = error(429, "rate_limited", "too many requests: nothing was recorded")
                wait = str(max(1, math.ceil(fault.seconds)))
                self._send(Response(429, resp.body, {"Retry-After": wait}))
                return
            elif fault.mode == "reset":
                self.close_connection = True
                self.rfile.close()  # drop its reference, or close() would not really close
                reset_connection(self.connection)
                return
        try:
            resp, template = app.handle(method, parts.path, parts.query, self.headers, raw,
                                        self.client_address[0])
        except Exception:
            log.exception("unhandled error on %s", method)
            resp, template = error(500, "internal", "internal server error"), "?"
        log.debug("%s %s -> %d", method, template, resp.status)
        if fault is not None and fault.mode == "drop":
            self.close_connection = True  # committed; the client never hears about it
            return
        if fault is not None and fault.mode == "malformed":
            resp = Response(resp.status, MALFORMED_BODY, resp.headers)
        self._send(resp)

    def _send(self, resp: Response) -> None:
        self.send_response(resp.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(resp.body)))
        for name, value in resp.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":  # a HEAD answer has headers only (RFC 9110 section 9.3.2)
            self.wfile.write(resp.body)


class _Server(ThreadingHTTPServer):
    """Tracks its connections and threads so stop() can end keep-alive readers and wait for them."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, addr: tuple[str, int], app: BillingApi,
                 tls: ssl.SSLContext | None = None, max_workers: int = MAX_WORKERS) -> None:
        self.app = app
        self.tls = tls
        self._workers = threading.BoundedSemaphore(max_workers)
        self.stopping = threading.Event()
        self._live_lock = threading.Lock()
        self._live: dict[threading.Thread, socket.socket] = {}
        super().__init__(addr, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # A full pool stops accepting: the next connections wait in the listen backlog.
        while not self._workers.acquire(timeout=0.5):
            if self.stopping.is_set():
                self.shutdown_request(request)
                return
        t = threading.Thread(target=self._run_one, args=(request, client_address), daemon=True)
        with self._live_lock:
            self._live[t] = request
        t.start()

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = super().get_request()
        if self.tls is not None:  # the handshake happens later, on the connection's thread
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def _run_one(self, request: Any, client_address: Any) -> None:
        try:
            if isinstance(request, ssl.SSLSocket):
                try:
                    request.settimeout(HANDSHAKE_TIMEOUT_S)
                    request.do_handshake()
                except (OSError, ValueError) as exc:  # a client that does not trust us, a probe
                    log.debug("TLS handshake with %s failed: %s", client_address[0], exc)
                    self.shutdown_request(request)
                    return
            self.process_request_thread(request, client_address)
        finally:
            with self._live_lock:
                self._live.pop(threading.current_thread(), None)
            self._workers.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver's default prints a traceback to stderr; a peer hanging up is routine.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            log.debug("connection ended: %s", exc)
        else:
            log.exception("error while serving a connection")

    def end_connections(self, timeout: float = 5.0) -> None:
        with self._live_lock:
            live = list(self._live.items())
        for _, sock in live:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t, _ in live:
            t.join(timeout)


def _shutdown_now(httpd: _Server) -> None:
    """serve_forever() notices shutdown only when select() wakes: wake it with a connection
    instead of waiting out the poll interval (it checks the flag before accepting)."""
    waiter = threading.Thread(target=httpd.shutdown, daemon=True)
    waiter.start()
    host, port = httpd.server_address[:2]
    while waiter.is_alive():
        try:
            socket.create_connection((host, port), timeout=0.2).close()
        except OSError:
            pass
        waiter.join(0.05)


class BillingServer:
    """The reference server on ``host:port`` (port 0: a free one), its ledger at ``db_path``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8080,
                 db_path: str | Path = "billing-server.db",
                 fault: Fault | str | None = None,
                 now: Callable[[], datetime] | None = None,
                 tls: ssl.SSLContext | None = None, enrol_token: str | None = None,
                 lookups_per_minute: int = LOOKUPS_PER_MINUTE, admin: bool = False) -> None:
        """``tls``: a server context (``server_context``) to serve HTTPS; None: plain HTTP.
        ``admin``: serve the test-only ``/_admin/*`` endpoints (off unless asked for).
        ``enrol_token``: what kiosks enrol with (None: a fresh random one, ``.enrol_token``)."""
        self.host, self.db_path = host, Path(db_path)
        self.tls = tls
        self.enrol_token = enrol_token or secrets.token_urlsafe(24)
        self.lookups_per_minute = lookups_per_minute
        self.admin = admin
        self._now = now
        self._port = port
        self.faults = FaultSwitch(parse_fault(fault) if isinstance(fault, str) else fault)
        self.ledger: Ledger | None = None
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1] if self._httpd else self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def start(self) -> BillingServer:
        """Open and seed the ledger, bind, and serve from a background thread."""
        self.ledger = Ledger(self.db_path)
        self.ledger.seed(DEMO_ACCOUNTS, dict(DEMO_CARDS), DEMO_NOTICES)
        try:
            self._httpd = _Server((self.host, self._port),
                                  BillingApi(self.ledger, self.faults, self._now,
                                             self.enrol_token, self.lookups_per_minute,
                                             admin=self.admin),
                                  self.tls)
        except OSError:
            self.ledger.close()
            self.ledger = None
            raise
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.5},
            name="billing-server", daemon=True)
        self._thread.start()
        log.info("billing server on %s, ledger %s", self.url, self.db_path)
        return self

    def stop(self) -> None:
        """Stop serving, end open connections, close the ledger. Safe to call twice."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            self._port = httpd.server_address[1]  # a restart reuses the same port
            httpd.stopping.set()
            _shutdown_now(httpd)
            httpd.server_close()
            httpd.end_connections()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None

    def set_fault(self, mode: str, **kw: Any) -> None:
        """In-process equivalent of POST /_admin/fault: seconds=, count=, paths=."""
        self.faults.set(Fault(mode, **kw))

    def __enter__(self) -> BillingServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
