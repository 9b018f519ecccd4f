"""The app's side of the one-thread rule: settled sessions from the deciding thread reach the
UI thread through Kivy's clock (``SessionFeed``), and the runner's named timers live on the
Kivy clock (``ClockTimers``) so tests can move time. Scheduling on the Kivy clock is safe from
any thread (Kivy clock docs, "Threading and Callback Order"); the UI thread only ever reads
what it is handed and posts intents back.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from kivy.clock import Clock

from kiosk.flow.events import TimerExpired
from kiosk.services.events_bridge import TimerTokens

log = logging.getLogger(__name__)


class SessionFeed:
    """Called on the deciding thread with each settled session; hands it (and what only the
    deciding thread may read, e.g. the receipt from the journal) to ``show`` on the UI thread,
    every one in order (callbacks scheduled for one frame run in the order they were scheduled:
    Kivy clock docs), so a note in escrow is on screen the frame after the validator said so."""

    def __init__(self, extra: Callable[[Any], Any], show: Callable[[Any, Any], None]) -> None:
        self.extra = extra
        self.show = show
        self._closed = False
        self.delivered = 0

    def __call__(self, session: Any) -> None:
        item = (session, self.extra(session))
        Clock.schedule_once(lambda _dt: self._deliver(item), 0)

    def _deliver(self, item: tuple[Any, Any]) -> None:
        if self._closed:
            return
        self.delivered += 1
        self.show(*item)

    def close(self) -> None:
        self._closed = True


class ClockTimers(TimerTokens):
    """Named one-shot timers on the Kivy clock that post ``TimerExpired``.

    Started and cancelled on the deciding thread, read and touched on the UI thread (hence the
    lock); stale expiries are refused as for every timer set (``TimerTokens``).

    ``factor`` stretches every timer (accessible mode: longer timeouts); ``touch()`` restarts
    running timers named in ``restart_on_touch`` — a resident who is still touching the screen
    is not idle.
    """

    def __init__(self, post: Callable[[Any], None],
                 restart_on_touch: tuple[str, ...] = ("idle",)) -> None:
        super().__init__()
        self.post = post
        self.factor = 1.0
        self.restart_on_touch = restart_on_touch
        self._events: dict[str, Any] = {}
        self._lengths: dict[str, float] = {}
        self.deadlines: dict[str, float] = {}

    def start(self, name: str, seconds: float) -> None:
        with self._lock:
            self.cancel(name)
            length = seconds * self.factor
            token = self._issue(name)
            self._lengths[name] = seconds
            self.deadlines[name] = Clock.get_time() + length
            self._events[name] = Clock.schedule_once(lambda _dt: self._fire(name, token), length)

    def cancel(self, name: str) -> None:
        with self._lock:
            ev = self._events.pop(name, None)
            if ev is not None:
                ev.cancel()
            self.deadlines.pop(name, None)
            self._lengths.pop(name, None)
            self._current.pop(name, None)

    def cancel_all(self) -> None:
        with self._lock:
            for name in list(self._events):
                self.cancel(name)

    def remaining(self, name: str) -> float | None:
        deadline = self.deadlines.get(name)
        return None if deadline is None else max(0.0, deadline - Clock.get_time())

    def touch(self) -> None:
        with self._lock:
            for name in self.restart_on_touch:
                if name in self._events:
                    self.start(name, self._lengths[name])

    def _fire(self, name: str, token: int) -> None:
        with self._lock:
            if not self._is_current(name, token):
                return
            self._events.pop(name, None)
            self._lengths.pop(name, None)
            self.deadlines.pop(name, None)
        self.post(TimerExpired(name, token))
