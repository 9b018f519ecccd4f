"""Routing and request handling of the billing API without sockets: (method, path, body) → Response.

Mirrors docs/billing-api.yaml. Validation lives in kiosk.demo.validate, storage and idempotency in
kiosk.demo.ledger; this module maps their refusals to the contract's status codes.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import parse_qs

from kiosk.demo import validate as v
from kiosk.demo.faults import FaultSwitch, fault_from_json
from kiosk.demo.ledger import Ledger, LedgerError, Outcome, to_json_bytes, utc_now_iso

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


class BillingApi:
    """Request → Response, no sockets: routing, validation, idempotency through the ledger."""

    def __init__(self, ledger: Ledger, faults: FaultSwitch,
                 now: Callable[[], datetime] | None = None) -> None:
        self.ledger, self.faults = ledger, faults
        # The clock kiosk timestamps are judged by (created_at must be plausible).
        self.now = now or (lambda: datetime.now(timezone.utc))
        seg = r"([^/]+)"
        self.routes: list[Route] = [
            ("GET", re.compile(rf"/v1/accounts/{seg}"), "/v1/accounts/{account_no}", self.account),
            ("GET", re.compile(rf"/v1/cards/{seg}"), "/v1/cards/{card_uid}", self.card),
            ("POST", re.compile(r"/v1/payments"), "/v1/payments", self.payment),
            ("GET", re.compile(rf"/v1/kiosks/{seg}/settlement"),
             "/v1/kiosks/{kiosk_id}/settlement", self.settlement),
            ("POST", re.compile(rf"/v1/kiosks/{seg}/heartbeat"),
             "/v1/kiosks/{kiosk_id}/heartbeat", self.heartbeat),
            ("POST", re.compile(rf"/v1/kiosks/{seg}/collections"),
             "/v1/kiosks/{kiosk_id}/collections", self.collection),
            ("GET", re.compile(r"/v1/notices"), "/v1/notices", self.notices),
            ("POST", re.compile(r"/v1/feedback"), "/v1/feedback", self.feedback),
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
        if template.startswith("/_admin") and client_host not in ("127.0.0.1", "::1"):
            return error(403, "forbidden", "admin endpoints answer loopback only"), template
        req = Request(args, parse_qs(query, keep_blank_values=True), headers, raw)
        try:
            return fn(req), template
        except v.BadRequest as exc:
            return error(exc.status, exc.code, exc.message), template
        except LedgerError as exc:
            status = 409 if exc.code == "idempotency_conflict" else 422
            return error(status, exc.code, str(exc)), template

    # ---- public contract -------------------------------------------------------------------

    def account(self, req: Request) -> Response:
        account_no = v.account_no(req.args[0])
        row = self.ledger.account(account_no)
        if row is None:
            return error(404, "unknown_account", "no account with this number")
        return json_response(200, {**row, "currency": "CNY", "as_of": utc_now_iso()})

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

    def settlement(self, req: Request) -> Response:
        kiosk_id = req.kiosk_id()
        day = v.parse_date(req.one("date"))
        rows = self.ledger.settlement(kiosk_id, day)
        return json_response(200, {
            "kiosk_id": kiosk_id, "date": day, "count": len(rows),
            "total_minor": sum(r["amount_minor"] for r in rows),
            "payment_ids": [r["payment_id"] for r in rows], "payments": rows,
        })

    def heartbeat(self, req: Request) -> Response:
        body = v.heartbeat(v.parse_json(req.raw), req.kiosk_id())
        now = utc_now_iso()
        self.ledger.store_heartbeat(body["kiosk_id"], body, now)
        return json_response(200, {"ok": True, "server_time": now})

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
