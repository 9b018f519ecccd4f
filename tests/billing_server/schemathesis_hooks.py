"""Schemathesis hooks (``SCHEMATHESIS_HOOKS=tests.billing_server.schemathesis_hooks``) that let ``st run``
test the billing API as an enrolled kiosk would use it.

* Signing: every request of an operation that is not ``security: []`` in docs/billing-api.yaml
  is signed (RFC 9421 with RFC 9530 content-digest) by a requests auth hook, the test kiosks'
  KioskAuth: it signs the prepared request, so the signature covers exactly the path, query and
  body bytes that go on the wire. Each kiosk the request names (path or body ``kiosk_id``) gets
  a key of its own, enrolled once with the enrolment token (``BILLING_ENROL_TOKEN``, default the
  test servers' token).
* Plausible data: what the document says in prose and a schema cannot (an account's check
  digit, which accounts and cards exist (and one that does not), notes and coins adding up to the amount, kiosk timestamps within 400 days back and 10
  minutes ahead, ``Idempotency-Key`` equal to the body's id, the body's kiosk equal to the
  path's) is made true for positive-mode cases only, so that generated payments get past the
  400s and are booked: the stateful phase then follows the document's links from a booked
  payment (to its settlement, to its replay). Negative-mode cases are sent as generated.

The adjustments are idempotent (an adjusted body is left as it is), so a replay that carries a
booked payment's body and key is sent byte-identical.
"""

from __future__ import annotations

import json
import os
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any

import schemathesis
from schemathesis.core.parameters import ParameterLocation

from billing_server.resident import CATEGORIES, NEEDS_PHONE
from billing_server.seed import DEMO_ACCOUNTS, DEMO_CARDS, DEMO_PREPAID_CARDS, UNSEEDED_ACCOUNT
from tests.billing_server.conftest import TEST_TOKEN, AnyKioskAuth


class _Signer(AnyKioskAuth):
    token = os.environ.get("BILLING_ENROL_TOKEN") or TEST_TOKEN


SIGNER = _Signer()

# One kiosk-local time for every kiosk timestamp of a run: an hour ago at +08:00 (plausible,
# docs/billing-api.yaml Timestamp), and its date for settlement queries.
_CST = timezone(timedelta(hours=8))
_WHEN = (datetime.now(_CST) - timedelta(hours=1)).replace(microsecond=0)
KIOSK_TIME = _WHEN.isoformat()
KIOSK_DAY = _WHEN.date().isoformat()

_IDS = {"/v1/payments": "txn_id", "/v1/feedback": "feedback_id",
        "/v1/kiosks/{kiosk_id}/collections": "batch_id", "/v1/service-requests": "request_id",
        "/v1/accounts/{account_no}/e-bill": "request_id"}
_ACCOUNT_PATHS = ("/v1/accounts/{account_no}", "/v1/accounts/{account_no}/history",
                  "/v1/accounts/{account_no}/e-bill")
_TIMES = ("created_at", "opened_at", "closed_at")
_KNOWN = tuple(a.account_no for a in DEMO_ACCOUNTS) + (UNSEEDED_ACCOUNT,)


def _positive(case: Any, location: str) -> bool:
    """Whether this part of the case was generated valid (a case may be negative in one part,
    say a missing header, and valid in the others)."""
    meta = case.meta
    if meta is None:
        return True
    if meta.is_negative_at(ParameterLocation(location)):
        return False
    return not (meta.generation.mode.is_negative and not meta.components)


def _account(text: Any, salt: Any = "") -> Any:
    """A seeded account stays, and so does the one well-formed account the server does not know
    (its 422); any other string becomes one of them, chosen by the text and ``salt``."""
    if not isinstance(text, str) or text in _KNOWN:
        return text
    pick = zlib.crc32(f"{text}|{salt}".encode())
    return _KNOWN[pick % len(_KNOWN)]


def _value(counts: Any) -> int | None:
    if not isinstance(counts, dict):
        return None
    try:
        return sum(int(d) * n for d, n in counts.items() if isinstance(n, int))
    except ValueError:
        return None


def _plausible_body(path: str, body: dict[str, Any], path_kiosk: Any) -> None:
    generated = json.dumps(body, sort_keys=True, default=str)
    for name in _TIMES:
        if isinstance(body.get(name), str):
            body[name] = KIOSK_TIME
    if isinstance(path_kiosk, str) and "kiosk_id" in body:
        body["kiosk_id"] = path_kiosk  # docs/billing-api.yaml: must equal the path's kiosk_id
    if path == "/v1/payments":
        body["account_no"] = _account(body.get("account_no"), generated)
        if body.get("tender") == "code":  # paid by payment code: no cash, a gateway reference
            body["notes"] = {}
            body.pop("coins", None)
            body["gateway_ref"] = f"GW{zlib.crc32(generated.encode()):08X}"
            return
        body.pop("gateway_ref", None)  # cash names no gateway transaction
        notes, coins = _value(body.get("notes")), _value(body.get("coins", {}))
        if notes is not None and coins is not None and isinstance(body.get("amount_minor"), int):
            if notes + coins == 0:
                body["notes"] = {**body["notes"], "100": 1}
                notes = 100
            body["amount_minor"] = notes + coins
    elif path == "/v1/service-requests":
        _plausible_service_request(body, generated)
    elif path == "/v1/kiosks/{kiosk_id}/collections":
        counted, expected = _value(body.get("counted")), _value(body.get("expected"))
        if counted is not None and expected is not None:
            body["variance_minor"] = counted - expected


def _plausible_service_request(body: dict[str, Any], generated: str) -> None:
    """A category of the request's own kind, and a callback phone where the kind needs one
    (docs/billing-api.yaml ServiceRequestBody says so in prose)."""
    body["account_no"] = _account(body.get("account_no"), generated)
    kind = body.get("kind")
    if kind in CATEGORIES and body.get("category") not in CATEGORIES[kind]:
        body["category"] = CATEGORIES[kind][zlib.crc32(generated.encode()) % len(CATEGORIES[kind])]
    if kind in NEEDS_PHONE and "callback_phone" not in body:
        body["callback_phone"] = "13800138000"


def _own_id(body: dict[str, Any], key_field: str) -> str:
    """The body's id suffixed with a digest of the rest of the body: generated ids repeat ("0"),
    and a repeat with another body is only ever a 409; the same body keeps the same id, so
    a replay stays a replay."""
    rest = {k: v for k, v in body.items() if k != key_field}
    suffix = f".{zlib.crc32(json.dumps(rest, sort_keys=True).encode()):08x}"
    current = body[key_field]
    return current if current.endswith(suffix) else current[:128 - len(suffix)] + suffix


#: (kiosk_id, txn_id) of positive payments sent to a prepaid account, and that account's card:
#: a token request is plausible only for a payment the server may have booked
_PREPAID_PAYMENTS: list[tuple[str, str, str]] = []
_PREPAID_CARD_OF = {acct: uid for uid, acct in DEMO_PREPAID_CARDS.items()}


def _prepaid_token_body(case: Any) -> None:
    body = dict(case.body)
    if not _PREPAID_PAYMENTS:
        return
    pick = zlib.crc32(json.dumps(body, sort_keys=True, default=str).encode())
    kiosk, txn, card = _PREPAID_PAYMENTS[pick % len(_PREPAID_PAYMENTS)]
    case.body = {**body, "kiosk_id": kiosk, "txn_id": txn, "card_uid": card}
    if case.headers is not None and "Idempotency-Key" in case.headers \
            and _positive(case, "header"):
        case.headers = {**case.headers, "Idempotency-Key": txn}


def _plausible(case: Any) -> None:
    path = case.operation.path
    params = dict(case.path_parameters or {})
    if path == "/v1/prepaid/tokens" and isinstance(case.body, dict) and _positive(case, "body"):
        _prepaid_token_body(case)
        return
    if path in _ACCOUNT_PATHS and "account_no" in params and _positive(case, "path"):
        params["account_no"] = _account(params["account_no"])
        case.path_parameters = {**(case.path_parameters or {}), **params}
    if isinstance(case.body, dict) and _positive(case, "body"):
        body = dict(case.body)
        if path == "/v1/accounts/{account_no}/e-bill" and "account_no" in body \
                and _positive(case, "path"):
            body["account_no"] = params.get("account_no")  # must equal the path's
        kiosk = params.get("kiosk_id") if _positive(case, "path") else None
        _plausible_body(path, body, kiosk)
        case.body = body
        key_field = _IDS.get(path)
        if key_field and isinstance(body.get(key_field), str):
            body[key_field] = _own_id(body, key_field)
        if key_field and isinstance(body.get(key_field), str) and case.headers is not None \
                and "Idempotency-Key" in case.headers and _positive(case, "header"):
            case.headers = {**case.headers, "Idempotency-Key": body[key_field]}
        card = _PREPAID_CARD_OF.get(body.get("account_no"))  # type: ignore[arg-type]
        if path == "/v1/payments" and card and isinstance(body.get("txn_id"), str) \
                and isinstance(body.get("kiosk_id"), str):
            # a prepaid purchase is a plain payment: a generated readdressed_from would name a
            # payment that never was, and no token could follow it
            body.pop("readdressed_from", None)
            _PREPAID_PAYMENTS.append((body["kiosk_id"], body["txn_id"], card))
    if path == "/v1/cards/{card_uid}" and "card_uid" in params and _positive(case, "path") \
            and isinstance(params["card_uid"], str) and params["card_uid"] not in DEMO_CARDS:
        cards = sorted(DEMO_CARDS)
        card = cards[zlib.crc32(params["card_uid"].encode()) % len(cards)]
        case.path_parameters = {**params, "card_uid": card}
    if path == "/v1/kiosks/{kiosk_id}/settlement" and case.query and "date" in case.query \
            and _positive(case, "query"):
        case.query = {**case.query, "date": KIOSK_DAY}


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    _plausible(case)
    if case.operation.definition.raw.get("security") != []:
        kwargs["auth"] = SIGNER
