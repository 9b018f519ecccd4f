"""Collecting what a driver posts, for driver ↔ simulator tests over a pty."""

from __future__ import annotations

import queue
import time
from typing import Callable

from drivers.interfaces import DeviceEvent


class CollectsEvents:
    """Mixed into a test rig whose driver posts to ``self.q``; ``self.seen`` keeps the history."""

    q: queue.Queue[DeviceEvent]
    seen: list[DeviceEvent]

    def wait_for(self, pred: Callable[[DeviceEvent], bool], timeout: float = 30.0) -> DeviceEvent:
        """The first event (from now on) that satisfies ``pred``; fails the test at the deadline,
        which only bounds a hang (a loaded machine is slow, not wrong)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"event not seen; got {self.seen}")
            try:
                ev = self.q.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(ev)
            if pred(ev):
                return ev
