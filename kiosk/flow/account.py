"""Account numbers: format and check digit, checked before any lookup.

An account number is 10 digits; the last is a Luhn check digit over the first nine, so a typo of
one digit or a swap of two neighbours is caught at the keypad, offline too.
"""

from __future__ import annotations

ACCOUNT_LENGTH = 10


class AccountNumberError(ValueError):
    """Malformed account number; ``reason`` is a stable code for the UI's message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def luhn_digit(payload: str) -> int:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # the digit next to the check digit is doubled
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def make_account_number(nine_digits: str) -> str:
    if len(nine_digits) != ACCOUNT_LENGTH - 1 or not nine_digits.isdigit():
        raise ValueError("need nine digits")
    return nine_digits + str(luhn_digit(nine_digits))


def check_account_number(text: str) -> str:
    """Return the normalised account number or raise AccountNumberError."""
    digits = text.strip().replace(" ", "").replace("-", "")
    if not digits:
        raise AccountNumberError("empty", "no account number entered")
    if not digits.isascii() or not digits.isdigit():
        raise AccountNumberError("not_digits", "an account number has digits only")
    if len(digits) != ACCOUNT_LENGTH:
        raise AccountNumberError(
            "wrong_length", f"an account number has {ACCOUNT_LENGTH} digits, got {len(digits)}"
        )
    if luhn_digit(digits[:-1]) != int(digits[-1]):
        raise AccountNumberError("bad_check_digit", "the account number's check digit is wrong")
    return digits


def mask_account(account_no: str) -> str:
    """For logs and receipts: keep the last four digits."""
    if len(account_no) <= 4:
        return "*" * len(account_no)
    return "*" * (len(account_no) - 4) + account_no[-4:]
