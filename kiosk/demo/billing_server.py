"""The reference central billing server: the HTTP layer of docs/billing-api.yaml over the ledger.

stdlib only: ThreadingHTTPServer speaking HTTP/1.1 keep-alive with Nagle off (measured here: 23
req/s with it, ~700 without). Run it as ``kiosk billing-server`` or start ``BillingServer`` in
a thread from tests. It can be told to misbehave (kiosk.demo.faults) to test exactly-once delivery.
With a certificate and key it serves HTTPS (TLS 1.2 or later); the handshake runs on each
connection's own thread, so a client that stalls it holds up no one else.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import secrets
import signal
import socket
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from datetime import datetime
from typing import Any, Callable
from urllib.parse import urlsplit

from kiosk.demo.api import LOOKUPS_PER_MINUTE, BillingApi, Response, error, settlement_body
from kiosk.demo.faults import MALFORMED_BODY, Fault, FaultSwitch, parse_fault, reset_connection
from kiosk.demo.ledger import SETTLEMENT_SQL, Ledger
from kiosk.demo.seed import DEMO_ACCOUNTS, DEMO_CARDS, DEMO_NOTICES

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20
ENROL_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")  # kiosk/config.py checks the kiosk's copy
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

    def __init__(self, addr: tuple[str, int], app: BillingApi,
                 tls: ssl.SSLContext | None = None) -> None:
        self.app = app
        self.tls = tls
        self.stopping = threading.Event()
        self._live_lock = threading.Lock()
        self._live: dict[threading.Thread, socket.socket] = {}
        super().__init__(addr, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
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
                 lookups_per_minute: int = LOOKUPS_PER_MINUTE) -> None:
        """``tls``: a server context (``server_context``) to serve HTTPS; None: plain HTTP.
        ``enrol_token``: what kiosks enrol with (None: a fresh random one, ``.enrol_token``)."""
        self.host, self.db_path = host, Path(db_path)
        self.tls = tls
        self.enrol_token = enrol_token or secrets.token_urlsafe(24)
        self.lookups_per_minute = lookups_per_minute
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
                                             self.enrol_token, self.lookups_per_minute),
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=_port, default=8080, help="TCP port (0: any free port)")
    parser.add_argument("--db", default="billing-server.db", help="SQLite ledger file")
    parser.add_argument("--fault", type=parse_fault, default=None, metavar="MODE[:ARG]",
                        help="misbehave from the start: delay:SECONDS, 500[:N], drop[:N], "
                             "reset[:N], malformed[:N], 429[:N] (N: only the next N payment requests)")
    parser.add_argument("--enrol-token", type=_token, default=None, metavar="TOKEN",
                        help="the one-time token kiosks enrol with (default: a random one, "
                             "printed at start)")
    parser.add_argument("--lookup-limit", type=_positive, default=LOOKUPS_PER_MINUTE,
                        metavar="N", help="account/card lookups per kiosk per minute (then 429)")
    parser.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate chain")
    parser.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")


def add_settlement_arguments(p: argparse.ArgumentParser) -> None:
    """``kiosk billing-server settlement``: the settlement answer straight from a ledger file."""
    p.add_argument("--db", required=True, help="the server's SQLite ledger")
    p.add_argument("--kiosk-id", required=True, help="the kiosk whose day it is")
    p.add_argument("--date", required=True, help="YYYY-MM-DD (the kiosk's local day)")


def settlement(args: argparse.Namespace) -> int:
    """Print the same JSON as GET /v1/kiosks/{kiosk_id}/settlement; no key needed (the ledger
    file is the utility's own). Bad input: one line, exit 2."""
    import sqlite3
    from contextlib import closing

    from kiosk.demo import validate as v

    if not v.KIOSK_ID.fullmatch(args.kiosk_id):
        return _bad(f"--kiosk-id: {args.kiosk_id!r} is not a kiosk id")
    try:
        day = v.parse_date(args.date)
    except v.BadRequest as exc:
        return _bad(f"--date: {exc.message}")
    if not Path(args.db).is_file():
        return _bad(f"--db: no ledger at {args.db}")
    try:
        # Read-only: looking at the books must never create or migrate a ledger.
        with closing(sqlite3.connect(f"file:{Path(args.db).resolve()}?mode=ro", uri=True)) as c:
            c.row_factory = sqlite3.Row
            rows = [dict(r) for r in c.execute(SETTLEMENT_SQL, (args.kiosk_id, day))]
    except sqlite3.DatabaseError as exc:
        return _bad(f"--db: {args.db} is not a billing ledger ({exc})")
    sys.stdout.write(json.dumps(settlement_body(args.kiosk_id, day, rows), ensure_ascii=False,
                                separators=(",", ":")) + "\n")
    return 0


def _bad(line: str) -> int:
    sys.stderr.write(f"billing-server settlement: {line}\n")
    return 2


def _token(text: str) -> str:
    if not ENROL_TOKEN.fullmatch(text):
        raise argparse.ArgumentTypeError("expected 16-128 letters, digits, '-' or '_'")
    return text


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive integer: {text!r}")
    return value


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text!r}")
    return port


def run(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    """Serve until SIGINT/SIGTERM (or ``stop`` is set). Returns the process exit code."""
    stop = stop or threading.Event()
    tls = None
    cert, key = getattr(args, "tls_cert", None), getattr(args, "tls_key", None)
    if bool(cert) != bool(key):
        sys.stderr.write("billing-server: --tls-cert and --tls-key go together\n")
        return 2
    if cert:
        try:
            tls = server_context(cert, key)
        except (OSError, ssl.SSLError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            sys.stderr.write(f"billing-server: cannot use TLS certificate {cert} / key {key}: "
                             f"{why}\n")
            return 2
    server = BillingServer(args.host, args.port, args.db, fault=args.fault, tls=tls,
                           enrol_token=getattr(args, "enrol_token", None),
                           lookups_per_minute=getattr(args, "lookup_limit", LOOKUPS_PER_MINUTE))
    try:
        server.start()
    except OSError as exc:
        sys.stderr.write(f"billing-server: cannot listen on {args.host}:{args.port}: "
                         f"{exc.strerror or exc}\n")
        return 2
    except Exception as exc:  # e.g. the ledger file is not a database
        sys.stderr.write(f"billing-server: cannot open ledger {args.db}: {exc}\n")
        return 2
    old = None
    if threading.current_thread() is threading.main_thread():
        old = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sys.stdout.write(f"billing server listening on {server.url} (ledger {args.db})\n")
    if getattr(args, "enrol_token", None) is None:  # generated: kiosks need to be told it
        sys.stdout.write(f"enrol token: {server.enrol_token}\n")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if old is not None:
            signal.signal(signal.SIGTERM, old)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk billing-server",
                                     description="Reference central billing server (demo/tests)")
    add_arguments(parser)
    sub = parser.add_subparsers(dest="server_command")
    add_settlement_arguments(sub.add_parser("settlement", help="a kiosk's day from the ledger"))
    args = parser.parse_args(argv)
    if args.server_command == "settlement":
        return settlement(args)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
