"""How device, HTTP and timer happenings reach the UI thread in the app: through Kivy's Clock.

``ClockEventBridge`` has the ``post``/``get`` interface of ``EventQueue`` so the terminal can be
wired with it unchanged. Until ``attach(dispatch)`` it only queues (start-up reads the queue for
the validator's power-up status); afterwards every ``post`` — from any thread — schedules one
drain on the UI thread with ``Clock.schedule_once``, which hands the queued events, in order, to
``dispatch``. ``ClockTimers`` are the runner's named timers on the Clock, so tests can move time.
"""

from __future__ import annotations

import logging
import queue
from typing import Any, Callable

from kivy.clock import Clock

from kiosk.flow.events import TimerExpired

log = logging.getLogger(__name__)


class ClockEventBridge:
    def __init__(self) -> None:
        self._q: queue.Queue[Any] = queue.Queue()
        self._dispatch: Callable[[Any], None] | None = None
        self.dispatched = 0

    # ---- EventQueue interface
    def post(self, event: Any) -> None:
        self._q.put(event)
        if self._dispatch is not None:
            Clock.schedule_once(self._drain, 0)  # thread-safe (Kivy clock docs)

    def get(self, timeout: float) -> Any | None:
        try:
            return self._q.get(timeout=timeout)
        except queue.Empty:
            return None

    # ---- UI side
    def attach(self, dispatch: Callable[[Any], None]) -> None:
        """From now on events go to ``dispatch`` on the UI thread; what queued meanwhile first."""
        self._dispatch = dispatch
        Clock.schedule_once(self._drain, 0)

    def detach(self) -> None:
        self._dispatch = None

    def _drain(self, _dt: float = 0.0) -> None:
        dispatch = self._dispatch
        while dispatch is not None:
            try:
                ev = self._q.get_nowait()
            except queue.Empty:
                return
            try:
                dispatch(ev)
            except Exception:  # one bad event must not stop the screen from following the session
                log.exception("handling %s failed", type(ev).__name__)
            self.dispatched += 1


class ClockTimers:
    """Named one-shot timers on the Kivy clock that post ``TimerExpired``.

    ``factor`` stretches every timer (accessible mode: longer timeouts); ``touch()`` restarts
    running timers named in ``restart_on_touch`` — a resident who is still touching the screen
    is not idle.
    """

    def __init__(self, post: Callable[[Any], None],
                 restart_on_touch: tuple[str, ...] = ("idle",)) -> None:
        self.post = post
        self.factor = 1.0
        self.restart_on_touch = restart_on_touch
        self._events: dict[str, Any] = {}
        self._lengths: dict[str, float] = {}
        self.deadlines: dict[str, float] = {}

    def start(self, name: str, seconds: float) -> None:
        self.cancel(name)
        length = seconds * self.factor
        self._lengths[name] = seconds
        self.deadlines[name] = Clock.get_time() + length
        self._events[name] = Clock.schedule_once(lambda _dt: self._fire(name), length)

    def cancel(self, name: str) -> None:
        ev = self._events.pop(name, None)
        if ev is not None:
            ev.cancel()
        self.deadlines.pop(name, None)
        self._lengths.pop(name, None)

    def cancel_all(self) -> None:
        for name in list(self._events):
            self.cancel(name)

    def remaining(self, name: str) -> float | None:
        deadline = self.deadlines.get(name)
        return None if deadline is None else max(0.0, deadline - Clock.get_time())

    def touch(self) -> None:
        for name in self.restart_on_touch:
            if name in self._events:
                self.start(name, self._lengths[name])

    def _fire(self, name: str) -> None:
        self._events.pop(name, None)
        self._lengths.pop(name, None)
        self.deadlines.pop(name, None)
        self.post(TimerExpired(name))
