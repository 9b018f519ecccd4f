"""The reference billing server's SQLite ledger: accounts, cards, payments, idempotency records.

One connection (WAL, synchronous=FULL) behind a lock (``GroupCommit``): a payment is one savepoint
in a ``BEGIN IMMEDIATE`` transaction that a burst of writers shares (one fsync for the group, each
answered only after that commit)
holding its idempotency record, the payment row and the balance update, so a replay
racing the original can never create a second payment.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from billing_server import resident
from billing_server.audit_anchor import Anchor, Verdict, judge
from billing_server.seed import DEMO_PREPAID_CARDS, DemoAccount, DemoNotice
from billing_server.contract import mask_account
from billing_server.group_commit import GroupCommit

log = logging.getLogger(__name__)

SCHEMA_VERSION = 8
# v2: an id is booked once under any kiosk id (docs/billing-api.yaml, Idempotency): the same
# txn_id sent under another kiosk_id is a different body for the same key, a 409.
_V2 = """
CREATE UNIQUE INDEX idempotency_by_key ON idempotency (scope, key);
CREATE UNIQUE INDEX payments_by_txn ON payments (txn_id);
"""
# v3: enrolled kiosks (docs/billing-api.yaml, enrol): one Ed25519 public key per kiosk id.
_V3 = """
CREATE TABLE kiosk_keys (kiosk_id TEXT PRIMARY KEY, public_key TEXT NOT NULL,
    enrolled_at TEXT NOT NULL);
"""
# v4: each kiosk's audit chain head as last seen (billing_server/audit_anchor.py).
_V4 = """
CREATE TABLE kiosk_audit (kiosk_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, head TEXT NOT NULL,
    flagged_reason TEXT, flagged_at TEXT, seen_at TEXT);
"""
# v5: prepaid meters (docs/prepaid.md): which accounts have one, each prepaid card's sequence
# and cumulative units, and the purchase token issued once per payment (billing_server/prepaid.py).
_V5 = """
ALTER TABLE accounts ADD COLUMN prepaid INTEGER NOT NULL DEFAULT 0;
CREATE TABLE prepaid_cards (card_uid TEXT PRIMARY KEY,
    account_no TEXT NOT NULL REFERENCES accounts(account_no),
    sequence INTEGER NOT NULL DEFAULT 0, cumulative INTEGER NOT NULL DEFAULT 0);
CREATE TABLE prepaid_tokens (purchase_no INTEGER PRIMARY KEY, txn_id TEXT NOT NULL UNIQUE,
    kiosk_id TEXT NOT NULL, card_uid TEXT NOT NULL, sequence INTEGER NOT NULL,
    units INTEGER NOT NULL, cumulative INTEGER NOT NULL, issued_at TEXT NOT NULL,
    UNIQUE (card_uid, sequence));
"""
# v6: a payment that re-addresses a dead one (docs/billing-api.yaml, readdressed_from): the link,
# once per original, so the money is counted once whichever of the two arrives.
_V6 = """
CREATE TABLE payment_links (txn_id TEXT PRIMARY KEY, readdressed_from TEXT NOT NULL UNIQUE,
    kiosk_id TEXT NOT NULL, linked_at TEXT NOT NULL);
"""
# v7: a resident's history, service requests and e-bill sign-ups (billing_server/resident.py)
_V7 = resident.SCHEMA_V7
# v8: a payment by the phone's payment code (tender code) names the gateway's transaction; one
# gateway transaction pays once, whatever txn_id it arrives under (docs/billing-api.yaml).
_V8 = """
CREATE TABLE payment_gateway_refs (txn_id TEXT PRIMARY KEY, gateway_ref TEXT NOT NULL UNIQUE);
"""
SETTLEMENT_SQL = (
    "SELECT payment_id, txn_id, account_no, amount_minor, created_at FROM payments "
    "WHERE kiosk_id = ? AND created_date = ? ORDER BY seq")
_SCHEMA = """
CREATE TABLE accounts (
    account_no TEXT PRIMARY KEY, holder_masked TEXT NOT NULL, address_masked TEXT NOT NULL,
    arrears_minor INTEGER NOT NULL CHECK (arrears_minor >= 0),
    balance_minor INTEGER NOT NULL CHECK (balance_minor >= 0), updated_at TEXT NOT NULL);
CREATE TABLE cards (card_uid TEXT PRIMARY KEY,
    account_no TEXT NOT NULL REFERENCES accounts(account_no));
CREATE TABLE notices (id TEXT NOT NULL, lang TEXT NOT NULL, kind TEXT NOT NULL,
    title TEXT NOT NULL, body TEXT NOT NULL, valid_until TEXT, PRIMARY KEY (id, lang));
CREATE TABLE payments (
    seq INTEGER PRIMARY KEY, payment_id TEXT NOT NULL UNIQUE, kiosk_id TEXT NOT NULL,
    txn_id TEXT NOT NULL, account_no TEXT NOT NULL REFERENCES accounts(account_no),
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0), currency TEXT NOT NULL,
    tender TEXT NOT NULL, notes TEXT NOT NULL, coins TEXT NOT NULL, created_at TEXT NOT NULL,
    created_date TEXT NOT NULL, offline INTEGER NOT NULL, arrears_after INTEGER NOT NULL,
    balance_after INTEGER NOT NULL, receipt_ref TEXT NOT NULL, accepted_at TEXT NOT NULL,
    UNIQUE (kiosk_id, txn_id));
CREATE INDEX payments_by_day ON payments (kiosk_id, created_date);
CREATE TABLE idempotency (scope TEXT NOT NULL, kiosk_id TEXT NOT NULL, key TEXT NOT NULL,
    request_hash TEXT NOT NULL, status INTEGER NOT NULL, response BLOB NOT NULL,
    created_at TEXT NOT NULL, PRIMARY KEY (scope, kiosk_id, key));
CREATE TABLE heartbeats (kiosk_id TEXT PRIMARY KEY, received_at TEXT NOT NULL,
    body TEXT NOT NULL);
CREATE TABLE collections (seq INTEGER PRIMARY KEY, collection_id TEXT NOT NULL UNIQUE,
    kiosk_id TEXT NOT NULL, batch_id TEXT NOT NULL, variance_minor INTEGER NOT NULL,
    body TEXT NOT NULL, received_at TEXT NOT NULL, UNIQUE (kiosk_id, batch_id));
CREATE TABLE feedback (seq INTEGER PRIMARY KEY, kiosk_id TEXT NOT NULL,
    feedback_id TEXT NOT NULL, rating INTEGER NOT NULL, body TEXT NOT NULL,
    received_at TEXT NOT NULL, UNIQUE (kiosk_id, feedback_id));
"""


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_json_bytes(obj: Any) -> bytes:
    """The server's one JSON encoding: compact, UTF-8 (Chinese stays readable)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class LedgerError(Exception):
    """A permanent refusal the HTTP layer turns into a 4xx with ``code``."""

    code = "invalid_request"


class UnknownAccount(LedgerError):
    code = "unknown_account"


class IdempotencyConflict(LedgerError):
    code = "idempotency_conflict"


class AlreadyCounted(LedgerError):
    """The money of a re-addressed payment is booked once: under the original or the new one."""

    code = "already_counted"


@dataclass(frozen=True)
class Outcome:
    """A stored (or just created) answer: replays get the very same bytes."""

    status: int
    body: bytes
    replayed: bool


Action = Callable[[sqlite3.Connection, str], tuple[int, dict[str, Any]]]


class Ledger:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, nothing implicit.
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._lock = GroupCommit(self._conn)
        self._migrate()

    def _migrate(self) -> None:
        with self._lock:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                return
            if version not in (0, 1, 2, 3, 4, 5, 6, 7):
                raise RuntimeError(f"ledger {self.path} has schema {version}, expected 0 to 8")
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                steps = ((_SCHEMA if version == 0 else "") + (_V2 if version < 2 else "")
                         + (_V3 if version < 3 else "") + (_V4 if version < 4 else "")
                         + (_V5 if version < 5 else "") + (_V6 if version < 6 else "")
                         + (_V7 if version < 7 else "") + _V8)
                for stmt in filter(str.strip, steps.split(";")):
                    self._conn.execute(stmt)
            except sqlite3.IntegrityError as exc:  # a v1 ledger that booked a txn twice
                self._conn.execute("ROLLBACK")
                raise RuntimeError(f"ledger {self.path}: an id is booked twice ({exc})") from None
            self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def seed(
        self, accounts: Iterable[DemoAccount], cards: dict[str, str], notices: Iterable[DemoNotice],
        prepaid_cards: Mapping[str, str] = DEMO_PREPAID_CARDS,
    ) -> None:
        """Insert what is missing; never resets a balance that payments have already moved."""
        now = utc_now_iso()
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                for a in accounts:
                    c.execute(
                        "INSERT OR IGNORE INTO accounts (account_no, holder_masked, "
                        "address_masked, arrears_minor, balance_minor, updated_at, prepaid) "
                        "VALUES (?,?,?,?,?,?,?)",
                        (a.account_no, a.holder_masked, a.address_masked, a.arrears_minor,
                         a.balance_minor, now, int(a.prepaid)),
                    )
                    if a.prepaid:  # a ledger from before v4 holds the account already
                        c.execute("UPDATE accounts SET prepaid = 1 WHERE account_no = ?",
                                  (a.account_no,))
                for uid, account_no in cards.items():
                    c.execute("INSERT OR IGNORE INTO cards VALUES (?,?)", (uid, account_no))
                for uid, account_no in prepaid_cards.items():
                    c.execute("INSERT OR IGNORE INTO prepaid_cards (card_uid, account_no) "
                              "VALUES (?,?)", (uid, account_no))
                resident.seed_history(c, [a.account_no for a in accounts], date.today())
                for n in notices:
                    for lang, title, body in (("zh", n.title_zh, n.body_zh),
                                              ("en", n.title_en, n.body_en)):
                        c.execute(
                            "INSERT OR REPLACE INTO notices VALUES (?,?,?,?,?,?)",
                            (n.id, lang, n.kind, title, body, n.valid_until),
                        )
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    # ---- reads -------------------------------------------------------------------------------

    def _one(self, sql: str, args: tuple[Any, ...]) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(sql, args).fetchone()
        return dict(row) if row is not None else None

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._conn.execute(sql, args).fetchall()]

    select = _all  # for the ledger's read-only helpers (billing_server/resident.py)

    def account(self, account_no: str) -> dict[str, Any] | None:
        return self._one(
            "SELECT account_no, holder_masked, address_masked, arrears_minor, balance_minor, "
            "prepaid FROM accounts WHERE account_no = ?",
            (account_no,),
        )

    def card(self, card_uid: str) -> dict[str, Any] | None:
        return self._one("SELECT card_uid, account_no FROM cards WHERE card_uid = ? UNION ALL "
                         "SELECT card_uid, account_no FROM prepaid_cards WHERE card_uid = ?",
                         (card_uid, card_uid))

    def notices(self, lang: str, now_iso: str) -> list[dict[str, Any]]:
        rows = self._all(
            "SELECT id, kind, title, body, valid_until FROM notices WHERE lang = ? "
            "ORDER BY kind, id",
            (lang,),
        )
        out = []
        for r in rows:
            # Both sides are UTC "…Z" strings of the same shape, so text order is time order.
            if r["valid_until"] is None:
                del r["valid_until"]
            elif r["valid_until"] < now_iso:
                continue
            out.append(r)
        return out

    def settlement(self, kiosk_id: str, date: str) -> list[dict[str, Any]]:
        return self._all(SETTLEMENT_SQL, (kiosk_id, date))

    def kiosk_key(self, kiosk_id: str) -> str | None:
        row = self._one("SELECT public_key FROM kiosk_keys WHERE kiosk_id = ?", (kiosk_id,))
        return row["public_key"] if row else None

    def enrol(self, kiosk_id: str, public_key: str) -> tuple[int, dict[str, Any]]:
        """Register a kiosk's key once: 201 new, 200 the same key again, 409 another key."""
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                row = c.execute("SELECT public_key, enrolled_at FROM kiosk_keys "
                                "WHERE kiosk_id = ?", (kiosk_id,)).fetchone()
                if row is None:
                    now = utc_now_iso()
                    c.execute("INSERT INTO kiosk_keys VALUES (?,?,?)", (kiosk_id, public_key, now))
                    status, at = 201, now
                elif row["public_key"] == public_key:
                    status, at = 200, row["enrolled_at"]
                else:
                    status, at = 409, row["enrolled_at"]
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        if status == 201:
            log.warning("kiosk %s enrolled", kiosk_id)
        return status, {"kiosk_id": kiosk_id, "public_key": public_key if status != 409 else None,
                        "enrolled_at": at}

    def payment_by_txn(self, txn_id: str) -> dict[str, Any] | None:
        """A payment by its transaction id, in any letter case (a receipt's QR upper-cases)."""
        return self._one(
            "SELECT payment_id, kiosk_id, txn_id, account_no, amount_minor, receipt_ref, "
            "accepted_at FROM payments WHERE upper(txn_id) = upper(?)", (txn_id,))

    def payments(self) -> list[dict[str, Any]]:
        rows = self._all("SELECT p.*, l.readdressed_from FROM payments p"
                         " LEFT JOIN payment_links l ON l.txn_id = p.txn_id ORDER BY p.seq")
        for r in rows:
            r["notes"], r["coins"] = json.loads(r["notes"]), json.loads(r["coins"])
            r["offline"] = bool(r["offline"])
        return rows

    def dump(self) -> dict[str, Any]:
        """Everything the admin ledger view shows."""
        return {
            "payments": self.payments(),
            "collections": [
                json.loads(r["body"]) | {"collection_id": r["collection_id"]}
                for r in self._all("SELECT collection_id, body FROM collections ORDER BY seq")
            ],
            "feedback": [
                json.loads(r["body"])
                for r in self._all("SELECT body FROM feedback ORDER BY seq")
            ],
            "heartbeats": [
                json.loads(r["body"]) | {"received_at": r["received_at"]}
                for r in self._all("SELECT body, received_at FROM heartbeats ORDER BY kiosk_id")
            ],
        } | resident.dump(self)

    # ---- writes ------------------------------------------------------------------------------

    def store_heartbeat(self, kiosk_id: str, body: dict[str, Any], received_at: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO heartbeats VALUES (?,?,?)",
                (kiosk_id, received_at, json.dumps(body, ensure_ascii=False)),
            )

    def audit_anchor(self, kiosk_id: str) -> Anchor | None:
        row = self._conn.execute("SELECT seq, head, flagged_reason, flagged_at, seen_at FROM"
                                 " kiosk_audit WHERE kiosk_id = ?", (kiosk_id,)).fetchone()
        return Anchor(*row) if row else None

    def audit_heartbeat(self, kiosk_id: str, seq: int, head: str, prev: dict[str, Any] | None,
                        now: str) -> Verdict:
        """Judge a heartbeat's audit head against the stored one and keep the verdict."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                verdict = judge(self.audit_anchor(kiosk_id), seq, head, prev, now)
                a = verdict.anchor
                self._conn.execute(
                    "INSERT OR REPLACE INTO kiosk_audit VALUES (?,?,?,?,?,?)",
                    (kiosk_id, a.seq, a.head, a.flagged_reason, a.flagged_at, a.seen_at))
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        if verdict.status == "flagged":
            log.warning("kiosk %s audit chain flagged: %s", kiosk_id, verdict.reason)
        return verdict

    def idempotent(
        self, scope: str, kiosk_id: str, key: str, request_hash: str, action: Action
    ) -> Outcome:
        """Run ``action`` once per (scope, key), whichever kiosk sends it, and keep its answer
        forever (``kiosk_id`` is part of the hashed body, so another kiosk is a conflict).

        A later call with the same hash gets the stored answer; a different hash raises
        IdempotencyConflict. ``action(conn, now)`` runs inside the transaction and returns
        (status, body); a LedgerError from it rolls everything back and is not remembered.
        """
        with self._lock.joined() as c:
            row = c.execute(
                "SELECT request_hash, status, response FROM idempotency "
                "WHERE scope = ? AND key = ?",
                (scope, key),
            ).fetchone()
            if row is not None:
                # A replay of a write still in the open group waits for its commit too.
                outcome = Outcome(row["status"], bytes(row["response"]), replayed=True)
                if row["request_hash"] != request_hash:
                    outcome = None
            else:
                now = utc_now_iso()
                status, body = action(c, now)
                data = to_json_bytes(body)
                c.execute(
                    "INSERT INTO idempotency VALUES (?,?,?,?,?,?,?)",
                    (scope, kiosk_id, key, request_hash, status, data, now),
                )
                outcome = Outcome(status, data, replayed=False)
        if outcome is None:
            raise IdempotencyConflict(f"{scope} key {key!r} was already used with a different body")
        return outcome

    def record_payment(self, req: dict[str, Any], request_hash: str) -> Outcome:
        """Apply a validated payment: arrears first, the surplus becomes prepaid balance."""

        def apply(c: sqlite3.Connection, now: str) -> tuple[int, dict[str, Any]]:
            _count_once(c, req, now)
            acct = c.execute(
                "SELECT arrears_minor, balance_minor FROM accounts WHERE account_no = ?",
                (req["account_no"],),
            ).fetchone()
            if acct is None:
                raise UnknownAccount(f"no account {mask_account(req['account_no'])}")
            amount = req["amount_minor"]
            to_arrears = min(amount, acct["arrears_minor"])
            arrears = acct["arrears_minor"] - to_arrears
            balance = acct["balance_minor"] + amount - to_arrears
            seq = c.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM payments").fetchone()[0]
            payment_id = f"PAY-{seq:08d}"
            receipt_ref = f"R{now[:10].replace('-', '')}-{seq:06d}"
            c.execute(
                "INSERT INTO payments VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (seq, payment_id, req["kiosk_id"], req["txn_id"], req["account_no"], amount,
                 req["currency"], req["tender"], json.dumps(req["notes"], sort_keys=True),
                 json.dumps(req.get("coins", {}), sort_keys=True), req["created_at"],
                 req["created_at"][:10], int(req["offline"]), arrears, balance, receipt_ref, now),
            )
            if req["tender"] == "code":
                other = c.execute("SELECT txn_id FROM payment_gateway_refs WHERE gateway_ref = ?",
                                  (req["gateway_ref"],)).fetchone()
                if other is not None:  # one charge at the gateway pays once
                    raise AlreadyCounted(f"gateway transaction {req['gateway_ref']} paid "
                                         f"{other[0]} already")
                c.execute("INSERT INTO payment_gateway_refs (txn_id, gateway_ref) VALUES (?, ?)",
                          (req["txn_id"], req["gateway_ref"]))
            c.execute(
                "UPDATE accounts SET arrears_minor = ?, balance_minor = ?, updated_at = ? "
                "WHERE account_no = ?",
                (arrears, balance, now, req["account_no"]),
            )
            log.info("payment %s from %s to %s: %d fen", payment_id, req["kiosk_id"],
                     mask_account(req["account_no"]), amount)
            answer = {
                "payment_id": payment_id, "txn_id": req["txn_id"], "kiosk_id": req["kiosk_id"],
                "account_no": req["account_no"], "amount_minor": amount,
                "arrears_minor": arrears, "balance_minor": balance,
                "receipt_ref": receipt_ref, "accepted_at": now,
            }
            if "readdressed_from" in req:
                answer["readdressed_from"] = req["readdressed_from"]
            return 201, answer

        return self.idempotent("payment", req["kiosk_id"], req["txn_id"], request_hash, apply)

    def record_collection(self, req: dict[str, Any], request_hash: str) -> Outcome:
        def apply(c: sqlite3.Connection, now: str) -> tuple[int, dict[str, Any]]:
            seq = c.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM collections").fetchone()[0]
            collection_id = f"COL-{seq:08d}"
            c.execute(
                "INSERT INTO collections VALUES (?,?,?,?,?,?,?)",
                (seq, collection_id, req["kiosk_id"], req["batch_id"], req["variance_minor"],
                 json.dumps(req, ensure_ascii=False), now),
            )
            return 201, {"collection_id": collection_id, "batch_id": req["batch_id"]}

        return self.idempotent("collection", req["kiosk_id"], req["batch_id"], request_hash, apply)

    def record_feedback(self, req: dict[str, Any], request_hash: str) -> Outcome:
        def apply(c: sqlite3.Connection, now: str) -> tuple[int, dict[str, Any]]:
            c.execute(
                "INSERT INTO feedback (kiosk_id, feedback_id, rating, body, received_at) "
                "VALUES (?,?,?,?,?)",
                (req["kiosk_id"], req["feedback_id"], req["rating"],
                 json.dumps(req, ensure_ascii=False), now),
            )
            return 201, {"feedback_id": req["feedback_id"], "accepted_at": now}

        return self.idempotent("feedback", req["kiosk_id"], req["feedback_id"], request_hash, apply)


def _count_once(c: sqlite3.Connection, req: dict[str, Any], now: str) -> None:
    """A payment re-addressing a dead one is refused when the original was booked after all,
    and the original is refused once it has been re-addressed: the money counts once."""
    relinked = c.execute("SELECT txn_id FROM payment_links WHERE readdressed_from = ?",
                         (req["txn_id"],)).fetchone()
    if relinked is not None:
        raise AlreadyCounted(f"payment {req['txn_id']} was re-addressed as {relinked[0]}")
    original = req.get("readdressed_from")
    if original is None:
        return
    if c.execute("SELECT 1 FROM payments WHERE txn_id = ?", (original,)).fetchone() is not None:
        raise AlreadyCounted(f"payment {original} is booked already; {req['txn_id']} would "
                             "count its money twice")
    if c.execute("SELECT 1 FROM payment_links WHERE readdressed_from = ?",
                 (original,)).fetchone() is not None:
        raise AlreadyCounted(f"payment {original} has been re-addressed already")
    c.execute("INSERT INTO payment_links VALUES (?, ?, ?, ?)",
              (req["txn_id"], original, req["kiosk_id"], now))
