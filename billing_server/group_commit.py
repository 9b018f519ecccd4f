"""Group commit for the ledger's one connection: a burst of payments shares one fsync, and
each is answered only after the commit that holds it."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from typing import Iterator


class GroupCommit:
    """The ledger connection's lock, with group commit for idempotent writes.

    ``with lock:`` is exclusive use of the connection, as a plain lock, after committing any
    group still open: code inside may BEGIN and COMMIT as it likes and only ever reads committed
    rows. ``with lock.joined():`` adds one write, in a savepoint, to the transaction the group
    shares; leaving it waits until that transaction is committed (one fsync for every write
    that joined while the last commit ran), so no answer leaves before its commit (SQLite
    documentation, "PRAGMA synchronous": WAL with FULL syncs at each commit)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._mutex = threading.Lock()
        self._cv = threading.Condition(threading.Lock())
        self._open = 0  # the batch whose transaction is open (0: none)
        self._next = 1
        self._done = 0  # every batch up to this one is settled
        self._failed: dict[int, BaseException] = {}
        self._leader = False
        self.commits = 0
        self.joined_writes = 0

    def __enter__(self) -> "GroupCommit":
        self._mutex.acquire()
        self._settle()
        return self

    def __exit__(self, *exc: object) -> None:
        self._mutex.release()

    def _settle(self) -> None:
        """Commit the open batch (the mutex held). A failed commit fails every write in it."""
        batch, self._open = self._open, 0
        if not batch:
            return
        try:
            self._conn.execute("COMMIT")
            self.commits += 1
        except BaseException as exc:  # disk full, I/O error: no write in the batch is kept
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            self._failed[batch] = exc
        with self._cv:
            self._done = batch
            self._cv.notify_all()

    @contextlib.contextmanager
    def joined(self) -> Iterator[sqlite3.Connection]:
        with self._mutex:
            if not self._open:
                self._conn.execute("BEGIN IMMEDIATE")
                self._open, self._next = self._next, self._next + 1
            ticket = self._open
            self._conn.execute("SAVEPOINT joined")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK TO joined")
                self._conn.execute("RELEASE joined")
                self._settle()  # nothing of ours to wait for; never leave the lock taken
                raise
            self._conn.execute("RELEASE joined")
            self.joined_writes += 1
        self._wait(ticket)

    def _wait(self, ticket: int) -> None:
        while True:
            with self._cv:
                while self._done < ticket and self._leader:
                    self._cv.wait()
                if self._done >= ticket:
                    failed = self._failed.pop(ticket, None)
                    if failed is not None:
                        raise failed
                    return
                self._leader = True
            try:
                with self._mutex:  # whoever joined meanwhile is in this commit too
                    self._settle()
            finally:
                with self._cv:
                    self._leader = False
                    self._cv.notify_all()
