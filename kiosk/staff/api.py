"""What staff functions ask the billing API directly (not through the outbox): reachability with
latency, TLS and the server's clock skew; a kiosk's settlement for a day; the heartbeat."""

from __future__ import annotations

import email.utils
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

import requests

from offline_queue.deadline import DeadlineSession
from offline_queue.tls import TlsTrust, tls_reason

log = logging.getLogger(__name__)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class ApiUnavailable(Exception):
    """No usable answer: unreachable, an HTTP error, or a body that is not what the contract says."""


@dataclass(frozen=True)
class ApiHealth:
    url: str
    reachable: bool
    status_code: int | None
    latency_ms: int | None
    tls: str  # "verified", "verified, key pinned", "none (http)", or "failed: …"
    clock_skew_s: float | None  # server minus terminal; positive: the terminal is behind
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _server_epoch(resp: requests.Response) -> float | None:
    try:
        body = resp.json()
        text = body.get("server_time") if isinstance(body, dict) else None
        if isinstance(text, str):
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        pass
    date = resp.headers.get("Date")
    if date:
        try:
            return email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return None
    return None


class BillingProbe:
    def __init__(self, base_url: str, *, connect_timeout: float = 3.05, read_timeout: float = 5.0,
                 session: requests.Session | None = None,
                 clock: Callable[[], float] = time.time, tls: TlsTrust | None = None) -> None:
        """``tls``: what an https:// server must prove, as for the sync worker (the same
        session class: a total deadline, no redirect followed)."""
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.trust = tls or TlsTrust()
        self.http = session or DeadlineSession(connect_timeout + read_timeout, tls=self.trust)
        self.clock = clock

    def health(self) -> ApiHealth:
        url = self.base_url + "/v1/health"
        tls = "none (http)"
        if url.startswith("https://"):
            tls = "verified, key pinned" if self.trust.pin_sha256 else "verified"
        t0, m0 = self.clock(), time.monotonic()
        try:
            resp = self.http.get(url, timeout=self.timeout)
        except requests.RequestException as exc:
            why = tls_reason(exc)  # a refused handshake, a pin, or an enrolment they broke
            if why is not None:
                return ApiHealth(self.base_url, False, None, None, f"failed: {why}", None,
                                 f"TLS: {why}")
            return ApiHealth(self.base_url, False, None, None, tls, None,
                             f"unreachable: {type(exc).__name__}")
        latency = int((time.monotonic() - m0) * 1000)
        server = _server_epoch(resp)
        skew = None if server is None else round(server - (t0 + latency / 2000), 1)
        if resp.status_code != 200:
            return ApiHealth(self.base_url, False, resp.status_code, latency, tls, skew,
                             f"HTTP {resp.status_code}")
        return ApiHealth(self.base_url, True, 200, latency, tls, skew, "")

    def settlement(self, kiosk_id: str, day: str) -> dict[str, Any]:
        """The server's count, total and payments for a kiosk and (kiosk-local) day."""
        body = self._get(f"/v1/kiosks/{kiosk_id}/settlement", {"date": day})
        payments = body.get("payments")
        if not (is_int(body.get("count")) and is_int(body.get("total_minor"))
                and isinstance(payments, list)):
            raise ApiUnavailable("settlement answer does not follow the contract")
        for p in payments:
            if not (isinstance(p, dict) and isinstance(p.get("txn_id"), str)
                    and is_int(p.get("amount_minor"))):
                raise ApiUnavailable("settlement answer holds a malformed payment")
        return body

    def heartbeat(self, kiosk_id: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            resp = self.http.post(f"{self.base_url}/v1/kiosks/{kiosk_id}/heartbeat", json=body,
                                  timeout=self.timeout)
        except requests.RequestException as exc:
            raise ApiUnavailable(f"unreachable: {type(exc).__name__}") from exc
        return self._json(resp)

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            resp = self.http.get(self.base_url + path, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ApiUnavailable(f"unreachable: {type(exc).__name__}") from exc
        return self._json(resp)

    @staticmethod
    def _json(resp: requests.Response) -> dict[str, Any]:
        if resp.status_code != 200:
            raise ApiUnavailable(f"HTTP {resp.status_code}")
        try:
            body = resp.json()
        except ValueError:
            raise ApiUnavailable("the answer is not JSON") from None
        if not isinstance(body, dict):
            raise ApiUnavailable("the answer is not a JSON object")
        return body
