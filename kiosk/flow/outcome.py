"""What a resident is told at the end of a payment, decided from integer minor units only.

Pure, like the reducer (docs/architecture.md, "kiosk/flow"): the screens only word these facts.
Three questions: is paying this amount less than is owed, so the resident is asked once before any
money goes in; is the bill cleared by what was paid, or what is still owed; and did a fault stop
the payment short of the amount chosen (docs/promises.md: a screen never says "paid" for money
that was not all taken, and always says what was credited).
"""

from __future__ import annotations

from dataclasses import dataclass


def asks_first(amount_minor: int, arrears_minor: int | None, asked_minor: int) -> bool:
    """Paying less than is owed: ask once, before insertion starts. A second choice of the same
    amount is the resident's answer; a different amount under the arrears is asked about anew."""
    if not arrears_minor or arrears_minor <= 0 or amount_minor <= 0:
        return False
    return amount_minor < arrears_minor and amount_minor != asked_minor


@dataclass(frozen=True)
class Settlement:
    """``cleared`` is None when the arrears are not known here (offline, from no record)."""

    cleared: bool | None
    still_owed_minor: int = 0
    prepaid_minor: int = 0


def settle(arrears_minor: int | None, paid_minor: int) -> Settlement:
    if arrears_minor is None:
        return Settlement(cleared=None)
    owed = max(arrears_minor, 0)
    if paid_minor >= owed:
        return Settlement(cleared=True, prepaid_minor=paid_minor - owed)
    return Settlement(cleared=False, still_owed_minor=owed - paid_minor)


def stopped_short(interrupted: str, credited_minor: int, target_minor: int) -> bool:
    """A device fault ended the insertion before the chosen amount was reached."""
    return bool(interrupted) and credited_minor < target_minor


def short_number(receipt_no: str, digits: int = 6) -> str:
    """The receipt number a resident can read out: the digits it ends with, at most six — the
    day's sequence number, which is what staff type to find a receipt of today
    (docs/architecture.md). The full number stays on the printed receipt and in the QR code."""
    tail = len(receipt_no)
    while tail > 0 and receipt_no[tail - 1].isdigit():
        tail -= 1
    run = receipt_no[tail:]
    return run[-digits:] if run else receipt_no
