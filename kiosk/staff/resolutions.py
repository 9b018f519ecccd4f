"""Dead payments put right by people (docs/promises.md, Dead payments are resolved by people):
a payment the billing system refused for good (an account it does not know) is either
re-addressed to a corrected account — a new transaction with its own idempotency key that names
the original (``readdressed_from``, docs/billing-api.yaml), so the money is counted once — or
marked for a refund with the resident's phone number. The original is never changed or sent
again; the daily report lists dead, re-addressed and refund-pending payments until each is
settled."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from sqlite_utils import Database

from drivers.interfaces import PrintJob
from kiosk.flow.account import check_account_number, mask_account
from kiosk.flow.money import format_minor
from kiosk.staff.errors import StaffError
from offline_queue.journal import Journal
from offline_queue.schema import immediate

READDRESSED, REFUND = "readdressed", "refund"
PHONE = re.compile(r"\+?[0-9]{7,15}")
#: the suffix of a re-addressed payment's transaction id (one re-address per dead payment)
READDRESS_SUFFIX = ".R1"


class ResolutionError(StaffError):
    """The payment cannot be resolved so (not dead, already resolved, not a payment)."""

    code = "resolution_error"


def mask_phone(phone: str) -> str:
    """For slips, logs and the audit log: the first three and the last two digits."""
    digits = phone.lstrip("+")
    return digits[:3] + "*" * max(0, len(digits) - 5) + digits[-2:]


def check_phone(text: str) -> str:
    phone = text.strip().replace(" ", "").replace("-", "")
    if not PHONE.fullmatch(phone):
        raise ValueError("--phone: 7 to 15 digits, optionally starting with +")
    return phone


@dataclass(frozen=True)
class Resolution:
    txn_id: str
    kind: str
    amount_minor: int
    old_account: str
    decided_by: str
    decided_at: str
    new_txn_id: str | None = None
    new_account: str | None = None
    phone: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """What leaves the terminal's database (CLI, control socket): the phone masked."""
        out = dict(self.__dict__)
        out["phone"] = mask_phone(self.phone) if self.phone else None
        out["old_account"] = mask_account(self.old_account)
        out["new_account"] = mask_account(self.new_account) if self.new_account else None
        return out

    def slip(self, kiosk_id: str) -> PrintJob:
        lines = [f"原交易 Original: {self.txn_id}", f"金额 Amount: {format_minor(self.amount_minor)}",
                 f"原户号 Account: {mask_account(self.old_account)}"]
        if self.kind == READDRESSED:
            title = "更正户号 Payment re-addressed"
            lines += [f"新户号 New account: {mask_account(self.new_account or '')}",
                      f"新交易 New transaction: {self.new_txn_id}"]
        else:
            title = "待退款 Refund pending"
            lines += [f"联系电话 Phone: {mask_phone(self.phone or '')}"]
        lines += [f"操作员 Operator: {self.decided_by}", f"时间 Time: {self.decided_at}",
                  f"终端 Terminal: {kiosk_id}"]
        return PrintJob(lines=tuple(lines), title=title)


class PaymentResolutions:
    def __init__(self, db: Database, journal: Journal,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self.journal = journal
        self.clock = clock or (lambda: datetime.now().astimezone())

    def _now(self) -> str:
        return self.clock().isoformat(timespec="seconds")

    def _dead_payment(self, txn_id: str) -> Any:
        row = self.db.execute(
            "SELECT o.state, o.kind FROM outbox o WHERE o.idem_key = ?", (txn_id,)).fetchone()
        if row is None or row[1] != "payment":
            raise ResolutionError(f"no payment {txn_id} in the queue")
        if row[0] != "DEAD":
            raise ResolutionError(f"payment {txn_id} is {row[0]}, not dead")
        done = self.db.execute("SELECT kind FROM payment_resolutions WHERE txn_id = ?",
                               (txn_id,)).fetchone()
        if done is not None:
            raise ResolutionError(f"payment {txn_id} is already resolved ({done[0]})")
        payment = self.journal.payment(txn_id)
        if payment is None:
            raise ResolutionError(f"payment {txn_id} is not in the journal")
        return payment

    def readdress(self, txn_id: str, new_account: str, by: str) -> Resolution:
        """One transaction: the resolution row and the new payment (journal, payment, outbox)."""
        account = check_account_number(new_account)
        # The same journal without its commit hook: the hook runs once the outer transaction commits.
        quiet = Journal(self.db, self.journal.kiosk_id, clock=self.journal.clock,
                        elapsed=self.journal.elapsed, encode=self.journal.encode)
        with immediate(self.db):
            old = self._dead_payment(txn_id)
            if account == old.account_no:
                raise ValueError("--account: the same account the billing system refused")
            new_txn = f"{txn_id}{READDRESS_SUFFIX}"
            at = self._now()
            self.db.execute(
                "INSERT INTO payment_resolutions (txn_id, kind, new_txn_id, new_account,"
                " decided_at, decided_by) VALUES (?, ?, ?, ?, ?, ?)",
                (txn_id, READDRESSED, new_txn, account, at, by))
            quiet.commit_payment(new_txn, account, old.notes, old.coins, old.amount_minor,
                                 offline=True, readdressed_from=txn_id)
        self.journal.on_commit()  # the high-water record follows the committed journal
        return Resolution(txn_id, READDRESSED, old.amount_minor, old.account_no, by, at,
                          new_txn_id=new_txn, new_account=account)

    def refund(self, txn_id: str, phone: str, by: str) -> Resolution:
        phone = check_phone(phone)
        with immediate(self.db):
            old = self._dead_payment(txn_id)
            at = self._now()
            self.db.execute(
                "INSERT INTO payment_resolutions (txn_id, kind, phone, decided_at, decided_by)"
                " VALUES (?, ?, ?, ?, ?)", (txn_id, REFUND, phone, at, by))
        return Resolution(txn_id, REFUND, old.amount_minor, old.account_no, by, at, phone=phone)

    def refunded(self, txn_id: str, by: str) -> None:
        """The resident has their money back: the refund leaves the report."""
        if self.db.execute(
                "UPDATE payment_resolutions SET settled_at = ?, settled_by = ? WHERE txn_id = ?"
                " AND kind = 'refund' AND settled_at IS NULL", (self._now(), by, txn_id)
        ).rowcount != 1:
            raise ResolutionError(f"no refund pending for {txn_id}")

    def outstanding(self, day: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """For the daily report: dead payments nobody resolved yet, re-addressed ones (with
        their new transaction's state; settled once it is delivered) and refunds pending.
        With ``day``, re-addressed ones decided that day stay listed even once settled."""
        dead = list(self.db.query(
            "SELECT o.idem_key AS txn_id, o.amount_minor, o.status_code, o.last_error"
            " FROM outbox o WHERE o.kind = 'payment' AND o.state = 'DEAD' AND NOT EXISTS"
            " (SELECT 1 FROM payment_resolutions r WHERE r.txn_id = o.idem_key) ORDER BY o.id"))
        readdressed = list(self.db.query(
            "SELECT r.txn_id, r.new_txn_id, p.amount_minor, r.decided_at, r.decided_by,"
            " coalesce(o.state, 'MISSING') AS new_state, r.new_account"
            " FROM payment_resolutions r JOIN payments p ON p.txn_id = r.txn_id"
            " LEFT JOIN outbox o ON o.idem_key = r.new_txn_id WHERE r.kind = 'readdressed'"
            " AND (coalesce(o.state, '') != 'DELIVERED' OR substr(r.decided_at, 1, 10) = ?)"
            " ORDER BY r.decided_at", [day or ""]))
        for r in readdressed:
            r["new_account"] = mask_account(r["new_account"])
            r["settled"] = r["new_state"] == "DELIVERED"
        refunds = list(self.db.query(
            "SELECT r.txn_id, p.amount_minor, r.phone, r.decided_at, r.decided_by"
            " FROM payment_resolutions r JOIN payments p ON p.txn_id = r.txn_id"
            " WHERE r.kind = 'refund' AND r.settled_at IS NULL ORDER BY r.decided_at"))
        for r in refunds:
            r["phone"] = mask_phone(r["phone"])
        return {"dead": dead, "readdressed": readdressed, "refund_pending": refunds}

    def readdressed_originals(self) -> set[str]:
        return {r[0] for r in self.db.execute(
            "SELECT txn_id FROM payment_resolutions WHERE kind = 'readdressed'").fetchall()}
