"""How I/O threads hand events to the one deciding thread: a plain queue in headless mode and
tests (the Kivy app posts through ``Clock.schedule_once`` instead), and timers that post."""

from __future__ import annotations

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


class ThreadTimers:
    """Named one-shot timers that post ``TimerExpired``; restarting a name voids the old one."""

    def __init__(self, post: Callable[[Any], None]) -> None:
        self.post = post
        self._timers: dict[str, threading.Timer] = {}
        self._lock = threading.Lock()
        self.deadlines: dict[str, float] = {}

    def start(self, name: str, seconds: float) -> None:
        with self._lock:
            old = self._timers.pop(name, None)
            if old:
                old.cancel()
            timer = threading.Timer(seconds, self._fire, args=(name, None))
            timer.daemon = True
            timer.args = (name, timer)
            self._timers[name] = timer
            self.deadlines[name] = time.monotonic() + seconds
            timer.start()

    def cancel(self, name: str) -> None:
        with self._lock:
            old = self._timers.pop(name, None)
            self.deadlines.pop(name, None)
            if old:
                old.cancel()

    def cancel_all(self) -> None:
        for name in list(self._timers):
            self.cancel(name)

    def _fire(self, name: str, timer: threading.Timer | None) -> None:
        with self._lock:
            if self._timers.get(name) is not timer:
                return  # restarted or cancelled meanwhile
            del self._timers[name]
            self.deadlines.pop(name, None)
        self.post(TimerExpired(name))
