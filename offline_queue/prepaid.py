"""The journal of prepaid card writes (docs/prepaid.md, "Every step is journaled"): one row per
prepaid payment with its last step and the utility's token, and an append-only log of every
step. The row is made in the payment's own transaction (``open_write`` inside
``Journal.commit_payment``), so a payment to a prepaid card can never lose its card write.

Steps, in order: ``paid`` → ``token_received`` → ``slot_written`` → ``read_back`` →
``pointer_flipped`` → ``done``; beside them, notes that do not move the state:
``card_removed``, ``card_back``, ``slip_printed``, ``card_ahead`` (the card holds a later
purchase: staff decide), ``token_refused``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from sqlite_utils import Database

from offline_queue.schema import immediate

STATES = ("paid", "token_received", "slot_written", "read_back", "pointer_flipped", "done")
NOTES = ("card_removed", "card_back", "slip_printed", "card_ahead", "token_refused", "resumed")
#: a state a write stays in until staff act: the card is not written, the payment is kept
STUCK = ("card_ahead", "token_refused")


@dataclass(frozen=True)
class PrepaidWrite:
    txn_id: str
    account_no: str
    card_uid: str
    amount_minor: int
    state: str
    token: dict[str, Any] | None


def _now(clock: Callable[[], datetime] | None) -> str:
    return (clock or (lambda: datetime.now().astimezone()))().isoformat(timespec="milliseconds")


def open_write(db: Database, txn_id: str, account_no: str, card_uid: str, amount_minor: int,
               at: str) -> None:
    """Inside the payment's transaction: the card write this payment owes (idempotent)."""
    cur = db.execute(
        "INSERT OR IGNORE INTO prepaid_writes (txn_id, account_no, card_uid, amount_minor, state,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, 'paid', ?, ?)",
        (txn_id, account_no, card_uid.upper(), amount_minor, at, at))
    if cur.rowcount == 1:
        db.execute("INSERT INTO prepaid_steps (txn_id, step, at) VALUES (?, 'paid', ?)",
                   (txn_id, at))


class PrepaidBook:
    """On the deciding thread's connection (docs/architecture.md, "One connection per thread")."""

    def __init__(self, db: Database, clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self.clock = clock

    def _row(self, row: tuple | None) -> PrepaidWrite | None:
        if row is None:
            return None
        return PrepaidWrite(row[0], row[1], row[2], row[3], row[4],
                            json.loads(row[5]) if row[5] else None)

    def get(self, txn_id: str) -> PrepaidWrite | None:
        return self._row(self.db.execute(
            "SELECT txn_id, account_no, card_uid, amount_minor, state, token FROM prepaid_writes"
            " WHERE txn_id = ?", (txn_id,)).fetchone())

    def pending(self) -> list[PrepaidWrite]:
        """Every write not done, oldest first (stuck ones too: staff see them)."""
        rows = self.db.execute(
            "SELECT txn_id, account_no, card_uid, amount_minor, state, token FROM prepaid_writes"
            " WHERE state != 'done' ORDER BY created_at, txn_id").fetchall()
        return [w for w in map(self._row, rows) if w is not None]

    def steps(self, txn_id: str) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT step FROM prepaid_steps WHERE txn_id = ? ORDER BY id", (txn_id,))]

    def token_received(self, txn_id: str, token: dict[str, Any]) -> None:
        with immediate(self.db):
            self.db.execute("UPDATE prepaid_writes SET token = ? WHERE txn_id = ? AND token IS NULL",
                            (json.dumps(token, sort_keys=True), txn_id))
            self._advance(txn_id, "token_received", "")

    def advance(self, txn_id: str, state: str, detail: str = "") -> None:
        if state not in STATES and state not in STUCK:
            raise ValueError(f"unknown prepaid state {state!r}")
        with immediate(self.db):
            self._advance(txn_id, state, detail)

    def _advance(self, txn_id: str, state: str, detail: str) -> None:
        at = _now(self.clock)
        self.db.execute("UPDATE prepaid_writes SET state = ?, updated_at = ? WHERE txn_id = ?",
                        (state, at, txn_id))
        self.db.execute("INSERT INTO prepaid_steps (txn_id, step, detail, at) VALUES (?, ?, ?, ?)",
                        (txn_id, state, detail, at))

    def note(self, txn_id: str, step: str, detail: str = "") -> None:
        if step not in NOTES:
            raise ValueError(f"unknown prepaid note {step!r}")
        self.db.execute("INSERT INTO prepaid_steps (txn_id, step, detail, at) VALUES (?, ?, ?, ?)",
                        (txn_id, step, detail, _now(self.clock)))
