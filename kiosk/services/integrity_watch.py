"""The full integrity check, off the path to taking money.

Start-up checks only what a power cut can have torn (offline_queue/startup_check.py), so the
terminal takes money in bounded time. The whole-file ``PRAGMA quick_check`` then runs here, on
a thread and a read-only connection of its own (a WAL reader blocks no writer: SQLite
documentation, "Write-Ahead Logging"), after the terminal has been idle for ``idle_s``. A
failure is what it was at start-up: the marker beside the database (so the next start stays
locked) and ``JournalFailed`` posted to the deciding thread, which locks now.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from kiosk.flow import events as e
from kiosk.staff.faults import check_on_start
from offline_queue.schema import connect

log = logging.getLogger(__name__)


class IntegrityWatch:
    def __init__(self, db_path: str | Path, post: Callable[[e.Event], None],
                 is_idle: Callable[[], bool] = lambda: True, idle_s: float = 30.0) -> None:
        self.db_path = str(db_path)
        self.post = post
        self.is_idle = is_idle
        self.idle_s = idle_s
        self.stop_event = threading.Event()
        self.done = threading.Event()
        self.problem: str | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "IntegrityWatch":
        self._thread = threading.Thread(target=self._run, name="integrity", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        try:
            while not self.stop_event.wait(self.idle_s):
                if self.is_idle():
                    break
            if self.stop_event.is_set():
                return
            db = connect(self.db_path)
            try:
                self.problem = check_on_start(db, self.db_path)
            finally:
                db.conn.close()
            if self.problem is not None:
                self.post(e.JournalFailed(f"database integrity check failed: {self.problem}"))
            else:
                log.info("full database integrity check passed")
        except Exception:  # a bug here must not stop the terminal; the next start checks again
            log.exception("background integrity check failed to run")
        finally:
            self.done.set()
