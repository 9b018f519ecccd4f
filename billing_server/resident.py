"""What a resident asks of the utility besides paying (docs/billing-api.yaml getHistory,
postServiceRequest, postEBill): twelve months of usage and payments, service requests (fault,
outage, complaint, suggestion) and the SMS e-bill / reminder sign-up.

Requests are checked here the way billing_server/contract.py checks payments (strict bodies,
integers for money and kWh); storage goes through the ledger's idempotency records, so a kiosk
that retries the byte-identical body gets the same reference number back.
"""

from __future__ import annotations

import json
import re
import sqlite3
import zlib
from datetime import date, datetime, timezone
from typing import Any, Iterable

from billing_server import contract as v

#: docs/billing-api.yaml ServiceRequest: each kind's categories; a category of another kind is a 400
CATEGORIES: dict[str, tuple[str, ...]] = {
    "fault": ("no_power", "flicker", "meter", "wire_damage"),
    "outage": ("building", "street", "area"),
    "complaint": ("billing", "staff", "waiting", "meter_reading"),
    "suggestion": ("terminal", "hours", "payment_ways", "notices"),
}
#: the preset reasons a resident may tick (no free text: docs/billing-api.yaml ServiceRequest)
REASONS: tuple[str, ...] = ("since_today", "since_days", "neighbours_too", "smell_or_smoke",
                            "repeated", "urgent", "elderly_at_home", "call_before_visit")
#: a request about power at the address needs someone to call back
NEEDS_PHONE = frozenset({"fault", "outage"})
#: mainland mobile numbers: 11 digits, 1 then 3-9 (docs/billing-api.yaml Phone)
PHONE = re.compile(r"1[3-9][0-9]{9}")
CHANNELS = ("kiosk", "counter", "app", "bank", "none")
MAX_REASONS = 3
LAST_PAYMENTS = 5
#: ledger schema v7 (billing_server/ledger.py runs it): the demo accounts' twelve months, and
#: what residents asked for (docs/billing-api.yaml getHistory, postServiceRequest, postEBill)
SCHEMA_V7 = """
CREATE TABLE usage_history (account_no TEXT NOT NULL REFERENCES accounts(account_no),
    period TEXT NOT NULL, kwh INTEGER NOT NULL CHECK (kwh >= 0),
    billed_minor INTEGER NOT NULL CHECK (billed_minor >= 0),
    paid_minor INTEGER NOT NULL CHECK (paid_minor >= 0), channel TEXT NOT NULL, paid_on TEXT,
    PRIMARY KEY (account_no, period));
CREATE TABLE service_requests (seq INTEGER PRIMARY KEY, reference_no TEXT NOT NULL UNIQUE,
    kiosk_id TEXT NOT NULL, request_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
    account_no TEXT NOT NULL, body TEXT NOT NULL, received_at TEXT NOT NULL);
CREATE TABLE ebill_signups (seq INTEGER PRIMARY KEY, reference_no TEXT NOT NULL UNIQUE,
    kiosk_id TEXT NOT NULL, request_id TEXT NOT NULL UNIQUE, account_no TEXT NOT NULL,
    phone TEXT NOT NULL, sms_bill INTEGER NOT NULL, reminder INTEGER NOT NULL,
    received_at TEXT NOT NULL);
"""


# ---- history -------------------------------------------------------------------------------
def _month_back(day: date, n: int) -> str:
    index = day.year * 12 + day.month - 1 - n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def seed_history(c: sqlite3.Connection, account_nos: Iterable[str], today: date) -> None:
    """Twelve closed months per demo account, derived from its number so every run shows the
    same figures; kept when present (payments never rewrite a closed month)."""
    for account_no in account_nos:
        for n in range(1, 13):
            period = _month_back(today, n)
            pick = zlib.crc32(f"{account_no}|{period}".encode())
            kwh = 80 + pick % 320
            billed = kwh * 56  # 0.56 yuan a kWh, the first tier of docs/billing-api.yaml's demo
            channel = CHANNELS[pick // 7 % 4]  # every seeded month was paid, by one of four ways
            c.execute("INSERT OR IGNORE INTO usage_history VALUES (?,?,?,?,?,?,?)",
                      (account_no, period, kwh, billed, billed, channel, f"{period}-{10 + n:02d}"))


def history(ledger: Any, account_no: str) -> dict[str, Any] | None:
    """docs/billing-api.yaml History, newest month first; None for an unknown account."""
    if ledger.account(account_no) is None:
        return None
    months = ledger.select(
        "SELECT period, kwh, billed_minor, paid_minor, channel FROM usage_history "
        "WHERE account_no = ? ORDER BY period DESC LIMIT 12", (account_no,))
    paid = ledger.select(
        "SELECT accepted_at AS paid_at, amount_minor, 'kiosk' AS channel FROM payments "
        "WHERE account_no = ? ORDER BY seq DESC LIMIT ?", (account_no, LAST_PAYMENTS))
    for m in months:  # the seeded months' payments fill the list up to its length
        if len(paid) >= LAST_PAYMENTS:
            break
        if m["paid_minor"] > 0:
            paid.append({"paid_at": f"{m['period']}-15T10:00:00Z", "amount_minor": m["paid_minor"],
                         "channel": m["channel"]})
    now = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return {"account_no": account_no, "months": months, "payments": paid, "as_of": now}


# ---- requests ------------------------------------------------------------------------------
def _phone(req: dict[str, Any], name: str) -> str:
    value = req[name]
    if not isinstance(value, str) or not PHONE.fullmatch(value):
        raise v.BadRequest("invalid_request", f"{name} must be a mainland mobile number")
    return value


def _account(req: dict[str, Any]) -> str:
    acct = v._str(req, "account_no")
    if v.account_no(acct) != acct:
        raise v.BadRequest("malformed_account", "account_no must be 10 digits, no separators")
    return acct


def parse_service_request(obj: Any, now: datetime | None = None) -> dict[str, Any]:
    req = v._object(obj, {"kiosk_id", "request_id", "kind", "category", "account_no",
                          "reasons", "created_at"}, {"callback_phone"})
    v._str(req, "kiosk_id", v.KIOSK_ID)
    v._str(req, "request_id", v.KEY)
    kind = req["kind"]
    if not isinstance(kind, str) or kind not in CATEGORIES:
        raise v.BadRequest("invalid_request", "kind must be fault, outage, complaint or suggestion")
    if req["category"] not in CATEGORIES[kind]:
        raise v.BadRequest("invalid_request", f"category is not one of {kind}'s")
    _account(req)
    reasons = req["reasons"]
    if (not isinstance(reasons, list) or len(reasons) > MAX_REASONS
            or not all(isinstance(r, str) and r in REASONS for r in reasons)
            or len(set(reasons)) != len(reasons)):
        raise v.BadRequest("invalid_request",
                           f"reasons: at most {MAX_REASONS} preset codes, once each")
    if "callback_phone" in req:
        _phone(req, "callback_phone")
    elif kind in NEEDS_PHONE:
        raise v.BadRequest("invalid_request", f"a {kind} report needs callback_phone")
    v._timestamp(req, "created_at", now)
    return req


def parse_ebill(obj: Any, path_account: str, now: datetime | None = None) -> dict[str, Any]:
    req = v._object(obj, {"kiosk_id", "request_id", "account_no", "phone", "sms_bill",
                          "reminder", "created_at"})
    v._str(req, "kiosk_id", v.KIOSK_ID)
    v._str(req, "request_id", v.KEY)
    if _account(req) != path_account:
        raise v.BadRequest("invalid_request", "account_no must equal the path's account")
    _phone(req, "phone")
    for name in ("sms_bill", "reminder"):
        if not isinstance(req[name], bool):
            raise v.BadRequest("invalid_request", f"{name} must be true or false")
    v._timestamp(req, "created_at", now)
    return req


def _reference(prefix: str, now: str, seq: int) -> str:
    return f"{prefix}{now[:10].replace('-', '')}{seq:05d}"


def _known(ledger: Any, account_no: str, status: int) -> None:
    """Accounts are never deleted, so asking before the write's transaction is safe."""
    if ledger.account(account_no) is None:
        raise v.BadRequest("unknown_account", f"no account {v.mask_account(account_no)}", status)


def record_service_request(ledger: Any, req: dict[str, Any]) -> Any:
    _known(ledger, req["account_no"], 422)  # like a payment to an unknown account

    def apply(c: sqlite3.Connection, now: str) -> tuple[int, dict[str, Any]]:
        seq = c.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM service_requests").fetchone()[0]
        ref = _reference("SR", now, seq)
        c.execute("INSERT INTO service_requests VALUES (?,?,?,?,?,?,?,?)",
                  (seq, ref, req["kiosk_id"], req["request_id"], req["kind"], req["account_no"],
                   json.dumps(req, ensure_ascii=False), now))
        return 201, {"request_id": req["request_id"], "kind": req["kind"], "reference_no": ref,
                     "accepted_at": now}

    return ledger.idempotent("service_request", req["kiosk_id"], req["request_id"],
                             v.request_hash(req), apply)


def record_ebill(ledger: Any, req: dict[str, Any]) -> Any:
    _known(ledger, req["account_no"], 404)  # the path names the account

    def apply(c: sqlite3.Connection, now: str) -> tuple[int, dict[str, Any]]:
        seq = c.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM ebill_signups").fetchone()[0]
        ref = _reference("EB", now, seq)
        c.execute("INSERT INTO ebill_signups VALUES (?,?,?,?,?,?,?,?,?)",
                  (seq, ref, req["kiosk_id"], req["request_id"], req["account_no"], req["phone"],
                   int(req["sms_bill"]), int(req["reminder"]), now))
        return 201, {"request_id": req["request_id"], "account_no": req["account_no"],
                     "reference_no": ref, "sms_bill": req["sms_bill"],
                     "reminder": req["reminder"], "accepted_at": now}

    return ledger.idempotent("ebill", req["kiosk_id"], req["request_id"], v.request_hash(req),
                             apply)


def dump(ledger: Any) -> dict[str, Any]:
    """The admin ledger view's service requests and sign-ups (tests count them)."""
    return {
        "service_requests": [json.loads(r["body"]) | {"reference_no": r["reference_no"]}
                             for r in ledger.select("SELECT body, reference_no FROM "
                                                    "service_requests ORDER BY seq")],
        "ebill_signups": ledger.select(
            "SELECT request_id, account_no, reference_no, sms_bill, reminder FROM ebill_signups"
            " ORDER BY seq"),
    }
