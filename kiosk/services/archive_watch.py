"""Retention by itself: the monthly archive move (offline_queue/archive.py) at idle, at most
once a day.

Like the full integrity check (kiosk/services/integrity_watch.py) it runs on a thread and a
connection of its own, only while no session is in progress, and it asks again before each
month so a resident who walks up is never kept waiting on a move longer than one month's. The
day it last finished is kept in the database's ``meta`` table, so a restart does not move again
the same day; a wall clock set back only means one more run, which finds nothing new to move
(every move is idempotent). Only delivered, reported payments ever move (docs/promises.md,
Retention); ``keep_days`` 0 turns it off (``[archive] keep_days``, README.md).
"""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable

from offline_queue.archive import Archiver, MoveResult, Rebuild
from offline_queue.schema import connect

log = logging.getLogger(__name__)

LAST_DAY_KEY = "archive_last_day"


def _local_today() -> date:
    return datetime.now().astimezone().date()


class ArchiveWatch:
    def __init__(self, db_path: str | Path, keep_days: int,
                 is_idle: Callable[[], bool] = lambda: True, check_s: float = 60.0,
                 today: Callable[[], date] = _local_today, rebuild: Rebuild | None = None) -> None:
        """``rebuild``: a payment's body from its row, so the archive stores each fact once
        (offline_queue/archive.py)."""
        self.db_path = str(db_path)
        self.rebuild = rebuild
        self.keep_days = keep_days
        self.is_idle = is_idle
        self.check_s = check_s
        self.today = today
        self.stop_event = threading.Event()
        self.passes = 0  # finished daily runs in this process, for tests and diagnostics
        self.ran = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "ArchiveWatch":
        if self.keep_days > 0:  # 0: retention is off, nothing ever moves by itself
            self._thread = threading.Thread(target=self._run, name="archive", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self.stop_event.wait(self.check_s):
            try:
                self.tick()
            except Exception:  # a bug here must not stop the terminal; tomorrow tries again
                log.exception("archive move failed to run")

    def tick(self) -> list[MoveResult] | None:
        """One look: None when nothing was due (already ran today, busy, or off); else what
        moved. A run cut short by a session finishes at the next idle look."""
        if self.keep_days <= 0 or not self.is_idle():
            return None
        today = self.today()
        db = connect(self.db_path)
        try:
            if _last_day(db) == today.isoformat():
                return None
            archiver = Archiver(db, keep_days=self.keep_days, today=lambda: today,
                                rebuild=self.rebuild)
            moved = []
            for month in archiver.due_months():
                if self.stop_event.is_set() or not self.is_idle():
                    return moved  # not finished: the day is not marked done
                result = archiver.move(month)
                if result.payments:
                    log.info("archived %s: %d payments, %d journal rows -> %s", result.month,
                             result.payments, result.journal_rows, result.path)
                    moved.append(result)
            _set_last_day(db, today.isoformat())
        finally:
            db.conn.close()
        self.passes += 1
        self.ran.set()
        return moved


def _last_day(db: Any) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (LAST_DAY_KEY,)).fetchone()
    return None if row is None else row[0]


def _set_last_day(db: Any, day: str) -> None:
    db.execute("INSERT INTO meta (key, value) VALUES (?, ?)"
               " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (LAST_DAY_KEY, day))
