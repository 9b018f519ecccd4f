"""WAL checkpoints on a thread of their own, not in a resident's commit.

In WAL mode a commit only appends to the log; copying the log back into the database file (a
checkpoint) is done, by default, by whichever connection's commit takes the log past 1,000
pages (SQLite documentation, "Write-Ahead Logging", "Automatic Checkpoint"). That commit then
also writes those pages into the database file and syncs it. In a file of many years the pages
a checkpoint writes lie far apart, so it costs more the bigger the file: a payment that lands
on it waited for housekeeping (``benchmarks/bench_scale.py``: the runner's commit p99 was 1.6x
the empty database's at a million payments, every 50th commit paying for a checkpoint).

So the deciding thread's connection leaves checkpoints to a ``Checkpointer``: a thread with a
connection of its own that runs a PASSIVE checkpoint every ``every_s`` while no session is in
progress (``is_idle``), so its writes and syncs do not even share the card with a resident's.
PASSIVE never waits on a reader or a writer, and a checkpoint never takes the write lock, so a
commit never waits on it; one begun at idle copies only what was committed before it began. The connection keeps a backstop: were the checkpointer stopped, it still checkpoints once
the log passes ``BACKSTOP_PAGES``, so the log stays bounded. Durability is unchanged: a
commit is durable once it is in the synced log, checkpointed or not.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)

#: pages (of 4 KiB) the log may reach before a connection that left checkpoints to the
#: checkpointer does one itself: about 40 MB, some hundreds of payments
BACKSTOP_PAGES = 10_000


def leave_checkpoints(db: Any, backstop_pages: int = BACKSTOP_PAGES) -> None:
    """This connection's commits no longer checkpoint, up to the backstop."""
    db.execute(f"PRAGMA wal_autocheckpoint = {int(backstop_pages)}")


class Checkpointer:
    """``connect``: opens the checkpointer's own connection (offline_queue.schema.connect);
    ``is_idle``: no session in progress (asked before each look)."""

    def __init__(self, db_path: str | Path, connect: Callable[[str], Any],
                 every_s: float = 0.5, is_idle: Callable[[], bool] = lambda: True) -> None:
        self.db_path = str(db_path)
        self.connect = connect
        self.every_s = every_s
        self.is_idle = is_idle
        self.stop_event = threading.Event()
        self.passes = 0  # checkpoints run, for tests and diagnostics
        self.failures = 0
        self.last: tuple[int, int, int] | None = None  # (busy, log frames, checkpointed)
        self._thread: threading.Thread | None = None

    def start(self) -> "Checkpointer":
        self._thread = threading.Thread(target=self._run, name="checkpoint", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        db = None
        try:
            while not self.stop_event.wait(self.every_s):
                if not self.is_idle():
                    continue
                try:
                    if db is None:
                        db = self.connect(self.db_path)
                    self.checkpoint(db)
                except sqlite3.Error as exc:  # a locked or missing file: the next look tries
                    self.failures += 1
                    if self.failures == 1 or self.failures % 1000 == 0:
                        log.warning("WAL checkpoint failed (%d so far): %s", self.failures, exc)
                    _close(db)
                    db = None
        finally:
            _close(db)

    def checkpoint(self, db: Any) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, frames in the log, frames checkpointed)."""
        busy, frames, done = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.last = (busy, frames, done)
        self.passes += 1
        return self.last


def _close(db: Any) -> None:
    if db is not None:
        getattr(db, "conn", db).close()  # a sqlite_utils Database or a bare connection
