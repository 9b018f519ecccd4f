"""The sync worker: delivers outbox rows to the billing API exactly once.

Each row is POSTed with its stored bytes and ``Idempotency-Key`` = the kiosk's key, so a retry
after any fault is a replay the server answers with the original result (docs/promises.md).
Retries are ours (urllib3 does not retry POST): capped exponential backoff with full jitter, and
a circuit that stops hammering a server that is down.

Backoff and the circuit run on the forward-only elapsed clock (offline_queue/elapsed.py), so the
wall clock moving days either way neither holds retries back nor sends early. Every worker on
one database shares one circuit, kept in the database's ``meta`` table (the terminal's
background worker, a staff "send now", ``kiosk sync --once``), and in one process the workers on
one database take turns: a pass holds that database's lock.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import requests

from offline_queue.answers import unproven
from offline_queue.crash import crash_point
from offline_queue.deadline import DeadlineSession
from offline_queue.elapsed import ElapsedClock
from offline_queue.errors import PermanentError, RetryableError
from offline_queue.outbox import Outbox, OutboxRow
from offline_queue.tls import TlsTrust, tls_reason

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 425, 429}) | frozenset(range(500, 600))
RETRY_AFTER_CAP_S = 600.0  # a server may slow us down, not park the queue for days
UNTRUSTED_LIMIT = 3  # redirects / unproven answers in a row before it is a visible fault


@dataclass(frozen=True)
class Backoff:
    base_s: float = 1.0
    factor: float = 1.6
    cap_s: float = 120.0

    def delay(self, attempts: int, rng: random.Random) -> float:
        # Full jitter: uniform over [0, capped exponential] spreads a fleet's retries apart.
        ceiling = min(self.cap_s, self.base_s * self.factor ** max(0, attempts - 1))
        return rng.uniform(0, ceiling)


@dataclass
class Circuit:
    threshold: int = 5
    cooldown_s: float = 30.0
    failures: int = 0
    open_until: float = 0.0

    def allows(self, now: float) -> bool:
        # A pause longer than the cooldown was set on another clock (an injected one, or state
        # from before the elapsed clock): it never holds delivery up for longer than cooldown_s.
        return now >= self.open_until or self.open_until - now > self.cooldown_s

    def record(self, ok: bool, now: float) -> None:
        if ok:
            self.failures, self.open_until = 0, 0.0
            return
        self.failures += 1
        if self.failures >= self.threshold:
            self.open_until = now + self.cooldown_s
            log.warning("billing API unreachable %d times: pausing %.0fs", self.failures, self.cooldown_s)


CIRCUIT_KEY = "sync_circuit"
_locks_guard = threading.Lock()
_run_locks: dict[str, threading.Lock] = {}


def run_lock(db: Any) -> threading.Lock:
    """The one lock per database file in this process that a sync pass holds."""
    key = f"memory:{id(db)}"
    for _seq, name, path in db.execute("PRAGMA database_list").fetchall():
        if name == "main" and path:
            key = os.path.realpath(path)
    with _locks_guard:
        return _run_locks.setdefault(key, threading.Lock())


@dataclass
class SyncResult:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    circuit_open: bool = False
    errors: list[str] = field(default_factory=list)
    # Set when the server keeps answering without proof (redirects, answers that do not echo
    # what was sent): nothing is delivered and staff must look at the server, not wait.
    fault: str | None = None


class SyncWorker:
    def __init__(self, outbox: Outbox, base_url: str, *, connect_timeout: float = 3.05,
                 read_timeout: float = 10.0, backoff: Backoff | None = None,
                 circuit: Circuit | None = None, clock: Callable[[], float] | None = None,
                 rng: random.Random | None = None, session: requests.Session | None = None,
                 wall: Callable[[], float] = time.time, request_deadline_s: float | None = None,
                 untrusted_limit: int = UNTRUSTED_LIMIT, tls: TlsTrust | None = None) -> None:
        """``clock``: forward-only seconds for backoff and the circuit (default: the outbox's
        elapsed clock); ``wall``: only for the ``delivered_at`` record. ``circuit`` gives the
        threshold and cooldown; its state is the one shared in the database. ``tls``: what an
        https:// server must prove (default: the system store)."""
        self.outbox = outbox
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.backoff = backoff or Backoff()
        self.circuit = circuit or Circuit()
        elapsed: ElapsedClock = outbox.elapsed
        self.clock = clock or elapsed.now_s
        self.wall = wall
        self._lock = run_lock(outbox.db)
        self.rng = rng or random.Random()
        # One total deadline per request (connect + the whole answer), never a redirect followed.
        if request_deadline_s is None:
            request_deadline_s = connect_timeout + read_timeout
        self.http = session or DeadlineSession(request_deadline_s, tls=tls)
        self.untrusted_limit = untrusted_limit
        self._tls_refused = ""  # the last TLS refusal, until an answer proves the server
        self.untrusted_in_row = 0
        self._untrusted_why = ""
        self.http.headers.update({"Content-Type": "application/json", "Accept": "application/json"})

    def run_once(self, ignore_backoff: bool = False, max_rows: int | None = None) -> SyncResult:
        """Send every row that is due now (all pending ones with ``ignore_backoff``). Another
        pass on the same database in this process finishes first."""
        with self._lock:
            return self._with_fault(self._run_once(ignore_backoff, max_rows))

    @property
    def fault(self) -> str | None:
        if self._tls_refused:  # not a flaky network: the server did not prove who it is
            return self._tls_refused
        if self.untrusted_in_row < self.untrusted_limit:
            return None
        return f"{self.untrusted_in_row} answers in a row without proof of recording: {self._untrusted_why}"

    def _with_fault(self, result: SyncResult) -> SyncResult:
        result.fault = self.fault
        return result

    def _run_once(self, ignore_backoff: bool, max_rows: int | None) -> SyncResult:
        result = SyncResult()
        attempted: set[int] = set()
        while max_rows is None or len(attempted) < max_rows:
            now = self.clock()
            if not self._circuit_allows(now) and not ignore_backoff:
                result.circuit_open = True
                break
            # No wait we set is longer than the backoff cap or a capped Retry-After.
            latest = now + max(self.backoff.cap_s, RETRY_AFTER_CAP_S)
            rows = [r for r in self.outbox.due(now, ignore_backoff=ignore_backoff, latest=latest)
                    if r.id not in attempted]
            if not rows:
                break
            for row in rows:
                attempted.add(row.id)
                outcome = self._deliver(row)
                setattr(result, outcome, getattr(result, outcome) + 1)
                if outcome == "retried" and not self._circuit_allows(self.clock()) and not ignore_backoff:
                    result.circuit_open = True
                    return result
                if max_rows is not None and len(attempted) >= max_rows:
                    break
        return result

    # ---- the circuit's state lives in the database: every worker on it sees the same one
    def _circuit_load(self) -> None:
        row = self.outbox.db.execute("SELECT value FROM meta WHERE key = ?", (CIRCUIT_KEY,)).fetchone()
        state = json.loads(row[0]) if row else {}
        self.circuit.failures = int(state.get("failures", 0))
        self.circuit.open_until = float(state.get("open_until", 0.0))

    def _circuit_allows(self, now: float) -> bool:
        self._circuit_load()
        return self.circuit.allows(now)

    def _circuit_record(self, ok: bool, now: float) -> None:
        self._circuit_load()
        before = (self.circuit.failures, self.circuit.open_until)
        self.circuit.record(ok, now)
        if (self.circuit.failures, self.circuit.open_until) != before:
            self.outbox.db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (CIRCUIT_KEY, json.dumps({"failures": self.circuit.failures,
                                          "open_until": self.circuit.open_until})))

    def _deliver(self, row: OutboxRow) -> str:
        if not self.outbox.claim(row.id):
            return "retried"
        try:
            status, text = self._send(row)
        except RetryableError as err:
            now = self.clock()
            self._circuit_record(False, now)
            delay = max(self.backoff.delay(row.attempts + 1, self.rng), getattr(err, "retry_after", 0.0))
            self.outbox.retry_later(row.id, str(err), now + delay, getattr(err, "status", None))
            log.info("outbox %s: %s; retry in %.1fs", row.idem_key, err, delay)
            return "retried"
        except PermanentError as err:
            self._circuit_record(True, self.clock())
            self.outbox.dead(row.id, str(err), getattr(err, "status", None), getattr(err, "body", ""))
            log.error("outbox %s refused for good: %s", row.idem_key, err)
            return "dead"
        self._circuit_record(True, self.clock())
        self.outbox.delivered(row.id, status, text, self.wall())
        crash_point("after_delivered_marked")
        return "delivered"

    def _send(self, row: OutboxRow) -> tuple[int, str]:
        try:
            resp = self.http.request(
                row.method, self.base_url + row.path, data=row.body,
                headers={"Idempotency-Key": row.idem_key}, timeout=self.timeout,
                allow_redirects=False,  # a 302 would turn this POST into a GET of the Location
            )
        except requests.RequestException as exc:
            why = tls_reason(exc)  # also when it broke an enrolment on the way
            if why is None:
                raise RetryableError(f"transport: {type(exc).__name__}: {exc}") from exc
            if not self._tls_refused:
                log.error("billing server not trusted: TLS: %s", why)
            self._tls_refused = f"TLS: {why}"
            raise RetryableError(self._tls_refused) from exc
        crash_point("after_post_sent")
        status = resp.status_code
        text = resp.content.decode("utf-8", errors="replace")
        if 300 <= status < 400:
            # Not an answer to what we sent. The server may still have recorded it: the retry
            # is the byte-identical body under the same Idempotency-Key.
            location = resp.headers.get("Location", "")[:200]
            log.warning("outbox %s: HTTP %d to %r, not followed", row.idem_key, status, location)
            raise self._untrusted(status, text, f"redirect to {location!r} not followed")
        if status in RETRYABLE_STATUS:
            err = _status_error(RetryableError, status, text)
            if status in (429, 503):
                err.retry_after = retry_after_s(resp.headers.get("Retry-After"), self.backoff.cap_s)  # type: ignore[attr-defined]
            raise err
        if status in (401, 403):
            # docs/billing-api.yaml: the signature or the kiosk's enrolment was refused, so
            # nothing was recorded. Not the payment's fault: it stays queued, staff see why.
            raise self._untrusted(status, text, f"{_error_code(text)}: kiosk identity refused")
        if 400 <= status < 500:
            # 409: this key was used with different bytes — never resend blindly; staff decide.
            raise _status_error(PermanentError, status, text)
        if not 200 <= status < 300:
            raise _status_error(RetryableError, status, text)
        # docs/billing-api.yaml: a recorded request is answered with its ids (and amount) echoed.
        # Anything less may have come from something that is not the ledger.
        why = unproven(row.kind, row.body, text)
        if why is not None:
            raise self._untrusted(status, text, why)
        self.untrusted_in_row = 0
        self._tls_refused = ""
        return status, text

    def _untrusted(self, status: int, text: str, why: str) -> RetryableError:
        self.untrusted_in_row += 1
        self._untrusted_why = f"HTTP {status} {why}"
        if self.untrusted_in_row == self.untrusted_limit:
            log.error("billing server not trusted: %s", self.fault)
        err = RetryableError(f"HTTP {status} {why}")
        err.status = status  # type: ignore[attr-defined]
        err.body = text[:2000]  # type: ignore[attr-defined]
        return err


def retry_after_s(value: str | None, cap_s: float = RETRY_AFTER_CAP_S) -> float:
    """RFC 9110 section 10.2.3: delay-seconds or an HTTP-date; capped at ``cap_s`` (the backoff's
    own cap: a later retry time is taken for one set on another clock); 0 if absent/unreadable."""
    if not value:
        return 0.0
    value = value.strip()
    if re.fullmatch(r"[0-9]{1,10}", value):
        seconds = float(value)
    else:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return 0.0
    return max(0.0, min(cap_s, RETRY_AFTER_CAP_S, seconds))


def _error_code(text: str) -> str:
    try:
        code = json.loads(text).get("error", "")
    except (ValueError, AttributeError):
        return "?"
    return code if isinstance(code, str) else "?"


def _status_error(cls: type, status: int, text: str, why: str = "") -> Exception:
    code = ""
    try:
        code = json.loads(text).get("error", "")
    except (ValueError, AttributeError):
        pass
    err = cls(f"HTTP {status} {code or why}".strip())
    err.status = status  # type: ignore[attr-defined]
    err.body = text[:2000]  # type: ignore[attr-defined]
    return err


def run_forever(worker: SyncWorker, stop: threading.Event, interval_s: float = 2.0,
                on_pass: Callable[[SyncResult], None] | None = None) -> None:
    """The background loop: only touches the outbox and reports through ``on_pass``."""
    while not stop.is_set():
        try:
            result = worker.run_once()
        except Exception:  # a bug must not kill delivery for good; log and keep going
            log.exception("sync pass failed")
            result = SyncResult(errors=["internal"])
        if on_pass is not None:
            on_pass(result)
        stop.wait(interval_s)
