"""The printer's own thread keeps its status fresh, so the deciding thread can answer "may this
resident expect a printed receipt?" at once instead of waiting on a serial exchange that takes
up to 1.5 s with a silent printer (ESC/POS DLE EOT real-time status, one request per byte).

The watch reads the status every ``interval_s`` and when poked (a resident reached the amount
screen), and posts ``PrinterStatusSeen`` when what it saw changed — and after every poke, since
the poker waits for that fresh reading.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from kiosk.flow.events import PrinterStatusSeen

log = logging.getLogger(__name__)


class PrinterWatch:
    def __init__(self, printer: Any, post: Callable[[Any], None], interval_s: float = 15.0) -> None:
        self.printer = printer
        self.post = post
        self.interval_s = interval_s
        self.last: bool | None | object = _NOTHING
        self.reads = 0
        self._wake = threading.Event()
        self._poked = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def read_once(self, always: bool = False) -> bool | None:
        """One status exchange (on the calling thread); posts when the answer changed."""
        try:
            can_print: bool | None = bool(self.printer.status().can_print)
        except Exception as exc:  # unplugged, reconnecting: unknown, not "OK"
            log.info("printer status unknown: %s", exc)
            can_print = None
        self.reads += 1
        if always or can_print != self.last:
            self.last = can_print
            self.post(PrinterStatusSeen(can_print))
        return can_print

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="printer-watch", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        self._poked.set()
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            poked = self._poked.is_set()
            self._poked.clear()
            self.read_once(always=poked)


_NOTHING = object()  # nothing posted yet: the first reading is always news
