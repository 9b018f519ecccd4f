"""The sync worker: delivers outbox rows to the billing API exactly once.

Each row goes to the billing gateway (offline_queue/gateway.py) as it was stored: its kind, its
idempotency key and its bytes, so a retry after any fault is a replay the server answers with
the original result (docs/promises.md). The gateway says delivered (with proof), retry or dead;
the retries are ours (urllib3 does not retry POST): capped exponential backoff with full jitter,
and a circuit that stops hammering a server that is down.

Backoff and the circuit run on the forward-only elapsed clock (offline_queue/elapsed.py), so the
wall clock moving days either way neither holds retries back nor sends early. Every worker on
one database shares one circuit, kept in the database's ``meta`` table (the terminal's
background worker, a staff "send now", ``kiosk sync --once``), and in one process the workers on
one database take turns: a pass holds that database's lock.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import requests

from offline_queue.crash import crash_point
from offline_queue.elapsed import ElapsedClock
from offline_queue.errors import PermanentError, RetryableError, TlsRefused, Untrusted
from offline_queue.gateway import BillingGateway
from offline_queue.http_gateway import RETRY_AFTER_CAP_S, HttpGateway
from offline_queue.outbox import Outbox, OutboxRow
from offline_queue.tls import TlsTrust

log = logging.getLogger(__name__)

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
    #: a health probe's answer (``SyncWorker.probe``), made when a pass had no news about the
    #: network and the terminal believes it is offline; None: no probe was made
    reachable: bool | None = None

    @property
    def news(self) -> bool:
        """The pass learned something about the network (a delivery tried, or a probe)."""
        return bool(self.delivered or self.retried or self.dead or self.circuit_open
                    or self.reachable is not None)


class SyncWorker:
    def __init__(self, outbox: Outbox, gateway: BillingGateway | str, *,
                 connect_timeout: float = 3.05, read_timeout: float = 10.0,
                 backoff: Backoff | None = None, circuit: Circuit | None = None,
                 clock: Callable[[], float] | None = None, rng: random.Random | None = None,
                 session: requests.Session | None = None, wall: Callable[[], float] = time.time,
                 request_deadline_s: float | None = None, untrusted_limit: int = UNTRUSTED_LIMIT,
                 tls: TlsTrust | None = None) -> None:
        """``gateway``: where rows go; a base URL means today's contract over HTTP
        (``HttpGateway`` with ``connect_timeout``, ``read_timeout``, ``request_deadline_s``,
        ``session`` and ``tls``). ``clock``: forward-only seconds for backoff and the circuit
        (default: the outbox's elapsed clock); ``wall``: only for the ``delivered_at`` record.
        ``circuit`` gives the threshold and cooldown; its state is the one shared in the
        database."""
        self.outbox = outbox
        if isinstance(gateway, str):
            gateway = HttpGateway(gateway, connect_timeout=connect_timeout,
                                  read_timeout=read_timeout, request_deadline_s=request_deadline_s,
                                  session=session, tls=tls)
        self.gateway = gateway
        self.backoff = backoff or Backoff()
        self.circuit = circuit or Circuit()
        elapsed: ElapsedClock = outbox.elapsed
        self.clock = clock or elapsed.now_s
        self.wall = wall
        self._lock = run_lock(outbox.db)
        self.rng = rng or random.Random()
        self.untrusted_limit = untrusted_limit
        self._tls_refused = ""  # the last TLS refusal, until an answer proves the server
        self.untrusted_in_row = 0
        self._untrusted_why = ""

    @property
    def http(self) -> Any:
        """The HTTP gateway's session (where the kiosk's signing hook is set)."""
        return getattr(self.gateway, "http")

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

    def probe(self) -> bool:
        """One cheap ``GET /v1/health`` (docs/billing-api.yaml): True when the server answers.
        An answer closes the circuit at once, so delivery resumes on the next pass rather than
        after the cooldown (docs/promises.md: the offline banner). A gateway without a health
        endpoint is never probed (False)."""
        health = getattr(self.gateway, "health", None)
        if health is None:
            return False
        try:
            status, _clock = health()
        except Exception:  # Unreachable, TlsRefused: not back yet, whatever the reason
            return False
        if status != 200:
            return False
        with self._lock:
            self._circuit_record(True, self.clock())
        return True

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
            receipt = self._send(row)
        except RetryableError as err:
            now = self.clock()
            self._circuit_record(False, now)
            retry_after = min(getattr(err, "retry_after", 0.0), self.backoff.cap_s)
            delay = max(self.backoff.delay(row.attempts + 1, self.rng), retry_after)
            self.outbox.retry_later(row.id, str(err), now + delay, getattr(err, "status", None))
            log.info("outbox %s: %s; retry in %.1fs", row.idem_key, err, delay)
            return "retried"
        except PermanentError as err:
            self._circuit_record(True, self.clock())
            self.outbox.dead(row.id, str(err), getattr(err, "status", None), getattr(err, "body", ""))
            log.error("outbox %s refused for good: %s", row.idem_key, err)
            return "dead"
        self._circuit_record(True, self.clock())
        self.outbox.delivered(row.id, receipt.status, receipt.answer, self.wall())
        crash_point("after_delivered_marked")
        return "delivered"

    def _send(self, row: OutboxRow) -> Any:
        try:
            receipt = self.gateway.deliver(row.kind, row.idem_key, row.body)
        except TlsRefused as err:
            if not self._tls_refused:
                log.error("billing server not trusted: %s", err)
            self._tls_refused = str(err)
            raise
        except Untrusted as err:
            # Redirects, refused identity, answers without proof: in a row, a visible fault.
            self.untrusted_in_row += 1
            self._untrusted_why = str(err)
            if self.untrusted_in_row == self.untrusted_limit:
                log.error("billing server not trusted: %s", self.fault)
            raise
        self.untrusted_in_row = 0
        self._tls_refused = ""
        return receipt


def run_forever(worker: SyncWorker, stop: threading.Event, interval_s: float = 2.0,
                on_pass: Callable[[SyncResult], None] | None = None,
                offline: Callable[[], bool] | None = None) -> None:
    """The background loop: only touches the outbox and reports through ``on_pass``. While
    ``offline()`` says the terminal believes the network down, a pass that learned nothing
    (nothing due, or the circuit open) probes the health endpoint, so being back is known
    within one interval."""
    while not stop.is_set():
        try:
            result = worker.run_once()
            if offline is not None and (result.circuit_open or not result.news) and offline():
                result.reachable = worker.probe()
                result.circuit_open = result.circuit_open and not result.reachable
        except Exception:  # a bug must not kill delivery for good; log and keep going
            log.exception("sync pass failed")
            result = SyncResult(errors=["internal"])
        if on_pass is not None:
            on_pass(result)
        stop.wait(interval_s)
