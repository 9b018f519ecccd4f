"""The server's side of a signed receipt (docs/billing-api.yaml verifyReceipt): read the text a
receipt's QR carries and check the kiosk's Ed25519 signature over it.

The text is ``RECEIPT:TXN:MASKED:AMOUNT:TIME:SIG`` (what follows ``?r=`` in the QR's URL, or the
whole URL): the receipt number (``<kiosk id>-<YYYYMMDD>-<NNNNN>``), the transaction id, the
masked account, the amount in integer fen, the payment time in base-36 Unix seconds and the
64-byte signature in unpadded base32. The signed message is the domain, the kiosk id and the
five fields, one a line.
"""

# Written apart from the kiosk's signer on purpose: a real utility implements the contract
# itself and shares no code with the terminal.

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from cryptography.exceptions import InvalidSignature

from offline_queue.signing import public_from_b64

DOMAIN = b"EPAY-RECEIPT-1"  # a receipt signature can never pass for a request signature
_FIELD = re.compile(r"[0-9A-Z*.-]{1,64}")
_AMOUNT = re.compile(r"[1-9][0-9]{0,11}")
_B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class Receipt:
    receipt_no: str
    txn_id: str
    account_masked: str
    amount_minor: int
    paid_at: int  # Unix seconds
    signature: bytes

    @property
    def kiosk_id(self) -> str:
        return self.receipt_no.rsplit("-", 2)[0]

    def message(self) -> bytes:
        fields = (self.receipt_no, self.txn_id, self.account_masked, str(self.amount_minor),
                  _base36(self.paid_at))
        return b"\n".join([DOMAIN, self.kiosk_id.encode(), *(f.encode() for f in fields)])


def parse(text: str) -> Receipt:
    """The receipt in a QR's text; ValueError (a reason for the resident) if it is none."""
    text = text.strip()
    if "?" in text or text.startswith(("http://", "https://")):
        values = parse_qs(urlsplit(text).query).get("r")
        if not values or len(values) != 1:
            raise ValueError("not a receipt URL: it has no single r= parameter")
        text = values[0]
    parts = text.split(":")
    if len(parts) != 6:
        raise ValueError("a receipt's text has 6 fields separated by ':'")
    receipt_no, txn_id, masked, amount, paid, sig_text = parts
    if not all(_FIELD.fullmatch(f) for f in parts[:5]):
        raise ValueError("a receipt field holds characters receipts never carry")
    if not _AMOUNT.fullmatch(amount):
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
    return Receipt(receipt_no, txn_id, masked, int(amount), paid_at, signature)


def signed_by(receipt: Receipt, public_b64: str) -> bool:
    """Whether the kiosk enrolled with this public key (base64, raw Ed25519) signed it."""
    try:
        public_from_b64(public_b64).verify(receipt.signature, receipt.message())
    except InvalidSignature:
        return False
    return True


def _base36(n: int) -> str:
    digits = ""
    while n > 0:
        n, d = divmod(n, 36)
        digits = _B36[d] + digits
    return digits or "0"
