"""The sync worker: delivers outbox rows to the billing API exactly once.

Each row is POSTed with its stored bytes and ``Idempotency-Key`` = the kiosk's key, so a retry
after any fault is a replay the server answers with the original result (DESIGN §4 item 4).
Retries are ours (urllib3 does not retry POST): capped exponential backoff with full jitter, and
a circuit that stops hammering a server that is down.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import requests

from offline_queue.crash import crash_point
from offline_queue.errors import PermanentError, RetryableError
from offline_queue.outbox import Outbox, OutboxRow

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 425, 429}) | frozenset(range(500, 600))


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
        return now >= self.open_until

    def record(self, ok: bool, now: float) -> None:
        if ok:
            self.failures, self.open_until = 0, 0.0
            return
        self.failures += 1
        if self.failures >= self.threshold:
            self.open_until = now + self.cooldown_s
            log.warning("billing API unreachable %d times: pausing %.0fs", self.failures, self.cooldown_s)


@dataclass
class SyncResult:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    circuit_open: bool = False
    errors: list[str] = field(default_factory=list)


class SyncWorker:
    def __init__(self, outbox: Outbox, base_url: str, *, connect_timeout: float = 3.05,
                 read_timeout: float = 10.0, backoff: Backoff | None = None,
                 circuit: Circuit | None = None, clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None, session: requests.Session | None = None) -> None:
        self.outbox = outbox
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.backoff = backoff or Backoff()
        self.circuit = circuit or Circuit()
        self.clock = clock
        self.rng = rng or random.Random()
        self.http = session or requests.Session()
        self.http.headers.update({"Content-Type": "application/json", "Accept": "application/json"})

    def run_once(self, ignore_backoff: bool = False, max_rows: int | None = None) -> SyncResult:
        """Send every row that is due now (all pending ones with ``ignore_backoff``)."""
        result = SyncResult()
        attempted: set[int] = set()
        while max_rows is None or len(attempted) < max_rows:
            now = self.clock()
            if not self.circuit.allows(now) and not ignore_backoff:
                result.circuit_open = True
                break
            rows = [r for r in self.outbox.due(now, ignore_backoff=ignore_backoff) if r.id not in attempted]
            if not rows:
                break
            for row in rows:
                attempted.add(row.id)
                outcome = self._deliver(row)
                setattr(result, outcome, getattr(result, outcome) + 1)
                if outcome == "retried" and not self.circuit.allows(self.clock()) and not ignore_backoff:
                    result.circuit_open = True
                    return result
                if max_rows is not None and len(attempted) >= max_rows:
                    break
        return result

    def _deliver(self, row: OutboxRow) -> str:
        if not self.outbox.claim(row.id):
            return "retried"
        try:
            status, text = self._send(row)
        except RetryableError as err:
            now = self.clock()
            self.circuit.record(False, now)
            delay = self.backoff.delay(row.attempts + 1, self.rng)
            self.outbox.retry_later(row.id, str(err), now + delay, getattr(err, "status", None))
            log.info("outbox %s: %s; retry in %.1fs", row.idem_key, err, delay)
            return "retried"
        except PermanentError as err:
            self.circuit.record(True, self.clock())
            self.outbox.dead(row.id, str(err), getattr(err, "status", None), getattr(err, "body", ""))
            log.error("outbox %s refused for good: %s", row.idem_key, err)
            return "dead"
        self.circuit.record(True, self.clock())
        self.outbox.delivered(row.id, status, text, self.clock())
        crash_point("after_delivered_marked")
        return "delivered"

    def _send(self, row: OutboxRow) -> tuple[int, str]:
        try:
            resp = self.http.request(
                row.method, self.base_url + row.path, data=row.body,
                headers={"Idempotency-Key": row.idem_key}, timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise RetryableError(f"transport: {type(exc).__name__}: {exc}") from exc
        crash_point("after_post_sent")
        text = resp.text
        if resp.status_code in RETRYABLE_STATUS:
            raise _status_error(RetryableError, resp.status_code, text)
        if 400 <= resp.status_code < 500:
            # 409: this key was used with different bytes — never resend blindly; staff decide.
            raise _status_error(PermanentError, resp.status_code, text)
        if not 200 <= resp.status_code < 300:
            raise _status_error(RetryableError, resp.status_code, text)
        try:
            parsed = json.loads(text)
            if not isinstance(parsed, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            # The server may have committed; resending the same bytes gets its original answer.
            raise _status_error(RetryableError, resp.status_code, text, f"malformed answer ({exc})")
        return resp.status_code, text


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
