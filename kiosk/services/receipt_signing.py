"""Signed receipts: the QR on a receipt (printed, or on screen when there is no paper) is a URL
carrying the receipt's facts and the kiosk's Ed25519 signature over them, so a resident's phone
can ask the utility whether the payment reached the ledger, and staff can check a receipt
offline (``kiosk receipt verify TEXT``).

The text is ``<verify_url>?r=RECEIPT:TXN:MASKED:AMOUNT:TIME:SIG``: the receipt number (it starts
with the kiosk id), the transaction id, the masked account, the amount in integer fen, the
payment time in base-36 Unix seconds and the 64-byte signature in unpadded base32. Everything
after ``?r=`` is upper case and within the QR alphanumeric set (ISO/IEC 18004 section 7.4.4:
5.5 bits a character against 8), which is what keeps a whole receipt within QR version 10 at
ECC level M; tests check that with the ``qrcode`` package's own version fitting.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk.config import Config, verify_url
from kiosk.flow.account import mask_account
from kiosk.flow.receipt import ReceiptData
from offline_queue.signing import public_from_b64

DOMAIN = b"EPAY-RECEIPT-1"  # a receipt signature can never pass for a request signature
MAX_QR_VERSION = 10
_FIELD = re.compile(r"[0-9A-Z*.-]{1,64}")
_B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class ReceiptFacts:
    receipt_no: str
    txn_id: str
    account_masked: str
    amount_minor: int
    paid_at: int  # Unix seconds

    @property
    def kiosk_id(self) -> str:
        # Journal receipt numbers are <kiosk id>-<YYYYMMDD>-<NNNNN> (offline_queue/journal.py).
        return self.receipt_no.rsplit("-", 2)[0]

    def fields(self) -> list[str]:
        return [self.receipt_no, self.txn_id, self.account_masked, str(self.amount_minor),
                _base36(self.paid_at)]

    def message(self) -> bytes:
        return b"\n".join([DOMAIN, self.kiosk_id.encode(), *(f.encode() for f in self.fields())])


def facts_of(receipt: ReceiptData) -> ReceiptFacts:
    r = receipt.payment
    paid_at = int(datetime.fromisoformat(r.created_at).timestamp())
    return ReceiptFacts(r.receipt_no.upper(), r.txn_id.upper(), mask_account(r.account_no),
                        r.amount_minor, paid_at)


def signed_text(facts: ReceiptFacts, key: Ed25519PrivateKey, url: str) -> str:
    sig = base64.b32encode(key.sign(facts.message())).decode("ascii").rstrip("=")
    return f"{url}?r=" + ":".join([*facts.fields(), sig])


class ReceiptSigner:
    """``signer(receipt_data) -> QR text``: what kiosk/services/runner.py puts on a receipt."""

    def __init__(self, key: Ed25519PrivateKey, url: str) -> None:
        self.key, self.url = key, url

    @classmethod
    def for_config(cls, cfg: Config, key: Ed25519PrivateKey) -> ReceiptSigner:
        return cls(key, verify_url(cfg))

    def __call__(self, r: ReceiptData) -> str:
        return signed_text(facts_of(r), self.key, self.url)


@dataclass(frozen=True)
class Parsed:
    facts: ReceiptFacts
    signature: bytes

    @property
    def kiosk_id(self) -> str:
        return self.facts.kiosk_id

    @property
    def txn_id(self) -> str:
        return self.facts.txn_id

    @property
    def receipt_no(self) -> str:
        return self.facts.receipt_no

    @property
    def amount_minor(self) -> int:
        return self.facts.amount_minor


def parse(text: str) -> Parsed:
    """A receipt's QR text (the whole URL, or just what follows ``r=``); ValueError if it is
    not one."""
    text = text.strip()
    if "?" in text or text.startswith(("http://", "https://")):
        values = parse_qs(urlsplit(text).query).get("r")
        if not values or len(values) != 1:
            raise ValueError("not a receipt URL: it has no single r= parameter")
        text = values[0]
    parts = text.split(":")
    if len(parts) != 6:
        raise ValueError("a receipt's text has 6 fields separated by ':'")
    *fields, sig_text = parts
    if not all(_FIELD.fullmatch(f) for f in fields):
        raise ValueError("a receipt field holds characters receipts never carry")
    receipt_no, txn_id, masked, amount, paid = fields
    if not re.fullmatch(r"[1-9][0-9]{0,11}", amount):
        raise ValueError("the amount is not a whole number of fen")
    if receipt_no.count("-") < 2:
        raise ValueError("the receipt number does not name its kiosk")
    try:
        signature = base64.b32decode(sig_text + "=" * (-len(sig_text) % 8))
        paid_at = int(paid, 36)
    except ValueError:
        raise ValueError("the signature or time is not encoded as receipts encode them") from None
    if len(signature) != 64:
        raise ValueError("an Ed25519 signature is 64 bytes")
    return Parsed(ReceiptFacts(receipt_no, txn_id, masked, int(amount), paid_at), signature)


def verify(parsed: Parsed, public: Ed25519PublicKey | str) -> bool:
    """Whether the kiosk whose public key this is signed these facts."""
    key = public_from_b64(public) if isinstance(public, str) else public
    try:
        key.verify(parsed.signature, parsed.facts.message())
    except InvalidSignature:
        return False
    return True


def qr_version(text: str) -> int:
    """The QR version ``text`` needs at ECC level M (the ``qrcode`` package's fitting)."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M)
    qr.add_data(text)
    qr.make(fit=True)
    return int(qr.version)


def _base36(n: int) -> str:
    if n <= 0:
        return "0"
    out = ""
    while n:
        n, d = divmod(n, 36)
        out = _B36[d] + out
    return out
