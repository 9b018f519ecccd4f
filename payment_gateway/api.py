"""docs/payment-gateway.yaml over the store: enrolment, charge, query, reverse, settlement.

Every operation but enrolment is signed by an enrolled kiosk (RFC 9421, offline_queue.signing),
and a kiosk sees only its own orders. A charge is idempotent by order id: the same request again
answers the order's state now (``Idempotent-Replayed: true``); another amount, merchant or code
under the same id is a conflict, never a second charge.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from offline_queue import signing
from payment_gateway.faults import FaultSwitch
from payment_gateway.store import Order, Store, code_digest

ORDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MERCHANT_ID = re.compile(r"[A-Z0-9][A-Z0-9-]{2,31}")
KIOSK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{2,31}")
#: wallet payment codes are 16 to 24 digits (the provider's prefix first)
AUTH_CODE = re.compile(r"[0-9]{16,24}")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_AMOUNT_MINOR = 100_000_000
MAX_SKEW_S = 300


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    #: the connection is closed without this answer (the ``timeout`` fault)
    unanswered: bool = False


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _json(status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(obj, separators=(",", ":")).encode(), headers or {})


def error(status: int, code: str, message: str) -> Response:
    return _json(status, {"error": code, "message": message})


def _object(raw: bytes, required: set[str], optional: set[str] = frozenset()) -> dict[str, Any]:
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "invalid_request", "the body is not JSON") from None
    if not isinstance(obj, dict):
        raise Refused(400, "invalid_request", "the body must be a JSON object")
    missing = sorted(required - obj.keys())
    if missing:
        raise Refused(400, "invalid_request", f"{missing[0]} is required")
    extra = sorted(obj.keys() - required - optional)
    if extra:
        raise Refused(400, "invalid_request", f"{extra[0]} is not a field of this request")
    return obj


def _text(obj: Mapping[str, Any], key: str, pattern: re.Pattern[str]) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise Refused(400, "invalid_request", f"{key} is malformed")
    return value


def _amount(obj: Mapping[str, Any]) -> int:
    value = obj.get("amount_minor")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_AMOUNT_MINOR:
        raise Refused(400, "invalid_request",
                      f"amount_minor must be a whole number of fen, 1 to {MAX_AMOUNT_MINOR}")
    return value


def order_body(order: Order) -> dict[str, Any]:
    """What every answer about an order says: its id and amount echoed, its state."""
    body: dict[str, Any] = {"order_id": order.order_id, "merchant_id": order.merchant_id,
                            "amount_minor": order.amount_minor, "currency": order.currency,
                            "status": order.status}
    if order.transaction_id:
        body["transaction_id"] = order.transaction_id
    if order.reason:
        body["reason"] = order.reason
    return body


class GatewayApi:
    def __init__(self, store: Store, faults: FaultSwitch, enrol_token: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.faults, self.enrol_token, self.clock = store, faults, enrol_token, clock

    def handle(self, method: str, path: str, query: str, headers: Mapping[str, str],
               raw: bytes) -> Response:
        try:
            return self._route(method, path, query, headers, raw)
        except _MethodNotAllowed as exc:
            resp = error(405, exc.code, exc.message)
            return Response(405, resp.body, {"Allow": exc.allowed})
        except Refused as exc:
            return error(exc.status, exc.code, exc.message)

    def _route(self, method: str, path: str, query: str, headers: Mapping[str, str],
               raw: bytes) -> Response:
        parts = path.strip("/").split("/")
        target = path + (f"?{query}" if query else "")
        if len(parts) == 4 and parts[:2] == ["v1", "kiosks"] and parts[3] == "enrol":
            self._allow(method, "POST")
            return self._enrol(parts[2], raw)
        if parts == ["v1", "charges"]:
            self._allow(method, "POST")
            return self._charge(self._signer(method, target, headers, raw), raw)
        if len(parts) == 3 and parts[:2] == ["v1", "charges"]:
            self._allow(method, "GET")
            return self._query(self._signer(method, target, headers, raw), parts[2], query)
        if len(parts) == 4 and parts[:2] == ["v1", "charges"] and parts[3] == "reverse":
            self._allow(method, "POST")
            return self._reverse(self._signer(method, target, headers, raw), parts[2], raw)
        if parts == ["v1", "settlements"]:
            self._allow(method, "GET")
            self._signer(method, target, headers, raw)
            return self._settlement(query)
        return error(404, "not_found", "no such resource")

    @staticmethod
    def _allow(method: str, allowed: str) -> None:
        if method != allowed:
            raise _MethodNotAllowed(allowed)

    def _signer(self, method: str, target: str, headers: Mapping[str, str], raw: bytes) -> str:
        try:
            return signing.request_signer(method, target, headers, raw, self.store.public_key,
                                          self.clock(), MAX_SKEW_S)
        except signing.RequestRefused as exc:
            raise Refused(exc.status, exc.code, exc.message) from None

    def _enrol(self, kiosk_id: str, raw: bytes) -> Response:
        if not KIOSK_ID.fullmatch(kiosk_id):
            raise Refused(400, "invalid_request", "kiosk_id is malformed")
        req = _object(raw, {"public_key", "token"})
        key = req["public_key"]
        try:
            signing.public_from_b64(key if isinstance(key, str) else "")
        except (ValueError, TypeError):
            raise Refused(400, "invalid_request", "public_key is not an Ed25519 key") from None
        if not isinstance(req["token"], str) or req["token"] != self.enrol_token:
            raise Refused(403, "bad_token", "this enrolment token is not valid")
        if not self.store.enrol(kiosk_id, key):
            raise Refused(409, "already_enrolled", "this kiosk enrolled another key")
        return _json(201, {"kiosk_id": kiosk_id, "public_key": key})

    def _charge(self, kiosk_id: str, raw: bytes) -> Response:
        req = _object(raw, {"merchant_id", "kiosk_id", "order_id", "amount_minor", "currency",
                            "auth_code"})
        _text(req, "merchant_id", MERCHANT_ID)
        _text(req, "order_id", ORDER_ID)
        _text(req, "auth_code", AUTH_CODE)
        _amount(req)
        if req["currency"] != "CNY":
            raise Refused(400, "invalid_request", "currency must be CNY")
        if req["kiosk_id"] != kiosk_id:
            raise Refused(403, "wrong_kiosk", "kiosk_id is not the kiosk that signed")
        fault = self.faults.take()
        if fault.mode == "500":
            return error(500, "internal", "injected fault: nothing was recorded")
        answer = self._apply_charge(req, fault.mode, fault.polls)
        if fault.mode == "duplicate":  # the same request delivered again: must be a replay
            answer = self._apply_charge(req, fault.mode, fault.polls)
        if fault.mode == "timeout":
            return Response(answer.status, answer.body, answer.headers, unanswered=True)
        return answer

    def _apply_charge(self, req: dict[str, Any], mode: str, polls: int) -> Response:
        with self.store.transaction() as db:
            order = self.store.order(db, req["order_id"])
            if order is not None:
                # an order closed before any charge arrived has no code to compare
                code_seen = order.reason != "reversed_before_charge"
                if (order.merchant_id, order.kiosk_id, order.amount_minor) != (
                        req["merchant_id"], req["kiosk_id"], req["amount_minor"]) or (
                        code_seen and order.code_digest != code_digest(req["auth_code"])):
                    raise Refused(409, "order_conflict",
                                  "this order id was used for another charge")
                body = order_body(order)
                if order.status == "reversed":  # closed before this charge arrived
                    body.update(status="failed", reason="order_closed")
                    body.pop("transaction_id", None)
                return _json(200, body, {"Idempotent-Replayed": "true"})
            if mode == "decline":
                order = self.store.insert(db, req, "failed", "declined")
            elif mode == "user_paying":
                order = self.store.insert(db, req, "user_paying", polls=polls)
            else:
                order = self.store.insert(db, req, "paid")
        return _json(200, order_body(order))

    def _owned(self, db: Any, kiosk_id: str, order_id: str) -> Order | None:
        if not ORDER_ID.fullmatch(order_id):
            raise Refused(400, "invalid_request", "order_id is malformed")
        order = self.store.order(db, order_id)
        return order if order is not None and order.kiosk_id == kiosk_id else None

    def _query(self, kiosk_id: str, order_id: str, query: str) -> Response:
        if query:
            raise Refused(400, "invalid_request", "this request takes no query")
        with self.store.transaction() as db:
            order = self._owned(db, kiosk_id, order_id)
            if order is None:
                return error(404, "order_not_found", "no charge with this order id")
            if order.status == "user_paying":
                order = self.store.polled(db, order)
        return _json(200, order_body(order))

    def _reverse(self, kiosk_id: str, order_id: str, raw: bytes) -> Response:
        req = _object(raw, {"merchant_id", "kiosk_id", "order_id", "amount_minor"})
        _text(req, "merchant_id", MERCHANT_ID)
        amount = _amount(req)
        if req["kiosk_id"] != kiosk_id:
            raise Refused(403, "wrong_kiosk", "kiosk_id is not the kiosk that signed")
        if req["order_id"] != order_id:
            raise Refused(400, "invalid_request", "order_id differs from the path")
        with self.store.transaction() as db:
            order = self._owned(db, kiosk_id, order_id)
            if order is None and self.store.order(db, order_id) is not None:
                return error(404, "order_not_found", "no charge with this order id")
            if order is None:
                # Never seen: closed now, so a charge still on its way is refused, not taken.
                order = self.store.insert(db, {**req, "currency": "CNY", "auth_code": ""},
                                          "reversed", "reversed_before_charge")
            elif order.amount_minor != amount or order.merchant_id != req["merchant_id"]:
                raise Refused(409, "order_conflict", "amount or merchant differs from the charge")
            else:
                order = self.store.reverse(db, order)
        return _json(200, order_body(order))

    def _settlement(self, query: str) -> Response:
        params = dict(p.partition("=")[::2] for p in query.split("&") if p)
        if set(params) != {"merchant_id", "date"}:
            raise Refused(400, "invalid_request", "settlement takes merchant_id and date")
        merchant, day = params["merchant_id"], params["date"]
        if not MERCHANT_ID.fullmatch(merchant) or not DATE.fullmatch(day):
            raise Refused(400, "invalid_request", "merchant_id or date is malformed")
        count, total = self.store.settlement(merchant, day)
        return _json(200, settlement_body(merchant, day, count, total))


def settlement_body(merchant: str, day: str, count: int, total: int) -> dict[str, Any]:
    return {"merchant_id": merchant, "date": day, "count": count, "total_minor": total}


class _MethodNotAllowed(Refused):
    def __init__(self, allowed: str) -> None:
        super().__init__(405, "method_not_allowed", f"use {allowed}")
        self.allowed = allowed
