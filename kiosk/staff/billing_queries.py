"""What staff functions ask the billing system directly (not through the outbox): reachability
with latency, TLS and the server's clock skew; a kiosk's settlement for a day; the heartbeat.
The requests and their answer checks are the gateway's (offline_queue/http_gateway.py)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

import requests

from offline_queue.errors import ApiUnavailable, TlsRefused, Unreachable
from offline_queue.http_gateway import HttpGateway
from offline_queue.tls import TlsTrust

__all__ = ["ApiHealth", "ApiUnavailable", "BillingProbe"]

log = logging.getLogger(__name__)


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


class BillingProbe:
    def __init__(self, base_url: str, *, connect_timeout: float = 3.05, read_timeout: float = 5.0,
                 session: requests.Session | None = None,
                 clock: Callable[[], float] = time.time, tls: TlsTrust | None = None,
                 gateway: HttpGateway | None = None) -> None:
        """``tls``: what an https:// server must prove, as for the sync worker (the same
        gateway: a total deadline, no redirect followed)."""
        self.gateway = gateway or HttpGateway(base_url, connect_timeout=connect_timeout,
                                              read_timeout=read_timeout, session=session, tls=tls)
        self.base_url = self.gateway.base_url
        self.trust = self.gateway.trust
        self.clock = clock

    @property
    def http(self) -> Any:
        """The gateway's session (where the kiosk's signing hook is set)."""
        return self.gateway.http

    def health(self) -> ApiHealth:
        tls = "none (http)"
        if self.base_url.startswith("https://"):
            tls = "verified, key pinned" if self.trust.pin_sha256 else "verified"
        t0, m0 = self.clock(), time.monotonic()
        try:
            status, server = self.gateway.health()
        except TlsRefused as exc:
            return ApiHealth(self.base_url, False, None, None, f"failed: {exc}", None,
                             f"TLS: {exc}")
        except Unreachable as exc:
            return ApiHealth(self.base_url, False, None, None, tls, None, str(exc))
        latency = int((time.monotonic() - m0) * 1000)
        skew = None if server is None else round(server - (t0 + latency / 2000), 1)
        if status != 200:
            return ApiHealth(self.base_url, False, status, latency, tls, skew, f"HTTP {status}")
        return ApiHealth(self.base_url, True, 200, latency, tls, skew, "")

    def settlement(self, kiosk_id: str, day: str) -> dict[str, Any]:
        """The server's count, total and payments for a kiosk and (kiosk-local) day."""
        return self.gateway.settlement(kiosk_id, day)

    def heartbeat(self, kiosk_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.gateway.heartbeat(kiosk_id, body)
