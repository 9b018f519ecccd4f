"""Outbox rows and their states: PENDING → IN_FLIGHT → DELIVERED, or DEAD (a permanent refusal,
visible to staff and re-queueable). Nothing is deleted before delivery."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from offline_queue.elapsed import ElapsedClock

PENDING, IN_FLIGHT, DELIVERED, DEAD = "PENDING", "IN_FLIGHT", "DELIVERED", "DEAD"


@dataclass(frozen=True)
class OutboxRow:
    id: int
    kind: str
    idem_key: str
    account_no: str | None
    body: bytes  # exactly what the gateway encoded, sent unchanged on every retry
    amount_minor: int
    attempts: int


@dataclass(frozen=True)
class QueueStats:
    pending: int
    in_flight: int
    delivered: int
    dead: int
    pending_total_minor: int
    oldest_pending_age_s: int
    #: of the open rows, the payments (what the offline caps bound; schema v12) and the age of
    #: the oldest of them
    open_payments: int = 0
    oldest_payment_age_s: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Outbox:
    def __init__(self, db: Database, elapsed: ElapsedClock | None = None) -> None:
        self.db = db
        # Ages and retry times are on the forward-only clock (offline_queue/elapsed.py).
        self.elapsed = elapsed or ElapsedClock(db)

    def release_in_flight(self) -> int:
        """At start-up: a row left IN_FLIGHT by a crash may or may not have arrived; sending the
        same bytes again is safe because the server replays by Idempotency-Key."""
        return self.db.execute(
            "UPDATE outbox SET state = 'PENDING' WHERE state = 'IN_FLIGHT'"
        ).rowcount

    def due(self, now: float, limit: int = 50, ignore_backoff: bool = False,
            latest: float | None = None) -> list[OutboxRow]:
        """Rows to send now, oldest first, FIFO per account: a row waits while an older
        undelivered row of the same account is still pending. A row set to wait until after
        ``latest`` (more than any backoff could ask: a value from another clock, such as the
        wall-clock times written before schema v3) is due now rather than stuck."""
        latest = float("inf") if latest is None else latest
        # Each account's head comes from outbox_head (schema v5), read in id order; rows
        # without an account wait for nobody (the outbox_unowned_due index). Both walks stop
        # after ``limit`` rows plus those still backing off: the backlog behind each head and
        # the delivered history are never read.
        rows = self.db.execute(
            "SELECT * FROM ("
            " SELECT * FROM (SELECT o.id, o.kind, o.idem_key, o.account_no, o.body, o.amount_minor,"
            "  o.attempts FROM outbox_head h JOIN outbox o ON o.id = h.id WHERE o.state = 'PENDING'"
            "  AND (?1 OR o.next_attempt_at <= ?2 OR o.next_attempt_at > ?3) ORDER BY h.id LIMIT ?4)"
            " UNION ALL"
            " SELECT * FROM (SELECT id, kind, idem_key, account_no, body, amount_minor, attempts"
            "  FROM outbox INDEXED BY outbox_unowned_due WHERE account_no IS NULL"
            "  AND state = 'PENDING' AND (?1 OR next_attempt_at <= ?2 OR next_attempt_at > ?3)"
            "  ORDER BY id LIMIT ?4)"
            ") ORDER BY id LIMIT ?4",
            (int(ignore_backoff), now, latest, limit),
        ).fetchall()
        return [OutboxRow(r[0], r[1], r[2], r[3], bytes(r[4]), r[5], r[6]) for r in rows]

    def claim(self, row_id: int) -> bool:
        return self.db.execute(
            "UPDATE outbox SET state = 'IN_FLIGHT', attempts = attempts + 1"
            " WHERE id = ? AND state = 'PENDING'", (row_id,)
        ).rowcount == 1

    def delivered(self, row_id: int, status: int, response: str, now: float) -> None:
        self.db.execute(
            "UPDATE outbox SET state = 'DELIVERED', status_code = ?, response = ?, delivered_at = ?,"
            " last_error = NULL WHERE id = ?", (status, response, now, row_id)
        )

    def retry_later(self, row_id: int, error: str, next_attempt_at: float, status: int | None = None) -> None:
        self.db.execute(
            "UPDATE outbox SET state = 'PENDING', last_error = ?, next_attempt_at = ?, status_code = ?"
            " WHERE id = ?", (error[:500], next_attempt_at, status, row_id)
        )

    def dead(self, row_id: int, error: str, status: int | None, response: str) -> None:
        self.db.execute(
            "UPDATE outbox SET state = 'DEAD', last_error = ?, status_code = ?, response = ?"
            " WHERE id = ?", (error[:500], status, response[:2000], row_id)
        )

    def requeue_dead(self, idem_key: str | None = None) -> int:
        """Staff decided: send a dead row again (same bytes, same key). A payment people
        resolved (re-addressed or to be refunded) is never sent again: its money is counted
        through the new transaction or goes back to the resident."""
        unresolved = " AND idem_key NOT IN (SELECT txn_id FROM payment_resolutions)"
        if idem_key:
            return self.db.execute(
                "UPDATE outbox SET state = 'PENDING', next_attempt_at = 0 WHERE state = 'DEAD'"
                " AND idem_key = ?" + unresolved, (idem_key,)
            ).rowcount
        return self.db.execute(
            "UPDATE outbox SET state = 'PENDING', next_attempt_at = 0 WHERE state = 'DEAD'"
            + unresolved
        ).rowcount

    def stats(self, *, now_ms: int | None = None) -> QueueStats:
        """Counts, the pending total and the oldest pending row's age in elapsed powered-on
        seconds (``now_ms`` on the elapsed clock; default: now). A wall clock moved by days
        changes nothing here."""
        now_ms = self.elapsed.sync() if now_ms is None else now_ms
        # Counts and money per state are kept by triggers in the same transaction as each
        # change (schema v5): one read each, whatever the history.
        figures = {state: (n, total) for state, n, total in self.db.execute(
            "SELECT state, n, total_minor FROM outbox_counts").fetchall()}
        counts = {state: n for state, (n, _total) in figures.items()}
        total = figures.get(PENDING, (0, 0))[1] + figures.get(IN_FLIGHT, (0, 0))[1]
        n = counts.get(PENDING, 0) + counts.get(IN_FLIGHT, 0)
        age = self._oldest_age("outbox_open_age", "", now_ms) if n else 0
        payments = sum(row[0] for row in self.db.execute("SELECT n FROM payment_counts"))
        payment_age = (self._oldest_age("outbox_open_payment_age", " AND kind = 'payment'",
                                        now_ms) if payments else 0)
        return QueueStats(
            pending=counts.get(PENDING, 0),
            in_flight=counts.get(IN_FLIGHT, 0),
            delivered=counts.get(DELIVERED, 0),
            dead=counts.get(DEAD, 0),
            pending_total_minor=int(total),
            oldest_pending_age_s=age,
            open_payments=payments,
            oldest_payment_age_s=payment_age,
        )

    def _oldest_age(self, index: str, kind: str, now_ms: int) -> int:
        """Seconds since the oldest open row (of ``kind``) was queued, one step of ``index``.
        A row queued before schema v3 has no elapsed stamp: it counts as queued at elapsed 0,
        the start of the forward-only clock (that migration). It is then at least as old as any
        row stamped since and its age grows from there, so the age cap still binds; its
        wall-clock created_at is exactly what cannot be trusted. The index sorts NULL first."""
        first = self.db.execute(
            f"SELECT enqueued_elapsed_ms FROM outbox INDEXED BY {index}"
            f" WHERE state IN ('PENDING', 'IN_FLIGHT'){kind} ORDER BY enqueued_elapsed_ms LIMIT 1"
        ).fetchone()
        oldest = 0 if first is None or first[0] is None else int(first[0])
        return max(0, (now_ms - oldest) // 1000)

    def dead_rows(self) -> list[dict[str, Any]]:
        return list(self.db.query(
            "SELECT id, kind, idem_key, account_no, amount_minor, status_code, last_error"
            " FROM outbox WHERE state = 'DEAD' ORDER BY id"
        ))
