"""Fault knobs of the reference billing server: what to break, how many times, on which paths.

Modes (what the client sees; whether the server commits):
  none       normal service
  delay      sleep ``seconds``, then answer normally (commits)
  500        answer 500 {"error": "internal"}; nothing is committed
  drop       commit, then close the connection without a response
  reset      read the request, then reset the connection (RST); nothing is committed
  malformed  commit, then answer with the real status and a body that is not JSON
  429        answer 429 {"error": "rate_limited"} with Retry-After (``seconds``, at least 1);
             nothing is committed
"""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import asdict, dataclass
from typing import Any

MODES = ("none", "delay", "500", "drop", "reset", "malformed", "429")
DEFAULT_PATHS = "/v1/payments"
# Truncated JSON: looks like the start of a real answer so a lenient parser would be tempted.
MALFORMED_BODY = b'{"payment_id": "PAY-'


@dataclass(frozen=True)
class Fault:
    mode: str = "none"
    seconds: float = 0.0
    count: int | None = None  # None: every matching request until changed
    paths: str = DEFAULT_PATHS

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown fault mode {self.mode!r}; one of {', '.join(MODES)}")
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float)):
            raise ValueError("seconds must be a number")
        if not 0 <= self.seconds <= 300:
            raise ValueError("seconds must be between 0 and 300")
        if self.count is not None and (
            isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1
        ):
            raise ValueError("count must be a positive integer")
        if not isinstance(self.paths, str) or not self.paths.startswith("/"):
            raise ValueError("paths must be a path prefix starting with '/'")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_fault(text: str) -> Fault:
    """``MODE[:ARG]`` from the command line: ``delay:2.5`` (seconds), ``drop:3`` (next 3 only);
    ValueError saying what is wrong."""
    mode, sep, arg = text.strip().partition(":")
    if not sep:
        return Fault(mode)
    try:
        number = float(arg) if mode == "delay" else int(arg)
    except ValueError:
        raise ValueError(f"{arg!r} is not a {'number of seconds' if mode == 'delay' else 'count'}"
                         ) from None
    return Fault(mode, seconds=number) if mode == "delay" else Fault(mode, count=number)


def fault_from_json(obj: Any) -> Fault:
    """The body of POST /_admin/fault; raises ValueError with a readable message."""
    if not isinstance(obj, dict):
        raise ValueError("body must be an object")
    unknown = set(obj) - {"mode", "seconds", "count", "paths"}
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    if "mode" not in obj:
        raise ValueError("mode is required")
    return Fault(
        mode=obj["mode"],
        seconds=obj.get("seconds", 0.0),
        count=obj.get("count"),
        paths=obj.get("paths", DEFAULT_PATHS),
    )


class FaultSwitch:
    """Thread-safe current fault; ``take(path)`` consumes one use for a matching request."""

    def __init__(self, fault: Fault | None = None) -> None:
        self._lock = threading.Lock()
        self._fault = fault or Fault()
        self._remaining = self._fault.count

    def set(self, fault: Fault) -> None:
        with self._lock:
            self._fault = fault
            self._remaining = fault.count

    def current(self) -> dict[str, Any]:
        with self._lock:
            return {**self._fault.to_json(), "remaining": self._remaining}

    def take(self, path: str) -> Fault | None:
        """The fault to apply to this request, or None. Admin paths are never faulted."""
        if path.startswith("/_admin"):
            return None
        with self._lock:
            fault = self._fault
            if fault.mode == "none" or not path.startswith(fault.paths):
                return None
            if self._remaining is not None:
                self._remaining -= 1
                if self._remaining <= 0:
                    self._fault, self._remaining = Fault(), None
            return fault


def reset_connection(sock: socket.socket) -> None:
    """Close with SO_LINGER 0 so the kernel sends RST instead of FIN (the peer sees ECONNRESET)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
