"""The orders of the code tender (schema v9, ``code_orders``): one per attempt to charge a phone
payment code, written on the deciding thread. An order is committed before its charge is sent
and moves ``charging → paid | user_paying | failed | unknown``, ``unknown → reversing →
reversed``, and ``paid → recorded`` in the payment's own transaction (offline_queue/journal.py),
so nothing charged is left without a decision after a restart (docs/payment-gateway.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlite_utils import Database

from offline_queue.schema import immediate

#: an order in one of these still needs the gateway's word (a restart resolves them)
OPEN = ("charging", "user_paying", "paid", "unknown", "reversing")
#: the resident was not charged (or the charge was undone)
NOT_CHARGED = ("failed", "reversed")


@dataclass(frozen=True)
class CodeOrder:
    order_id: str
    session_id: str
    account_no: str
    amount_minor: int
    state: str
    gateway_ref: str | None
    reason: str
    txn_id: str | None


class CodeOrders:
    def __init__(self, db: Database, clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self.clock = clock or (lambda: datetime.now().astimezone())

    def _now(self) -> str:
        return self.clock().isoformat(timespec="seconds")

    def open_order(self, order_id: str, session_id: str, account_no: str,
                   amount_minor: int) -> None:
        """Durable before the charge goes out; an id already used is refused (never twice)."""
        now = self._now()
        with immediate(self.db):
            self.db.execute(
                "INSERT INTO code_orders (order_id, session_id, account_no, amount_minor, state,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, 'charging', ?, ?)",
                (order_id, session_id, account_no, amount_minor, now, now))

    def set_state(self, order_id: str, state: str, gateway_ref: str | None = None,
                  reason: str = "") -> None:
        """A new state the gateway's answer (or our own step) gave; a recorded order keeps its."""
        with immediate(self.db):
            self.db.execute(
                "UPDATE code_orders SET state = ?, gateway_ref = coalesce(?, gateway_ref),"
                " reason = ?, updated_at = ? WHERE order_id = ? AND state != 'recorded'",
                (state, gateway_ref, reason, self._now(), order_id))

    def get(self, order_id: str) -> CodeOrder | None:
        row = self.db.execute(
            "SELECT order_id, session_id, account_no, amount_minor, state, gateway_ref, reason,"
            " txn_id FROM code_orders WHERE order_id = ?", (order_id,)).fetchone()
        return CodeOrder(*row) if row else None

    def open_orders(self) -> list[CodeOrder]:
        rows = self.db.execute(
            "SELECT order_id, session_id, account_no, amount_minor, state, gateway_ref, reason,"
            " txn_id FROM code_orders WHERE state NOT IN ('failed', 'reversed', 'recorded')"
            " ORDER BY created_at, order_id").fetchall()
        return [CodeOrder(*r) for r in rows]


def mark_recorded(db: Database, order_id: str, txn_id: str, at: str) -> None:
    """Inside the payment's transaction: the paid order is now this payment."""
    cur = db.execute("UPDATE code_orders SET state = 'recorded', txn_id = ?, updated_at = ?"
                     " WHERE order_id = ? AND state = 'paid'", (txn_id, at, order_id))
    if cur.rowcount != 1:
        raise ValueError(f"code order {order_id} is not paid: no payment is recorded for it")
