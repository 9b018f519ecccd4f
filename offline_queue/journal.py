"""The append-only journal of sessions and cash, and the payment commit: a payment's journal
rows, its payment row and its outbox row commit in one transaction (docs/architecture.md)."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Mapping

from sqlite_utils import Database

from offline_queue.archive import archived_payment
from offline_queue.code_orders import CodeOrder, mark_recorded
from offline_queue.crash import crash_point
from offline_queue.elapsed import ElapsedClock
from offline_queue.gateway import PAYMENT, Encoder
from offline_queue.http_gateway import encode as contract_encode
from offline_queue.prepaid import open_write
from offline_queue.schema import immediate

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

#: a wall clock this far behind the last journal entry is flagged (smaller steps are the ordinary
#: corrections of a clock being set; receipts and days are not moved by them)
BACKWARDS_TOLERANCE = timedelta(seconds=2)


def local_now() -> datetime:
    return datetime.now().astimezone()


#: a note or coin tally: (denomination in minor units, count), sorted by denomination. The one
#: shape from the session's commit (kiosk/flow/commands.py CommitPayment) to the gateway's
#: encoder, which alone turns it into the body's JSON object.
Tally = tuple[tuple[int, int], ...]


def tally(counts: Mapping[int, int] | Iterable[tuple[int, int]]) -> Tally:
    """``counts`` as a ``Tally`` (a mapping or pairs; zero counts are kept: they are sent)."""
    items = counts.items() if isinstance(counts, Mapping) else counts
    return tuple(sorted((int(v), int(n)) for v, n in items))


def tally_total(t: Tally) -> int:
    return sum(v * n for v, n in t)


@dataclass(frozen=True)
class PaymentRecord:
    """One committed payment, as the journal keeps it: what the gateway encodes and what the
    receipt prints (kiosk/flow/receipt.py takes this record; nothing copies its fields)."""

    kiosk_id: str
    txn_id: str
    session_id: str
    account_no: str
    amount_minor: int
    receipt_no: str
    created_at: str
    offline: bool
    notes: Tally
    coins: Tally
    body: bytes = b""  # the outbox bytes the gateway encoded for it
    #: the dead payment this one re-addresses to a corrected account (docs/billing-api.yaml)
    readdressed_from: str | None = None
    #: cash, or code: paid with the phone's payment code, ``gateway_ref`` the gateway's charge
    tender: str = "cash"
    gateway_ref: str | None = None


def _stored(t: Tally) -> str:
    """The payments table's copy of a tally (reports read it): {"denomination": count}."""
    return json.dumps({str(v): n for v, n in t})


def _loaded(text: str) -> Tally:
    return tally({int(k): n for k, n in json.loads(text).items()})


def record_of(kiosk_id: str, r: Mapping[str, Any],
              encode: Encoder = contract_encode) -> PaymentRecord:
    """The payment a payments row (joined to its outbox body) holds. A live row is joined to
    its code order; an archived one carries no such join, so the body it was sent as says
    whether it was paid by code. A body a monthly archive stored once (offline_queue/archive.py:
    empty, with the digest of the bytes sent) is rebuilt here, and kept only if it hashes the
    same: otherwise the record has no body rather than a wrong one."""
    body = bytes(r.get("body") or b"")
    if "gateway_ref" in r:
        ref = r["gateway_ref"]
    else:
        try:
            sent = json.loads(body) if body else {}
        except ValueError:
            sent = {}
        ref = sent.get("gateway_ref") if isinstance(sent, dict) else None
    record = PaymentRecord(kiosk_id, r["txn_id"], r["session_id"], r["account_no"],
                           r["amount_minor"], r["receipt_no"], r["created_at"], bool(r["offline"]),
                           _loaded(r["notes"]), _loaded(r["coins"]), body,
                           tender="code" if ref else "cash", gateway_ref=ref)
    digest = r.get("body_sha256")
    if not body and digest:
        rebuilt = encode(PAYMENT, record)
        if hashlib.sha256(rebuilt).digest() == bytes(digest):
            record = replace(record, body=rebuilt)
    return record


def payment_body_of(kiosk_id: str, encode: Encoder = contract_encode
                    ) -> Callable[[Mapping[str, Any]], bytes]:
    """The body this terminal would send for a payments row (no outbox join): how a monthly
    archive finds a delivered payment whose body repeats only the row's facts."""
    return lambda row: encode(PAYMENT, record_of(kiosk_id, {**row, "body": b"",
                                                           "body_sha256": None,
                                                           "gateway_ref": None}, encode))


@dataclass(frozen=True)
class OpenSession:
    """A session the journal saw start but not end: what start-up reconciliation resolves."""

    session_id: str
    account_no: str
    credits: tuple[tuple[int, str, int], ...]  # (seq, tender, value)
    escrows: tuple[tuple[int, int, str], ...]  # (seq, value, decision) without an outcome
    paid: bool


class Journal:
    def __init__(self, db: Database, kiosk_id: str, clock: Clock = local_now,
                 elapsed: ElapsedClock | None = None,
                 on_commit: Callable[[], None] | None = None,
                 encode: Encoder = contract_encode) -> None:
        """``encode``: the billing gateway's (offline_queue/gateway.py); the outbox keeps its
        bytes."""
        self.db = db
        self.kiosk_id = kiosk_id
        self.encode = encode
        self.clock = clock
        # Called after a credit, flag or payment has committed: advances the high-water record
        # kept outside the database (offline_queue.highwater).
        self.on_commit = on_commit or (lambda: None)
        # Outbox rows carry the forward-only enqueue time that offline age is measured on.
        self.elapsed = elapsed or ElapsedClock(db)

    # ---- appending
    def _append(self, session_id: str, kind: str, seq: int | None = None, tender: str | None = None,
                value_minor: int | None = None, **data: Any) -> None:
        now = self.clock()
        self._check_clock(session_id, now)
        self.db.execute(
            "INSERT INTO journal (session_id, seq, kind, tender, value_minor, data, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (session_id, seq, kind, tender, value_minor, json.dumps(data, sort_keys=True),
             now.isoformat(timespec="milliseconds")),
        )

    def _check_clock(self, session_id: str, now: datetime) -> None:
        """Payments and receipts keep wall-clock times, so a wall clock set back is the
        operator's business (receipt days, reports): flagged once per jump. Only the first entry
        after the jump is behind the last one; the entries after it follow the new time."""
        row = self.db.execute("SELECT at FROM journal ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return
        try:
            behind = datetime.fromisoformat(row[0]) - now
        except (TypeError, ValueError):  # an unparsable or naive stamp: nothing to compare
            return
        if behind > BACKWARDS_TOLERANCE:
            self.flag(session_id, "clock_backwards",
                      f"wall clock {now.isoformat(timespec='seconds')} is {int(behind.total_seconds())} s"
                      f" behind the last journal entry ({row[0]})")

    def session_start(self, session_id: str, account_no: str, target_minor: int) -> None:
        self._append(session_id, "session_start", account_no=account_no, target_minor=target_minor)

    def escrow(self, session_id: str, seq: int, value_minor: int, decision: str, reason: str = "") -> None:
        self._append(session_id, "escrow", seq, "note", value_minor, decision=decision, reason=reason)
        crash_point("after_escrow_journaled")

    def credit(self, session_id: str, seq: int, tender: str, value_minor: int,
               device_counter: int | None = None) -> bool:
        """Record a safe event. False when this (session, seq) was already credited.
        ``device_counter`` (a coin acceptor's event counter) commits with the credit, so a
        restart resumes exactly after the last coin credited: none lost, none twice."""
        exists = self.db.execute(
            "SELECT 1 FROM journal WHERE kind='credit' AND session_id=? AND seq=?", (session_id, seq)
        ).fetchone()
        if exists:
            log.warning("credit %s/%s already journaled; not credited twice", session_id, seq)
            return False
        with immediate(self.db):
            self._append(session_id, "credit", seq, tender, value_minor)
            self._set_device_counter(device_counter)
        self.on_commit()
        crash_point("after_credit_committed")
        return True

    def returned(self, session_id: str, seq: int, value_minor: int, reason: str) -> None:
        self._append(session_id, "returned", seq, "note", value_minor, reason=reason)

    def session_end(self, session_id: str, outcome: str) -> None:
        self._append(session_id, "session_end", outcome=outcome)

    def flag(self, session_id: str, kind: str, detail: str, value_minor: int | None = None,
             device_counter: int | None = None) -> None:
        """Something the operator must look at (an unresolved note, lost coin events)."""
        with immediate(self.db):
            self.db.execute(
                "INSERT INTO flags (session_id, kind, detail, value_minor, at) VALUES (?, ?, ?, ?, ?)",
                (session_id, kind, detail, value_minor, self.clock().isoformat(timespec="seconds")),
            )
            self._set_device_counter(device_counter)
        self.on_commit()
        log.warning("flagged for the operator: %s %s %s", session_id, kind, detail)

    def coin_event_counter(self) -> int | None:
        """The coin acceptor's event counter at the last coin recorded (None: never)."""
        row = self.db.execute(
            "SELECT value FROM counters WHERE name = 'coin_event_counter'").fetchone()
        return row[0] if row else None

    def _set_device_counter(self, value: int | None) -> None:
        if value is not None:
            self.db.execute(
                "INSERT INTO counters (name, value) VALUES ('coin_event_counter', ?)"
                " ON CONFLICT(name) DO UPDATE SET value = excluded.value", (value,))

    # ---- the payment
    def commit_payment(self, session_id: str, account_no: str,
                       notes: Mapping[int, int] | Tally, coins: Mapping[int, int] | Tally,
                       amount_minor: int, offline: bool, recovered: bool = False,
                       prepaid_card: str = "",
                       readdressed_from: str | None = None,
                       code_order: CodeOrder | None = None) -> PaymentRecord:
        """Journal row + payment row + outbox row, one transaction. Idempotent per session.
        ``notes``/``coins`` are tallies; a mapping of denomination to count is taken as one.
        ``prepaid_card``: the card this purchase is written to, owed in the same transaction.
        ``code_order``: a paid order of the code tender (no cash): it is marked recorded in the
        same transaction, so it becomes this payment exactly once."""
        existing = self.payment_for_session(session_id)
        if existing is not None:
            return existing
        notes, coins = tally(notes), tally(coins)
        total = tally_total(notes) + tally_total(coins)
        if code_order is not None:
            total = code_order.amount_minor if not total else -1  # a code payment has no cash
        if total != amount_minor or amount_minor <= 0:
            raise ValueError(f"payment {session_id}: tally {total} != amount {amount_minor}")
        now = self.clock()
        created_at = now.isoformat(timespec="seconds")
        txn_id = session_id
        with immediate(self.db):
            number = self._next_counter(f"receipt:{now:%Y%m%d}")
            receipt_no = f"{self.kiosk_id}-{now:%Y%m%d}-{number:05d}"
            record = PaymentRecord(self.kiosk_id, txn_id, session_id, account_no, amount_minor,
                                   receipt_no, created_at, offline, notes, coins,
                                   readdressed_from=readdressed_from,
                                   tender="code" if code_order else "cash",
                                   gateway_ref=code_order.gateway_ref if code_order else None)
            body = self.encode(PAYMENT, record)
            self.db.execute(
                "INSERT INTO payments (txn_id, session_id, account_no, amount_minor, notes, coins,"
                " created_at, local_date, offline, receipt_no, recovered)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (txn_id, session_id, account_no, amount_minor, _stored(notes), _stored(coins),
                 created_at, now.date().isoformat(), int(offline), receipt_no, int(recovered)),
            )
            self.db.execute(
                "INSERT INTO outbox (kind, idem_key, account_no, body, amount_minor,"
                " created_at, enqueued_elapsed_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (PAYMENT, txn_id, account_no, body, amount_minor, now.timestamp(),
                 self.elapsed.persist()),
            )
            if prepaid_card:
                open_write(self.db, txn_id, account_no, prepaid_card, amount_minor, created_at)
            if code_order is not None:
                mark_recorded(self.db, code_order.order_id, txn_id, created_at)
            root = session_id.split(".")[0]
            self._append(root, "payment", None, record.tender, amount_minor, txn_id=txn_id,
                         receipt_no=receipt_no)
            if root == session_id:
                self._append(session_id, "session_end", outcome="paid")
        self.on_commit()
        crash_point("after_payment_committed")
        return replace(record, body=body)

    def enqueue(self, kind: str, idem_key: str, payload: Any) -> bool:
        """Queue a non-payment delivery (rating, collection) as the gateway encodes ``payload``.
        False if the key is already queued."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO outbox (kind, idem_key, body, created_at, enqueued_elapsed_ms)"
            " VALUES (?, ?, ?, ?, ?)",
            (kind, idem_key, self.encode(kind, payload), self.clock().timestamp(),
             self.elapsed.persist()),
        )
        return cur.rowcount == 1

    def mark_printed(self, txn_id: str) -> None:
        # payments is not the journal: its printed_at may be set once after the commit.
        self.db.execute(
            "UPDATE payments SET printed_at = ? WHERE txn_id = ? AND printed_at IS NULL",
            (self.clock().isoformat(timespec="seconds"), txn_id),
        )

    def _next_counter(self, name: str) -> int:
        self.db.execute(
            "INSERT INTO counters (name, value) VALUES (?, 1)"
            " ON CONFLICT(name) DO UPDATE SET value = value + 1",
            (name,),
        )
        return self.db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0]

    # ---- reading
    def payment_for_session(self, session_id: str) -> PaymentRecord | None:
        row = self.db.execute(
            "SELECT p.*, o.body, c.gateway_ref FROM payments p"
            " JOIN outbox o ON o.idem_key = p.txn_id LEFT JOIN code_orders c ON c.txn_id = p.txn_id"
            " WHERE p.session_id = ?", (session_id,)
        ).fetchone()
        return self._record(row) if row else None

    def payment(self, txn_id: str) -> PaymentRecord | None:
        row = self.db.execute(
            "SELECT p.*, o.body, c.gateway_ref FROM payments p"
            " JOIN outbox o ON o.idem_key = p.txn_id LEFT JOIN code_orders c ON c.txn_id = p.txn_id"
            " WHERE p.txn_id = ?", (txn_id,)
        ).fetchone()
        if row is None:  # a reprint of a payment moved to its monthly archive
            moved = archived_payment(self.db, txn_id=txn_id)
            return None if moved is None else self._from_row(moved)
        return self._record(row)

    def _record(self, row: tuple) -> PaymentRecord:
        cols = [d[0] for d in self.db.execute(
            "SELECT p.*, o.body, NULL AS gateway_ref FROM payments p"
            " JOIN outbox o ON o.idem_key = p.txn_id LIMIT 0"
        ).description]
        return self._from_row(dict(zip(cols, row)))

    def _from_row(self, r: Mapping[str, Any]) -> PaymentRecord:
        return record_of(self.kiosk_id, r, self.encode)

    def payments(self, local_date: str | None = None) -> list[dict[str, Any]]:
        if local_date:
            return list(self.db.query("SELECT * FROM payments WHERE local_date = ? ORDER BY created_at, txn_id", [local_date]))
        return list(self.db.query("SELECT * FROM payments ORDER BY created_at, txn_id"))

    def last_payment_at(self, account_no: str) -> str | None:
        row = self.db.execute(
            "SELECT max(created_at) FROM payments WHERE account_no = ?", (account_no,)
        ).fetchone()
        return row[0] if row else None

    def unreflected_minor(self, account_no: str, as_of_epoch: float | None) -> int:
        """What this terminal took for ``account_no`` that an account answer dated
        ``as_of_epoch`` cannot include: payments not yet delivered, and (for an answer from the
        cache) those delivered after it was fetched. None: count undelivered ones only."""
        row = self.db.execute(
            "SELECT coalesce(sum(p.amount_minor), 0) FROM payments p"
            " JOIN outbox o ON o.idem_key = p.txn_id WHERE p.account_no = ?"
            " AND (o.state != 'DELIVERED' OR (? IS NOT NULL AND o.delivered_at > ?))",
            (account_no, as_of_epoch, as_of_epoch),
        ).fetchone()
        return int(row[0])

    def open_sessions(self) -> list[OpenSession]:
        rows = list(self.db.query(
            # journal_open (schema v5) is kept by triggers on every start and end
            "SELECT * FROM journal WHERE session_id IN (SELECT session_id FROM journal_open)"
            " ORDER BY id"
        ))
        by_session: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_session.setdefault(row["session_id"], []).append(row)
        out = []
        for sid, items in by_session.items():
            start = json.loads(next(r["data"] for r in items if r["kind"] == "session_start"))
            credits = tuple((r["seq"], r["tender"], r["value_minor"]) for r in items if r["kind"] == "credit")
            resolved = {r["seq"] for r in items if r["kind"] in ("credit", "returned")}
            escrows = tuple(
                (r["seq"], r["value_minor"], json.loads(r["data"])["decision"])
                for r in items if r["kind"] == "escrow" and r["seq"] not in resolved
            )
            paid = any(r["kind"] == "payment" for r in items)
            out.append(OpenSession(sid, start["account_no"], credits, escrows, paid))
        return out

    def open_flags(self) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM flags WHERE resolved_at IS NULL ORDER BY id"))
