"""Request checks of the reference billing server, mirroring the schemas in docs/billing-api.yaml.

Hand-written (no jsonschema at run time). Every refusal is a ``BadRequest`` carrying the
contract's error code. Money fields must be JSON integers: floats, bools and strings are refused.
The account number format (docs/billing-api.yaml AccountNo) is checked here too.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any


KIOSK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")  # txn_id, batch_id, feedback_id
#: the payment gateway's transaction reference of a payment by code (docs/payment-gateway.yaml)
GATEWAY_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
DENOMINATION = re.compile(r"[1-9][0-9]{0,8}")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")
# EM4100 cards report 5 bytes; MIFARE Classic cards (the prepaid ones) 4 or 7
CARD_UID = re.compile(r"[0-9A-Fa-f]{10}|[0-9A-Fa-f]{8}|[0-9A-Fa-f]{14}")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ACCOUNT_LENGTH = 10
MAX_AMOUNT_MINOR = 10_000_000  # ¥100,000: far above any kiosk's cap, far below overflow
MAX_COUNT = 100_000
# The denominations in circulation, in fen (docs/billing-api.yaml NoteCounts, CoinCounts): a
# "250 fen note" is not money, whatever the arithmetic says.
NOTE_DENOMINATIONS = frozenset({100, 500, 1000, 2000, 5000, 10000})
COIN_DENOMINATIONS = frozenset({10, 50, 100})
# A kiosk-made timestamp is plausible between MAX_AGE ago (a payment queued offline, or a dead
# letter staff re-sent after fixing the account) and MAX_SKEW ahead of the server's clock.
MAX_AGE = timedelta(days=400)
MAX_SKEW = timedelta(minutes=10)


class BadRequest(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate key in JSON object")
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, no duplicate keys (they make the hash ambiguous)."""
    try:
        return json.loads(
            raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadRequest("invalid_json", f"request body is not valid JSON: {exc}") from None


def request_hash(obj: Any) -> str:
    """SHA-256 of the canonical form (sorted keys, no whitespace, UTF-8) of the parsed body."""
    canon = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def _invalid(message: str) -> BadRequest:
    return BadRequest("invalid_request", message)


def _object(obj: Any, required: set[str], optional: set[str] = frozenset()) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise _invalid("request body must be a JSON object")
    missing = required - obj.keys()
    if missing:
        raise _invalid(f"missing fields: {', '.join(sorted(missing))}")
    unknown = obj.keys() - required - optional
    if unknown:
        raise _invalid(f"unknown fields: {', '.join(sorted(unknown))}")
    return obj


def is_int(value: Any) -> bool:
    # bool is an int subclass: True fen is a bug, not money.
    return isinstance(value, int) and not isinstance(value, bool)


def _int(obj: dict[str, Any], name: str, lo: int, hi: int) -> int:
    value = obj[name]
    if not is_int(value):
        raise _invalid(f"{name} must be an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise _invalid(f"{name} must be between {lo} and {hi}")
    return value


def _str(obj: dict[str, Any], name: str, pattern: re.Pattern[str] | None = None,
         max_len: int = 200) -> str:
    value = obj[name]
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string")
    if pattern is not None and not pattern.fullmatch(value):
        raise _invalid(f"{name} is malformed")
    if len(value) > max_len:
        raise _invalid(f"{name} is longer than {max_len} characters")
    return value


def _timestamp(obj: dict[str, Any], name: str, now: datetime | None = None) -> str:
    value = _str(obj, name)
    if not TIMESTAMP.fullmatch(value):
        raise _invalid(f"{name} must be ISO-8601 with seconds and a UTC offset")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise _invalid(f"{name} is not a real date and time") from None
    now = now or datetime.now(timezone.utc)
    if when > now + MAX_SKEW:
        raise _invalid(f"{name} is in the future (more than {MAX_SKEW} ahead of the server)")
    if when < now - MAX_AGE:
        raise _invalid(f"{name} is more than {MAX_AGE.days} days old")
    return value


def _counts(obj: dict[str, Any], name: str, allowed: frozenset[int]) -> int:
    """A {"<denomination minor>": count} map of real denominations; its value in minor units."""
    value = obj[name]
    if not isinstance(value, dict):
        raise _invalid(f"{name} must be an object of denomination → count")
    total = 0
    for denom, count in value.items():
        if not DENOMINATION.fullmatch(denom):
            raise _invalid(f"{name}: {denom!r} is not a denomination in minor units")
        if int(denom) not in allowed:
            raise _invalid(f"{name}: {denom} fen is not one of {sorted(allowed)}")
        if not is_int(count) or not 0 <= count <= MAX_COUNT:
            raise _invalid(f"{name}[{denom}] must be an integer count >= 0")
        total += int(denom) * count
    return total


def parse_date(text: str | None) -> str:
    if text is None or not DATE.fullmatch(text):
        raise _invalid("date must be given as YYYY-MM-DD")
    try:
        date.fromisoformat(text)
    except ValueError:
        raise _invalid("date is not a real calendar date") from None
    return text


# The server's own reading of the account number, not the kiosk's: a real utility implements
# the contract itself and shares no code with the terminal.
def luhn_digit(payload: str) -> int:
    """The check digit over ``payload``: the digit next to it is doubled, then every other."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def make_account_number(nine_digits: str) -> str:
    """Nine digits and their check digit: how the seeded accounts are numbered."""
    if len(nine_digits) != ACCOUNT_LENGTH - 1 or not nine_digits.isdigit():
        raise ValueError("need nine digits")
    return nine_digits + str(luhn_digit(nine_digits))


def mask_account(account_no: str) -> str:
    """For logs: only the last four digits."""
    keep = account_no[-4:] if len(account_no) > 4 else ""
    return "*" * (len(account_no) - len(keep)) + keep


def account_no(text: str) -> str:
    """The account number without spaces or dashes, or BadRequest ``malformed_account``."""
    digits = text.strip().replace(" ", "").replace("-", "")
    if not digits:
        why = "no account number entered"
    elif not digits.isascii() or not digits.isdigit():
        why = "an account number has digits only"
    elif len(digits) != ACCOUNT_LENGTH:
        why = f"an account number has {ACCOUNT_LENGTH} digits, got {len(digits)}"
    elif luhn_digit(digits[:-1]) != int(digits[-1]):
        why = "the account number's check digit is wrong"
    else:
        return digits
    raise BadRequest("malformed_account", why)


def card_uid(text: str) -> str:
    if not CARD_UID.fullmatch(text):
        raise BadRequest("malformed_card", "a card id is 8, 10 or 14 hexadecimal characters")
    return text.upper()


def payment(obj: Any, now: datetime | None = None) -> dict[str, Any]:
    req = _object(
        obj,
        {"kiosk_id", "txn_id", "account_no", "amount_minor", "currency", "tender", "notes",
         "created_at", "offline"},
        {"coins", "readdressed_from", "gateway_ref"},
    )
    _str(req, "kiosk_id", KIOSK_ID)
    _str(req, "txn_id", KEY)
    if "readdressed_from" in req and _str(req, "readdressed_from", KEY) == req["txn_id"]:
        raise _invalid("readdressed_from names this payment itself")
    acct = _str(req, "account_no")
    # The ledger must hold exactly what the kiosk journaled: no normalising of spaces here.
    if account_no(acct) != acct:
        raise BadRequest("malformed_account", "account_no must be 10 digits, no separators")
    amount = _int(req, "amount_minor", 1, MAX_AMOUNT_MINOR)
    if req["currency"] != "CNY":
        raise _invalid("currency must be CNY")
    if req["tender"] not in ("cash", "code"):
        raise _invalid("tender must be cash or code")
    cash = _counts(req, "notes", NOTE_DENOMINATIONS)
    cash += _counts(req, "coins", COIN_DENOMINATIONS) if "coins" in req else 0
    if req["tender"] == "code":
        # Paid by the phone's payment code: no cash moved; the gateway's transaction says so.
        if "gateway_ref" not in req:
            raise _invalid("a payment by code names the gateway's transaction (gateway_ref)")
        _str(req, "gateway_ref", GATEWAY_REF)
        if cash:
            raise _invalid("a payment by code carries no notes or coins")
    elif "gateway_ref" in req:
        raise _invalid("gateway_ref belongs to a payment by code")
    elif cash != amount:
        raise _invalid(f"notes and coins add up to {cash}, amount_minor is {amount}")
    _timestamp(req, "created_at", now)
    if not isinstance(req["offline"], bool):
        raise _invalid("offline must be true or false")
    return req


def heartbeat(obj: Any, path_kiosk: str) -> dict[str, Any]:
    req = _object(
        obj,
        {"kiosk_id", "software_version", "queue_depth", "oldest_pending_age_s", "devices"},
        {"audit_head", "audit_seq", "audit_prev"},
    )
    if _str(req, "kiosk_id", KIOSK_ID) != path_kiosk:
        raise _invalid("kiosk_id in the body differs from the path")
    _str(req, "software_version", max_len=64)
    _int(req, "queue_depth", 0, 10**9)
    age = req["oldest_pending_age_s"]
    if age is not None and (not is_int(age) or not 0 <= age < 10**10):
        raise _invalid("oldest_pending_age_s must be an integer >= 0 or null")
    devices = req["devices"]
    if not isinstance(devices, dict):
        raise _invalid("devices must be an object of name → {status, reason}")
    for name, dev in devices.items():
        d = _object(dev, {"status"}, {"reason"})
        _str(d, "status", max_len=32)
        if d.get("reason") is not None:
            _str(d, "reason", max_len=500)
        if len(name) > 64:
            raise _invalid("device names are at most 64 characters")
    if "audit_head" in req:
        _str(req, "audit_head", max_len=128)
    if "audit_seq" in req:  # judged only with audit_head (docs/billing-api.yaml: Heartbeat)
        _int(req, "audit_seq", 0, 2**53)
    if "audit_prev" in req:
        if not isinstance(req["audit_prev"], dict):
            raise _invalid("audit_prev must be an object {seq, hash}")
        prev = _object(req["audit_prev"], {"seq", "hash"}, set())
        _int(prev, "seq", 0, 2**53)
        _str(prev, "hash", max_len=128)
    return req


def collection(obj: Any, path_kiosk: str, now: datetime | None = None) -> dict[str, Any]:
    req = _object(
        obj,
        {"kiosk_id", "batch_id", "opened_at", "closed_at", "expected", "counted",
         "variance_minor", "created_at"},
    )
    if _str(req, "kiosk_id", KIOSK_ID) != path_kiosk:
        raise _invalid("kiosk_id in the body differs from the path")
    _str(req, "batch_id", KEY)
    for name in ("opened_at", "closed_at", "created_at"):
        _timestamp(req, name, now)
    cash = NOTE_DENOMINATIONS | COIN_DENOMINATIONS
    expected, counted = _counts(req, "expected", cash), _counts(req, "counted", cash)
    variance = _int(req, "variance_minor", -10**12, 10**12)
    if variance != counted - expected:
        raise _invalid(f"variance_minor must be counted - expected = {counted - expected}")
    return req


def feedback(obj: Any, now: datetime | None = None) -> dict[str, Any]:
    req = _object(obj, {"kiosk_id", "feedback_id", "rating", "created_at"}, {"comment", "txn_id"})
    _str(req, "kiosk_id", KIOSK_ID)
    _str(req, "feedback_id", KEY)
    _int(req, "rating", 1, 5)
    _timestamp(req, "created_at", now)
    if "comment" in req:
        _str(req, "comment", max_len=500)
    if "txn_id" in req:
        _str(req, "txn_id", KEY)
    return req
