"""Finding a resident's receipt for staff, in the live database or the monthly archives.

A payment moved by retention (offline_queue/archive.py) is still a payment the resident holds a
receipt for: staff reprint it by its number and see it in the recent receipts like any other
(docs/promises.md, Retention). The live database is asked first; the archives only for what it
does not hold, so no payment is ever found twice.
"""

from __future__ import annotations

from typing import Any

from offline_queue.archive import archived_payment, recent_archived

Receipt = tuple[str, int, str]  # (receipt number, amount in minor units, created at)


def txn_for_receipt(db: Any, receipt_no: str) -> str | None:
    """The transaction a receipt number names, live or archived; None if neither holds it."""
    row = db.execute("SELECT txn_id FROM payments WHERE receipt_no = ?", (receipt_no,)).fetchone()
    if row is not None:
        return str(row[0])
    moved = archived_payment(db, receipt_no=receipt_no)
    return None if moved is None else str(moved["txn_id"])


def recent_receipts(db: Any, n: int) -> list[Receipt]:
    """The ``n`` newest receipts, newest first; from the archives once the live ones run out."""
    rows: list[Receipt] = [(r[0], r[1], r[2]) for r in db.execute(
        "SELECT receipt_no, amount_minor, created_at FROM payments"
        " ORDER BY created_at DESC, txn_id DESC LIMIT ?", (n,)).fetchall()]
    if len(rows) < n:
        rows += recent_archived(db, n - len(rows))
    return rows
