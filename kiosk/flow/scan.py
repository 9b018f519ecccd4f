"""What a scanned code is, and what the session does with it. Pure.

``classify`` turns the text a barcode scanner read into one of three events: a bill of this
utility (its pattern, from config ``[scanner] bill_pattern``, names the account in a group
``account``) → BillScanned; a wallet app's payment code (付款码; ``payment_code_pattern``) →
PaymentCodeScanned; anything else → UnreadableScan. The default payment-code rule follows the
wallets' published code formats: WeChat Pay's are 18 digits beginning 10-15, Alipay's 16-24
digits beginning 25-30.

A bill identifies the account exactly like a typed account number (``as_identification``); an
unreadable scan, and a payment code anywhere but the code-payment step, leave the session as it
is with a message for the screen (``message_for``) -- nothing the resident did is lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kiosk.flow import events as e
from kiosk.flow.account import AccountNumberError, check_account_number

#: the reference billing server's demo bills (billing_server/seed.py, ``bill_code``): "DF",
#: the account number, the billing period (YYYYMM)
DEFAULT_BILL_PATTERN = r"DF(?P<account>[0-9]{10})[0-9]{6}"
DEFAULT_PAYMENT_CODE_PATTERN = r"1[0-5][0-9]{16}|(?:2[5-9]|30)[0-9]{14,22}"

#: message codes the screens translate (kiosk/ui/present.py)
NOT_A_BILL = "scan_not_a_bill"
BAD_BILL = "scan_bad_bill"
CODE_NOT_HERE = "scan_payment_code_not_here"
SCAN_MESSAGES = (NOT_A_BILL, BAD_BILL, CODE_NOT_HERE)


@dataclass(frozen=True)
class ScanRules:
    """``[scanner]`` in the config: regular expressions matched against the whole code."""

    bill_pattern: str = DEFAULT_BILL_PATTERN
    payment_code_pattern: str = DEFAULT_PAYMENT_CODE_PATTERN
    _bill: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _code: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """A pattern that does not compile, or a bill pattern without ``(?P<account>...)``,
        raises ValueError (the config names the key)."""
        bill = re.compile(self.bill_pattern)
        if "account" not in bill.groupindex:
            raise ValueError("needs a named group (?P<account>...) for the account number")
        object.__setattr__(self, "_bill", bill)
        object.__setattr__(self, "_code", re.compile(self.payment_code_pattern))


def classify(text: str, rules: ScanRules, session_id: str = "") -> e.Event:
    """The scanned ``text`` → BillScanned | PaymentCodeScanned | UnreadableScan. A bill whose
    account number fails its check digit is unreadable (``bad_account``): a misprint, or
    another utility's bill, never a lookup."""
    bill = rules._bill.fullmatch(text)
    if bill is not None:
        try:
            account_no = check_account_number(bill.group("account") or "")
        except AccountNumberError:
            return e.UnreadableScan("bad_account")
        return e.BillScanned(account_no, session_id)
    if rules._code.fullmatch(text):
        return e.PaymentCodeScanned(text)
    return e.UnreadableScan("not_a_bill")


def as_identification(ev: e.Event) -> e.Event:
    """A bill scanned is the account number typed: the reducer treats both alike (a lookup,
    the same checks); any other event is returned as it is."""
    if isinstance(ev, e.BillScanned):
        return e.AccountEntered(ev.account_no, ev.session_id)
    return ev


def message_for(ev: e.Event) -> str:
    """The message a scan leaves on a choosing screen ("" for any other event)."""
    if isinstance(ev, e.UnreadableScan):
        return BAD_BILL if ev.reason == "bad_account" else NOT_A_BILL
    if isinstance(ev, e.PaymentCodeScanned):
        return CODE_NOT_HERE  # the code-payment step handles its own codes before this
    return ""


def rules_from_table(table: dict[str, object]) -> ScanRules:
    """``[scanner]`` of the config file → ScanRules; ValueError naming the key (the config
    turns it into its one-line error)."""
    known = {"bill_pattern", "payment_code_pattern"}
    for key, value in table.items():
        if key not in known:
            raise ValueError(f"scanner.{key}: unknown key (known: {', '.join(sorted(known))})")
        if not isinstance(value, str) or not value:
            raise ValueError(f"scanner.{key}: expected a regular expression, got {value!r}")
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"scanner.{key}: not a regular expression: {exc}") from None
    try:
        return ScanRules(**table)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ValueError(f"scanner.bill_pattern: {exc}") from None
