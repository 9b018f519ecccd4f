"""The reference gateway's own SQLite store: enrolled kiosks and orders. One connection behind a
lock (the HTTP server is threaded); every change is one ``BEGIN IMMEDIATE`` transaction, WAL with
``synchronous=FULL`` so an answer given was committed first."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator
from contextlib import contextmanager

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE kiosks (
    kiosk_id TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    enrolled_at TEXT NOT NULL
);
CREATE TABLE orders (
    order_id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    kiosk_id TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (typeof(amount_minor) = 'integer' AND amount_minor > 0),
    currency TEXT NOT NULL,
    code_digest TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('user_paying', 'paid', 'failed', 'reversed')),
    reason TEXT NOT NULL DEFAULT '',
    transaction_id TEXT UNIQUE,
    polls_left INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    paid_at TEXT,
    paid_date TEXT,
    closed_at TEXT
);
CREATE INDEX orders_settled ON orders(merchant_id, paid_date) WHERE status = 'paid';
"""

#: what a merchant's day settles: paid orders not reversed, by the gateway's local day
SETTLEMENT_SQL = ("SELECT count(*), coalesce(sum(amount_minor), 0) FROM orders"
                  " WHERE merchant_id = ? AND paid_date = ? AND status = 'paid'")


def code_digest(code: str) -> str:
    """The payment code is a bearer credential: only its digest is kept (to tell a replay of
    the same charge from another charge under the same order id)."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Order:
    order_id: str
    merchant_id: str
    kiosk_id: str
    amount_minor: int
    currency: str
    code_digest: str
    status: str
    reason: str
    transaction_id: str | None
    polls_left: int


class Store:
    def __init__(self, path: str | Path, now: Callable[[], datetime] | None = None) -> None:
        self.path = str(path)
        self.now = now or (lambda: datetime.now().astimezone())
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._lock = threading.RLock()
        with self.transaction():
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                for stmt in filter(str.strip, SCHEMA.split(";")):
                    self._conn.execute(stmt)
                self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            elif version != SCHEMA_VERSION:
                raise RuntimeError(f"gateway store {self.path} has schema {version}, "
                                   f"expected {SCHEMA_VERSION}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def stamp(self) -> str:
        return self.now().isoformat(timespec="seconds")

    # ---- kiosks
    def public_key(self, kiosk_id: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT public_key FROM kiosks WHERE kiosk_id = ?",
                                     (kiosk_id,)).fetchone()
        return row[0] if row else None

    def enrol(self, kiosk_id: str, public_key: str) -> bool:
        """True when enrolled now or before with this key; False: enrolled with another."""
        with self.transaction() as db:
            row = db.execute("SELECT public_key FROM kiosks WHERE kiosk_id = ?",
                             (kiosk_id,)).fetchone()
            if row is not None:
                return bool(row[0] == public_key)
            db.execute("INSERT INTO kiosks (kiosk_id, public_key, enrolled_at) VALUES (?, ?, ?)",
                       (kiosk_id, public_key, self.stamp()))
            return True

    # ---- orders
    def order(self, db: sqlite3.Connection, order_id: str) -> Order | None:
        row = db.execute("SELECT order_id, merchant_id, kiosk_id, amount_minor, currency,"
                         " code_digest, status, reason, transaction_id, polls_left FROM orders"
                         " WHERE order_id = ?", (order_id,)).fetchone()
        return Order(*row) if row else None

    def insert(self, db: sqlite3.Connection, req: dict[str, Any], status: str, reason: str = "",
               polls: int = 0) -> Order:
        now = self.now()
        paid = status == "paid"
        db.execute(
            "INSERT INTO orders (order_id, merchant_id, kiosk_id, amount_minor, currency,"
            " code_digest, status, reason, transaction_id, polls_left, created_at, paid_at,"
            " paid_date, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (req["order_id"], req["merchant_id"], req["kiosk_id"], req["amount_minor"],
             req.get("currency", "CNY"), code_digest(req.get("auth_code", "")), status, reason,
             _txn() if paid else None, polls, now.isoformat(timespec="seconds"),
             now.isoformat(timespec="seconds") if paid else None,
             now.date().isoformat() if paid else None,
             None if status in ("paid", "user_paying") else now.isoformat(timespec="seconds")))
        order = self.order(db, req["order_id"])
        assert order is not None
        return order

    def polled(self, db: sqlite3.Connection, order: Order) -> Order:
        """A query of an order the resident is confirming: one poll closer to paid."""
        now = self.now()
        if order.polls_left > 1:
            db.execute("UPDATE orders SET polls_left = polls_left - 1 WHERE order_id = ?",
                       (order.order_id,))
        else:
            db.execute("UPDATE orders SET status = 'paid', polls_left = 0, transaction_id = ?,"
                       " paid_at = ?, paid_date = ? WHERE order_id = ?",
                       (_txn(), now.isoformat(timespec="seconds"), now.date().isoformat(),
                        order.order_id))
        out = self.order(db, order.order_id)
        assert out is not None
        return out

    def reverse(self, db: sqlite3.Connection, order: Order) -> Order:
        """Cancel a charge being confirmed, refund one paid: either way it settles nothing."""
        if order.status in ("paid", "user_paying"):
            db.execute("UPDATE orders SET status = 'reversed', closed_at = ? WHERE order_id = ?",
                       (self.stamp(), order.order_id))
        out = self.order(db, order.order_id)
        assert out is not None
        return out

    def settlement(self, merchant_id: str, day: str) -> tuple[int, int]:
        with self._lock:
            count, total = self._conn.execute(SETTLEMENT_SQL, (merchant_id, day)).fetchone()
        return int(count), int(total)


def _txn() -> str:
    return "GW" + secrets.token_hex(10).upper()
