"""Routing and request handling of the billing API without sockets: (method, path, body) → Response.

Mirrors docs/billing-api.yaml. Validation lives in billing_server.contract, storage and
idempotency in billing_server.ledger, request signatures in billing_server.auth, signed receipts in
billing_server.receipts; this module maps their refusals to the contract's status codes.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import parse_qs

from billing_server import auth, prepaid, receipts, resident
from billing_server import contract as v
from billing_server.audit_anchor import answer as anchor_answer
from billing_server.faults import FaultSwitch, fault_from_json
from billing_server.ledger import Ledger, LedgerError, Outcome, to_json_bytes, utc_now_iso

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, obj: Any) -> Response:
    return Response(status, to_json_bytes(obj))


def error(status: int, code: str, message: str) -> Response:
    return json_response(status, {"error": code, "message": message})


def outcome_response(out: Outcome) -> Response:
    return Response(out.status, out.body, {"Idempotent-Replayed": "true"} if out.replayed else {})


Route = tuple[str, re.Pattern[str], str, Callable[..., Response]]

#: answered without a kiosk signature: a liveness probe, enrolment itself (it carries the
#: token), a resident's phone opening a receipt's QR, and the loopback-only test endpoints
UNSIGNED = frozenset({"/v1/health", "/v1/kiosks/{kiosk_id}/enrol", "/v1/receipts/verify"})
LOOKUPS = frozenset({"/v1/accounts/{account_no}", "/v1/cards/{card_uid}",
                     "/v1/accounts/{account_no}/history"})
LOOKUPS_PER_MINUTE = 120


def settlement_body(kiosk_id: str, day: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The settlement answer, from the server or straight from a ledger file."""
    return {
        "kiosk_id": kiosk_id, "date": day, "count": len(rows),
        "total_minor": sum(r["amount_minor"] for r in rows),
        "payment_ids": [r["payment_id"] for r in rows], "payments": rows,
    }


class BillingApi:
    """Request → Response, no sockets: routing, validation, idempotency through the ledger."""

    def __init__(self, ledger: Ledger, faults: FaultSwitch,
                 now: Callable[[], datetime] | None = None, enrol_token: str = "",
                 lookups_per_minute: int = LOOKUPS_PER_MINUTE, admin: bool = False) -> None:
        self.ledger, self.faults = ledger, faults
        # Test-only endpoints answer only when asked for at start (``--admin``): behind a local
        # reverse proxy every request comes from 127.0.0.1 (docs/security.md, The test server).
        self.admin = admin
        # The clock kiosk timestamps are judged by (created_at must be plausible).
        self.now = now or (lambda: datetime.now(timezone.utc))
        # A signature's created is judged by the wall clock at arrival (not the injectable
        # one above, which tests move to judge old bodies).
        self.wall: Callable[[], float] = time.time
        self.enrol_token = enrol_token
        self.lookups = auth.RateLimit(lookups_per_minute)
        seg = r"([^/]+)"
        self.routes: list[Route] = [
            ("GET", re.compile(rf"/v1/accounts/{seg}"), "/v1/accounts/{account_no}", self.account),
            ("GET", re.compile(rf"/v1/accounts/{seg}/history"), "/v1/accounts/{account_no}/history",
             self.history),
            ("POST", re.compile(rf"/v1/accounts/{seg}/e-bill"), "/v1/accounts/{account_no}/e-bill",
             self.ebill),
            ("POST", re.compile(r"/v1/service-requests"), "/v1/service-requests",
             self.service_request),
            ("GET", re.compile(rf"/v1/cards/{seg}"), "/v1/cards/{card_uid}", self.card),
            ("POST", re.compile(r"/v1/payments"), "/v1/payments", self.payment),
            ("POST", re.compile(r"/v1/prepaid/tokens"), "/v1/prepaid/tokens", self.prepaid_token),
            ("GET", re.compile(rf"/v1/kiosks/{seg}/settlement"),
             "/v1/kiosks/{kiosk_id}/settlement", self.settlement),
            ("POST", re.compile(rf"/v1/kiosks/{seg}/heartbeat"),
             "/v1/kiosks/{kiosk_id}/heartbeat", self.heartbeat),
            ("GET", re.compile(rf"/v1/kiosks/{seg}/audit"), "/v1/kiosks/{kiosk_id}/audit",
             self.audit),
            ("POST", re.compile(rf"/v1/kiosks/{seg}/collections"),
             "/v1/kiosks/{kiosk_id}/collections", self.collection),
            ("GET", re.compile(r"/v1/notices"), "/v1/notices", self.notices),
            ("POST", re.compile(r"/v1/feedback"), "/v1/feedback", self.feedback),
            ("POST", re.compile(rf"/v1/kiosks/{seg}/enrol"), "/v1/kiosks/{kiosk_id}/enrol",
             self.enrol),
            ("GET", re.compile(r"/v1/receipts/verify"), "/v1/receipts/verify",
             self.verify_receipt),
            ("GET", re.compile(r"/v1/health"), "/v1/health", self.health),
            ("POST", re.compile(r"/_admin/fault"), "/_admin/fault", self.admin_set_fault),
            ("GET", re.compile(r"/_admin/fault"), "/_admin/fault", self.admin_get_fault),
            ("GET", re.compile(r"/_admin/ledger"), "/_admin/ledger", self.admin_ledger),
        ]

    def route(self, method: str, path: str) -> tuple[Callable[..., Response] | None, str, tuple]:
        """(handler, template, path args); (None, allowed methods, ()) when nothing matches."""
        allowed = []
        for m, pattern, template, fn in self.routes:
            match = pattern.fullmatch(path)
            if match:
                if m == method:
                    return fn, template, match.groups()
                allowed.append(m)
        return None, ", ".join(allowed), ()

    def handle(self, method: str, path: str, query: str, headers: Any, raw: bytes,
               client_host: str) -> tuple[Response, str]:
        """The response and the route template (for logs: the raw path holds account ids)."""
        fn, template, args = self.route(method, path)
        if fn is None:
            if template:
                resp = error(405, "method_not_allowed", f"{method} is not allowed here")
                return Response(405, resp.body, {"Allow": template}), "405"
            return error(404, "not_found", "no such resource"), "404"
        if template.startswith("/_admin") and not self.admin:
            return error(403, "forbidden", "admin endpoints are off: start the server with "
                         "--admin (tests and demos only)"), template
        if template.startswith("/_admin") and client_host not in ("127.0.0.1", "::1"):
            return error(403, "forbidden", "admin endpoints answer loopback only"), template
        req = Request(args, parse_qs(query, keep_blank_values=True), headers, raw)
        if not template.startswith("/_admin") and template not in UNSIGNED:
            target = path + ("?" + query if query else "")
            try:
                req.kiosk = self._signed_by(method, target, template, args, headers, raw)
            except auth.AuthError as exc:
                resp = error(exc.status, exc.code, exc.message)
                if exc.status == 429:
                    resp = Response(429, resp.body, {"Retry-After": exc.retry_after})
                return resp, template
        try:
            return fn(req), template
        except v.BadRequest as exc:
            return error(exc.status, exc.code, exc.message), template
        except LedgerError as exc:
            status = 409 if exc.code == "idempotency_conflict" else 422
            return error(status, exc.code, str(exc)), template

    def _signed_by(self, method: str, target: str, template: str, args: tuple, headers: Any,
                   raw: bytes) -> str:
        """The kiosk that signed, once it may do this: its own path and body, its lookup quota."""
        kiosk = auth.signer(method, target, headers, raw, self.ledger.kiosk_key, self.wall())
        if template.startswith("/v1/kiosks/") and args and args[0] != kiosk:
            raise auth.AuthError(403, "wrong_kiosk", "a kiosk may only act on its own resources")
        named = auth.body_kiosk(raw) if raw else None
        # A malformed kiosk_id is the validator's 400; a well-formed other one is not ours.
        if isinstance(named, str) and v.KIOSK_ID.fullmatch(named) and named != kiosk:
            raise auth.AuthError(403, "wrong_kiosk", "the body names another kiosk than the signer")
        if template in LOOKUPS:
            wait = self.lookups.check(kiosk)
            if wait:
                err = auth.AuthError(429, "rate_limited", "too many lookups from this kiosk")
                err.retry_after = str(wait)  # type: ignore[attr-defined]
                raise err
        return kiosk

    # ---- public contract -------------------------------------------------------------------

    def account(self, req: Request) -> Response:
        account_no = v.account_no(req.args[0])
        row = self.ledger.account(account_no)
        if row is None:
            return error(404, "unknown_account", "no account with this number")
        return json_response(200, {**row, "prepaid": bool(row["prepaid"]), "currency": "CNY",
                                   "as_of": utc_now_iso()})

    def history(self, req: Request) -> Response:
        body = resident.history(self.ledger, v.account_no(req.args[0]))
        if body is None:
            return error(404, "unknown_account", "no account with this number")
        return json_response(200, body)

    def service_request(self, req: Request) -> Response:
        key = req.idempotency_key()
        body = resident.parse_service_request(v.parse_json(req.raw), self.now())
        req.key_must_equal(key, body["request_id"], "request_id")
        return outcome_response(resident.record_service_request(self.ledger, body))

    def ebill(self, req: Request) -> Response:
        key = req.idempotency_key()
        account_no = v.account_no(req.args[0])
        body = resident.parse_ebill(v.parse_json(req.raw), account_no, self.now())
        req.key_must_equal(key, body["request_id"], "request_id")
        return outcome_response(resident.record_ebill(self.ledger, body))

    def card(self, req: Request) -> Response:
        row = self.ledger.card(v.card_uid(req.args[0]))
        if row is None:
            return error(404, "unknown_card", "this card belongs to no account")
        return json_response(200, row)

    def payment(self, req: Request) -> Response:
        key = req.idempotency_key()
        body = v.payment(v.parse_json(req.raw), self.now())
        req.key_must_equal(key, body["txn_id"], "txn_id")
        return outcome_response(self.ledger.record_payment(body, v.request_hash(body)))

    def prepaid_token(self, req: Request) -> Response:
        key = req.idempotency_key()
        body = prepaid.parse_request(v.parse_json(req.raw))
        req.key_must_equal(key, body["txn_id"], "txn_id")
        try:
            return outcome_response(prepaid.issue(self.ledger, body))
        except prepaid.PaymentNotRecorded as exc:  # not yet delivered: ask again after it is
            return error(409, exc.code, str(exc))

    def settlement(self, req: Request) -> Response:
        kiosk_id = req.kiosk_id()
        day = v.parse_date(req.one("date"))
        return json_response(200, settlement_body(kiosk_id, day, self.ledger.settlement(kiosk_id, day)))

    def heartbeat(self, req: Request) -> Response:
        body = v.heartbeat(v.parse_json(req.raw), req.kiosk_id())
        now = utc_now_iso()
        self.ledger.store_heartbeat(body["kiosk_id"], body, now)
        out: dict[str, Any] = {"ok": True, "server_time": now}
        if "audit_seq" in body and "audit_head" in body:  # judged against the last one seen
            verdict = self.ledger.audit_heartbeat(body["kiosk_id"], body["audit_seq"],
                                                  body["audit_head"], body.get("audit_prev"), now)
            out["audit"] = anchor_answer(verdict.anchor, verdict.status, verdict.reason)
        return json_response(200, out)

    def audit(self, req: Request) -> Response:
        kiosk_id = req.kiosk_id()
        return json_response(200, {"kiosk_id": kiosk_id}
                             | anchor_answer(self.ledger.audit_anchor(kiosk_id)))

    def collection(self, req: Request) -> Response:
        key = req.idempotency_key()
        body = v.collection(v.parse_json(req.raw), req.kiosk_id(), self.now())
        req.key_must_equal(key, body["batch_id"], "batch_id")
        return outcome_response(self.ledger.record_collection(body, v.request_hash(body)))

    def notices(self, req: Request) -> Response:
        lang = req.one("lang")
        if lang is None:
            lang = "zh"  # docs/billing-api.yaml: the default when the parameter is absent
        if lang not in ("zh", "en"):
            raise v.BadRequest("invalid_request", "lang must be zh or en")
        return json_response(200, {"notices": self.ledger.notices(lang, utc_now_iso())})

    def feedback(self, req: Request) -> Response:
        key = req.idempotency_key()
        body = v.feedback(v.parse_json(req.raw), self.now())
        req.key_must_equal(key, body["feedback_id"], "feedback_id")
        return outcome_response(self.ledger.record_feedback(body, v.request_hash(body)))

    def enrol(self, req: Request) -> Response:
        kiosk_id = req.kiosk_id()
        body = v.parse_json(req.raw)
        if not isinstance(body, dict) or set(body) != {"public_key", "token"}:
            raise v.BadRequest("invalid_request", "body must be {public_key, token}")
        key, token = body["public_key"], body["token"]
        if not isinstance(key, str) or not isinstance(token, str):
            raise v.BadRequest("invalid_request", "public_key and token are strings")
        try:
            if len(base64.b64decode(key, validate=True)) != 32:
                raise ValueError
        except (ValueError, binascii.Error):
            raise v.BadRequest("invalid_request",
                               "public_key must be base64 of a raw 32-byte Ed25519 key") from None
        if not self.enrol_token or not hmac.compare_digest(token.encode(),
                                                           self.enrol_token.encode()):
            return error(403, "enrolment_refused", "wrong enrolment token")
        status, answer = self.ledger.enrol(kiosk_id, key)
        if status == 409:
            return error(409, "already_enrolled", "this kiosk id is enrolled with another key")
        return json_response(status, answer)

    def verify_receipt(self, req: Request) -> Response:
        text = req.one("r")
        if not text:
            raise v.BadRequest("invalid_request", "r (the receipt's signed text) is required")
        try:
            receipt = receipts.parse(text)
        except ValueError as exc:
            raise v.BadRequest("invalid_request", str(exc)) from None
        key = self.ledger.kiosk_key(receipt.kiosk_id)
        valid = key is not None and receipts.signed_by(receipt, key)
        found = self.ledger.payment_by_txn(receipt.txn_id) if valid else None
        recorded = (found is not None and found["kiosk_id"] == receipt.kiosk_id
                    and found["amount_minor"] == receipt.amount_minor)
        return json_response(200, {
            "valid_signature": valid, "recorded": recorded, "kiosk_id": receipt.kiosk_id,
            "receipt_no": receipt.receipt_no, "amount_minor": receipt.amount_minor,
            "payment_id": found["payment_id"] if recorded else None,
            "accepted_at": found["accepted_at"] if recorded else None,
        })

    def health(self, req: Request) -> Response:
        return json_response(200, {"ok": True, "server_time": utc_now_iso()})

    # ---- admin (tests and demo) ------------------------------------------------------------

    def admin_set_fault(self, req: Request) -> Response:
        try:
            fault = fault_from_json(v.parse_json(req.raw))
        except ValueError as exc:
            raise v.BadRequest("invalid_request", str(exc)) from None
        self.faults.set(fault)
        log.warning("fault set: %s", fault)
        return json_response(200, {"ok": True, "fault": self.faults.current()})

    def admin_get_fault(self, req: Request) -> Response:
        return json_response(200, {"ok": True, "fault": self.faults.current()})

    def admin_ledger(self, req: Request) -> Response:
        return json_response(200, self.ledger.dump())


@dataclass
class Request:
    args: tuple
    query: dict[str, list[str]]
    headers: Any
    raw: bytes
    kiosk: str | None = None  # the enrolled kiosk that signed it

    def one(self, name: str) -> str | None:
        values = self.query.get(name)
        if values and len(values) > 1:
            raise v.BadRequest("invalid_request", f"{name} is given more than once")
        return values[0] if values else None

    def kiosk_id(self) -> str:
        if not v.KIOSK_ID.fullmatch(self.args[0]):
            raise v.BadRequest("invalid_request", "kiosk id in the path is malformed")
        return self.args[0]

    def idempotency_key(self) -> str:
        key = self.headers.get("Idempotency-Key")
        if not key:
            raise v.BadRequest("missing_idempotency_key", "the Idempotency-Key header is required")
        return key

    @staticmethod
    def key_must_equal(key: str, value: str, name: str) -> None:
        if key != value:
            raise v.BadRequest("idempotency_key_mismatch", f"Idempotency-Key must equal {name}")
