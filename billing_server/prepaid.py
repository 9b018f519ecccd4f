"""Prepaid electricity: the utility turns a recorded payment of a prepaid account into a purchase
token for the resident's card (docs/prepaid.md; docs/billing-api.yaml, postPrepaidToken).

The utility MACs the token with the meter key, which only it and the meters hold: the meter
must trust the utility, not the kiosk that carried the bytes (docs/prepaid.md, "Who MACs").
A token is issued once per payment and kept: asking again for the same payment returns the
same bytes, so a kiosk that lost the answer can never mint a second purchase.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import sqlite3
import struct
from typing import Any

from billing_server import contract as v
from billing_server.ledger import Ledger, LedgerError, Outcome

#: units on the card are 0.01 kWh; the demo tariff is 0.53 CNY (53 fen) a kWh
TARIFF_FEN_PER_KWH = 53
CENTI = 100
#: the demo meter key (key id 1). A real utility keeps it in its key store; the kiosk never
#: sees it, which is the point.
DEMO_METER_KEY_ID = 1
DEMO_METER_KEY = bytes.fromhex("6b696f736b2d64656d6f2d6d657465722d6b65792d3031")
MAC_BYTES = 8
MIFARE_UID = re.compile(r"[0-9A-Fa-f]{8}|[0-9A-Fa-f]{14}")


class NotPrepaid(LedgerError):
    code = "not_prepaid"


class WrongCard(LedgerError):
    code = "wrong_card"


class PaymentNotRecorded(LedgerError):
    """The payment has not been delivered yet: the kiosk asks again after it is (409)."""

    code = "payment_not_recorded"


def units_for(amount_minor: int) -> int:
    """0.01 kWh bought for ``amount_minor`` fen at the tariff, rounded down (integers only)."""
    return amount_minor * CENTI // TARIFF_FEN_PER_KWH


def mac(key: bytes, card_uid: str, sequence: int, purchase_no: int, units: int,
        cumulative: int, key_id: int) -> bytes:
    """HMAC-SHA256 over the card's UID and the record's fields, first 8 bytes (the card record
    has room for 8: kiosk/flow/prepaid_card.py)."""
    msg = b"PPv1" + bytes.fromhex(card_uid) + struct.pack(
        ">IIIIB", sequence, purchase_no, units, cumulative, key_id)
    return hmac.new(key, msg, hashlib.sha256).digest()[:MAC_BYTES]


def parse_request(obj: Any) -> dict[str, Any]:
    """docs/billing-api.yaml PrepaidTokenRequest."""
    req = v._object(obj, {"kiosk_id", "txn_id", "card_uid"})
    v._str(req, "kiosk_id", v.KIOSK_ID)
    v._str(req, "txn_id", v.KEY)
    if not isinstance(req["card_uid"], str) or not MIFARE_UID.fullmatch(req["card_uid"]):
        raise v.BadRequest("malformed_card", "a prepaid card id is 8 or 14 hexadecimal characters")
    return {**req, "card_uid": req["card_uid"].upper()}


def issue(ledger: Ledger, req: dict[str, Any], meter_key: bytes = DEMO_METER_KEY,
          key_id: int = DEMO_METER_KEY_ID) -> Outcome:
    """One token per payment (idempotent on txn_id, whichever kiosk asks)."""

    def apply(c: sqlite3.Connection, now: str) -> tuple[int, dict[str, Any]]:
        pay = c.execute(
            "SELECT p.account_no, p.amount_minor, a.prepaid FROM payments p JOIN accounts a "
            "USING (account_no) WHERE p.txn_id = ? AND p.kiosk_id = ?",
            (req["txn_id"], req["kiosk_id"])).fetchone()
        if pay is None:
            raise PaymentNotRecorded("no payment with this txn_id from this kiosk (yet)")
        if not pay["prepaid"]:
            raise NotPrepaid("the payment's account has no prepaid meter")
        card = c.execute("SELECT account_no, sequence, cumulative FROM prepaid_cards "
                         "WHERE card_uid = ?", (req["card_uid"],)).fetchone()
        if card is None or card["account_no"] != pay["account_no"]:
            raise WrongCard("this card is not the account's prepaid card")
        units = units_for(pay["amount_minor"])
        sequence, cumulative = card["sequence"] + 1, card["cumulative"] + units
        purchase_no = c.execute(
            "SELECT COALESCE(MAX(purchase_no), 0) + 1 FROM prepaid_tokens").fetchone()[0]
        c.execute("INSERT INTO prepaid_tokens VALUES (?,?,?,?,?,?,?,?)",
                  (purchase_no, req["txn_id"], req["kiosk_id"], req["card_uid"], sequence,
                   units, cumulative, now))
        c.execute("UPDATE prepaid_cards SET sequence = ?, cumulative = ? WHERE card_uid = ?",
                  (sequence, cumulative, req["card_uid"]))
        tag = mac(meter_key, req["card_uid"], sequence, purchase_no, units, cumulative, key_id)
        return 201, {
            "purchase_id": f"PP-{purchase_no:08d}", "purchase_no": purchase_no,
            "txn_id": req["txn_id"], "kiosk_id": req["kiosk_id"],
            "account_no": pay["account_no"], "card_uid": req["card_uid"],
            "amount_minor": pay["amount_minor"], "units_centi_kwh": units,
            "cumulative_centi_kwh": cumulative, "sequence": sequence, "key_id": key_id,
            "mac": tag.hex().upper(), "issued_at": now,
        }

    return ledger.idempotent("prepaid_token", req["kiosk_id"], req["txn_id"],
                             v.request_hash(req), apply)
