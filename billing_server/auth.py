"""The reference server's side of "only enrolled kiosks move money": which kiosk signed a
request (RFC 9421 signature with RFC 9530 content-digest, docs/billing-api.yaml
securitySchemes), and a per-kiosk limit on account and card lookups.

401: unsigned, unreadable, a signature or digest that does not verify, ``created`` outside the
allowed skew. 403: a key id no kiosk enrolled. What the signing kiosk may touch (its own body
and path) is checked by the API layer once it knows who signed.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Any, Callable, Mapping

from offline_queue import signing

MAX_SKEW_S = 300  # a signature's created may be this far from the server's clock either way


class AuthError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def signer(method: str, target: str, headers: Mapping[str, str], raw: bytes,
           key_for: Callable[[str], str | None], now: float,
           max_skew_s: int = MAX_SKEW_S) -> str:
    """The kiosk id whose enrolled key signed this request, or AuthError."""
    try:
        return signing.request_signer(method, target, headers, raw, key_for, now, max_skew_s)
    except signing.RequestRefused as exc:
        raise AuthError(exc.status, exc.code, exc.message) from None


class RateLimit:
    """At most ``per_minute`` requests per kiosk in any 60 s (a sliding window on the
    monotonic clock); ``check`` returns the seconds to wait, 0 when allowed."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, deque[float]] = {}

    def check(self, kiosk_id: str) -> int:
        now = self.clock()
        with self._lock:
            seen = self._seen.setdefault(kiosk_id, deque())
            while seen and seen[0] <= now - 60:
                seen.popleft()
            if len(seen) >= self.per_minute:
                return max(1, math.ceil(seen[0] + 60 - now))
            seen.append(now)
            return 0


def body_kiosk(raw: bytes) -> Any:
    """The ``kiosk_id`` a JSON body names (None when it names none or is not JSON)."""
    import json

    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body.get("kiosk_id") if isinstance(body, dict) else None
