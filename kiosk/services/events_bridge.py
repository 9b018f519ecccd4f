"""How I/O threads hand events to the one deciding thread: a plain queue (in every mode), and
timers that post."""

from __future__ import annotations

import itertools
import queue
import threading
import time
from typing import Any, Callable

from kiosk.flow.events import TimerExpired


class EventQueue:
    def __init__(self) -> None:
        self._q: queue.Queue[Any] = queue.Queue()

    def post(self, event: Any) -> None:
        self._q.put(event)

    def get(self, timeout: float) -> Any | None:
        try:
            return self._q.get(timeout=timeout)
        except queue.Empty:
            return None


class TimerTokens:
    """What every set of named timers shares: each start gets its own token, carried by its
    expiry, and an expiry that was already queued when the timer was restarted or cancelled is
    refused by ``claim`` (the deciding thread asks before it acts on one)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._tokens = itertools.count(1)
        self._current: dict[str, int] = {}

    def _issue(self, name: str) -> int:
        token = next(self._tokens)
        self._current[name] = token
        return token

    def _is_current(self, name: str, token: int) -> bool:
        return self._current.get(name) == token

    def claim(self, name: str, token: int) -> bool:
        """True once for the expiry of the timer's current start; False for a stale one."""
        with self._lock:
            if not self._is_current(name, token):
                return False
            del self._current[name]
            return True


class ThreadTimers(TimerTokens):
    """Named one-shot timers that post ``TimerExpired``; restarting a name voids the old one.
    threading.Timer waits on the monotonic clock, so a wall-clock jump moves no timer."""

    def __init__(self, post: Callable[[Any], None]) -> None:
        super().__init__()
        self.post = post
        self._timers: dict[str, threading.Timer] = {}
        self.deadlines: dict[str, float] = {}

    def start(self, name: str, seconds: float) -> None:
        with self._lock:
            old = self._timers.pop(name, None)
            if old:
                old.cancel()
            timer = threading.Timer(seconds, self._fire, args=(name, self._issue(name)))
            timer.daemon = True
            self._timers[name] = timer
            self.deadlines[name] = time.monotonic() + seconds
            timer.start()

    def cancel(self, name: str) -> None:
        with self._lock:
            old = self._timers.pop(name, None)
            self.deadlines.pop(name, None)
            self._current.pop(name, None)
            if old:
                old.cancel()

    def cancel_all(self) -> None:
        for name in list(self._timers):
            self.cancel(name)

    def remaining(self, name: str) -> float | None:
        deadline = self.deadlines.get(name)
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    def _fire(self, name: str, token: int) -> None:
        with self._lock:
            if not self._is_current(name, token):
                return  # restarted or cancelled meanwhile
            self._timers.pop(name, None)
            self.deadlines.pop(name, None)
        self.post(TimerExpired(name, token))
