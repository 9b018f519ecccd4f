"""An HTTP session for talking to the billing API: a total deadline per request, no redirects.

``requests``' ``timeout=(connect, read)`` bounds each socket read, not the whole exchange: a
server that sends one byte a second never times out. ``DeadlineSession`` arms a watchdog for
every request; at the deadline the watchdog shuts down the socket the request is using, which
wakes the blocked read, and the call raises ``DeadlineExceeded``. The whole exchange is covered:
connect, sending, the status line and headers, and the body (read here, capped in size).

Redirects are never followed (a 302 to a POST is re-sent by ``requests`` as a GET, whose 200
would look like a recorded payment): the 3xx itself is handed to the caller to judge. Proxies,
netrc and CA bundles from the environment are ignored: the kiosk talks to the one configured URL.

TLS is always verified against the session's ``TlsTrust`` (offline_queue/tls.py: a CA file or the
system store, and an optional public-key pin checked before any request byte is sent); a
caller's ``verify=`` cannot switch it off. The TLS handshake counts against the same deadline.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import socket
import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from offline_queue.tls import TlsTrust

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 1 << 20  # docs/billing-api.yaml answers are a few hundred bytes
_CHUNK = 16 * 1024


class DeadlineExceeded(requests.Timeout):
    """The whole request (connect + send + complete answer) took longer than its deadline."""


class AnswerTooLarge(requests.RequestException):
    """The answer body is larger than any answer the API documents."""


class _Watch:
    """The connections one request uses, so the watchdog can end them at its deadline."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.expired = False
        self._lock = threading.Lock()
        self._conns: list[Any] = []

    def add(self, conn: Any) -> None:
        with self._lock:
            self._conns.append(conn)
            expired = self.expired
        if expired:
            _shutdown(conn)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            conns = list(self._conns)
        for conn in conns:
            _shutdown(conn)


def _shutdown(conn: Any) -> None:
    # During a TLS handshake ``sock`` is not the socket being read: ``_handshake_sock`` reaches it.
    for sock in (getattr(conn, "sock", None), getattr(conn, "_handshake_sock", None)):
        if sock is None:
            continue
        try:
            # shutdown (not close) wakes a recv() blocked in another thread on Linux.
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Watchdog:
    """One daemon thread for the process: expires watches whose deadline has passed."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._live: set[int] = set()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float) -> tuple[int, _Watch]:
        watch = _Watch(time.monotonic() + seconds)  # monotonic: a wall-clock jump changes nothing
        with self._cond:
            wid = next(self._ids)
            heapq.heappush(self._heap, (watch.deadline, wid, watch))
            self._live.add(wid)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="http-deadline", daemon=True)
                self._thread.start()
            self._cond.notify()
        return wid, watch

    def disarm(self, wid: int) -> None:
        with self._cond:
            self._live.discard(wid)

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._heap and (self._heap[0][1] not in self._live or self._heap[0][0] <= now):
                    _, wid, watch = heapq.heappop(self._heap)
                    if wid in self._live:
                        self._live.discard(wid)
                        watch.expire()
                self._cond.wait(self._heap[0][0] - now if self._heap else None)


_WATCHDOG = _Watchdog()
_current = threading.local()


class _WatchedMixin:
    """Registers the connection with the calling thread's watch on connect and on each request."""

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _register(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _register(self)
        super().request(*args, **kwargs)  # type: ignore[misc]


def _register(conn: Any) -> None:
    watch = getattr(_current, "watch", None)
    if watch is not None:
        watch.add(conn)


class _HTTPConnection(_WatchedMixin, HTTPConnection):
    pass


class _HTTPSConnection(_WatchedMixin, HTTPSConnection):
    trust: TlsTrust = TlsTrust()  # each adapter's own subclass sets its trust

    _handshake_sock: socket.socket | None = None

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        # ssl's wrap_socket detaches ``sock``; a duplicate descriptor of the same TCP socket
        # lets the watchdog end a handshake that stalls or trickles, under the same deadline.
        self._handshake_sock = sock.dup()
        _register(self)
        return sock

    def connect(self) -> None:
        try:
            super().connect()  # the handshake: chain, dates and host name verified
        finally:
            dup, self._handshake_sock = self._handshake_sock, None
            if dup is not None:
                dup.close()
        # The pin, before the first request byte: a mismatch ends the connection unused.
        try:
            self.trust.check_pin(self.sock.getpeercert(binary_form=True))
        except BaseException:
            self.close()
            raise


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _Adapter(HTTPAdapter):
    def __init__(self, trust: TlsTrust) -> None:
        self.trust = trust
        self.ssl_context = trust.context()
        conn_cls = type("_TrustedHTTPSConnection", (_HTTPSConnection,), {"trust": trust})
        self._https_pool = type("_TrustedHTTPSPool", (_HTTPSPool,), {"ConnectionCls": conn_cls})
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        # An instance attribute of its own: urllib3's default dict is shared module state.
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": self._https_pool}

    def build_connection_pool_key_attributes(self, request: requests.PreparedRequest,
                                             verify: Any, cert: Any = None) -> Any:
        # The session's trust, whatever the caller passed as ``verify``: never CERT_NONE.
        host_params, _ = super().build_connection_pool_key_attributes(request, True, None)
        return host_params, {"ssl_context": self.ssl_context, "cert_reqs": "CERT_REQUIRED"}

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # requests would add certifi's bundle (or drop verification) here; the context built
        # from the TlsTrust already holds exactly what is trusted.
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None


class DeadlineSession(requests.Session):
    """``requests.Session`` with a total deadline per request and no redirect handling;
    ``tls``: what HTTPS answers must prove (default: the system store, no pin)."""

    def __init__(self, deadline_s: float, max_answer_bytes: int = MAX_ANSWER_BYTES,
                 tls: TlsTrust | None = None) -> None:
        super().__init__()
        if not deadline_s > 0:
            raise ValueError("deadline_s must be > 0")
        self.deadline_s = deadline_s
        self.max_answer_bytes = max_answer_bytes
        self.trust_env = False
        self.tls = tls or TlsTrust()
        adapter = _Adapter(self.tls)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def get_redirect_target(self, resp: requests.Response) -> None:
        # Nothing is ever followed, whatever a caller passes: the 3xx is the answer.
        return None

    def request(self, method: str | bytes, url: str | bytes, *args: Any,
                **kwargs: Any) -> requests.Response:
        if kwargs.get("verify", True) is not True:
            raise ValueError("verify is the session's TlsTrust, not a per-request choice")
        kwargs["allow_redirects"] = False
        kwargs["stream"] = True  # the body is read below, under the same deadline
        wid, watch = _WATCHDOG.arm(self.deadline_s)
        _current.watch = watch
        try:
            resp = super().request(method, url, *args, **kwargs)
            resp._content = self._read_capped(resp)
        except requests.RequestException as exc:
            if watch.expired:
                raise DeadlineExceeded(f"no complete answer within {self.deadline_s:g}s") from exc
            raise
        finally:
            _current.watch = None
            _WATCHDOG.disarm(wid)
        if watch.expired:  # the answer completed just as the watchdog fired: it is still whole
            log.debug("answer completed at its deadline")
        return resp

    def _read_capped(self, resp: requests.Response) -> bytes:
        body = bytearray()
        try:
            for chunk in resp.iter_content(_CHUNK):
                body += chunk
                if len(body) > self.max_answer_bytes:
                    raise AnswerTooLarge(f"answer over {self.max_answer_bytes} bytes")
        except BaseException:
            resp.raw.close()  # the rest is unread: this connection cannot be reused
            raise
        finally:
            resp.close()
        return bytes(body)
