"""A forward-only clock for everything that decides by time passing: offline age, retry backoff,
the sync circuit. Its value is the terminal's elapsed powered-on time in milliseconds, kept in the
database (``meta`` key ``elapsed_ms``) and continued from there with the monotonic clock.

Why not the wall clock: village terminals often boot without an RTC battery or NTP, so the wall
clock may move by days either way. Set back five days it would hide the age of the oldest queued
payment (the offline cap never trips); set forward it would refuse cash at once; a day back
would hold every retry for a day. This clock never moves backwards and ignores the wall clock.

Powered-off time does not count (nor the few seconds since the last save before a power cut).
That is the safe side: a terminal that is off takes no cash, so what the age cap bounds — cash
taken without the billing system hearing of it — grows only while it is on; the count and total
caps bound the money regardless of time; and a retry or a circuit pause is never held longer
than its own delay of powered-on time. Offline age reads a little young after an outage, never
old, and a clock change cannot make it either.

Several processes share one database (the terminal, ``kiosk sync --once``, ``kiosk queue
status``): each continues from the value stored when it started, stores with
``max(stored, ours)`` so none moves it back, and adopts a later stored value when it reads one.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from sqlite_utils import Database

KEY = "elapsed_ms"
#: how often a running clock saves itself without an outbox write (one small UPDATE)
PERSIST_EVERY_S = 30.0

_STORE = (
    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET"
    # meta.value is TEXT: compare as integers, or '9' would beat '10'.
    " value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))"
)


class ElapsedClock:
    def __init__(self, db: Database, monotonic: Callable[[], float] = time.monotonic,
                 persist_every_s: float = PERSIST_EVERY_S) -> None:
        self.db = db
        self._monotonic = monotonic
        self._persist_every_s = persist_every_s
        self._lock = threading.Lock()
        self._base_ms = self.stored_ms()
        self._anchor = monotonic()
        self._saved_at = self._anchor

    def stored_ms(self) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (KEY,)).fetchone()
        return int(row[0]) if row else 0

    def _read(self) -> int:
        with self._lock:
            return self._base_ms + int((self._monotonic() - self._anchor) * 1000)

    def _adopt(self, stored: int) -> int:
        """Another process got further: move up to it (forward only)."""
        with self._lock:
            now = self._base_ms + int((self._monotonic() - self._anchor) * 1000)
            if stored > now:
                self._base_ms += stored - now
                now = stored
            return now

    def now_ms(self) -> int:
        """Elapsed powered-on milliseconds; saved now and then (cheap: one UPDATE per period)."""
        now = self._read()
        if self._monotonic() - self._saved_at >= self._persist_every_s:
            return self.persist()
        return now

    def now_s(self) -> float:
        """The same clock in seconds: the scale of ``next_attempt_at`` and the sync circuit."""
        return self.now_ms() / 1000.0

    def persist(self) -> int:
        """Save the current value (never lowering the stored one) and return the value now, at
        least what any process stored. Inside a caller's transaction it commits with it."""
        self.db.execute(_STORE, (KEY, self._read()))
        self._saved_at = self._monotonic()
        return self._adopt(self.stored_ms())

    def sync(self) -> int:
        """The value now, at least what any process stored (a read, no write)."""
        return self._adopt(self.stored_ms())
