"""The kiosk's client of the payment gateway (docs/payment-gateway.yaml): charge a phone payment
code, query an order, reverse it. Called on I/O threads only (kiosk/services/code_pay.py);
every request is signed as this kiosk (RFC 9421, offline_queue/signing.py) and every answer is
checked before it is believed: it must echo the order id and the amount, name a known state and,
when paid, carry the gateway's transaction id. Anything else — no answer, a 5xx, a body that
does not check — is ``unknown``: the caller queries, then reverses (never assumes either way).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import requests

from offline_queue.deadline import DeadlineSession
from offline_queue.tls import TlsTrust

log = logging.getLogger(__name__)

#: what an order can be said to be; ``unknown``: no trustworthy answer; ``not_found``: the
#: gateway never saw the order (it charged nothing)
STATES = frozenset({"paid", "failed", "user_paying", "reversed", "unknown", "not_found"})
GATEWAY_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class GatewayAnswer:
    order_id: str
    status: str
    gateway_ref: str | None = None
    reason: str = ""


class CodeGatewayClient:
    def __init__(self, base_url: str, merchant_id: str, kiosk_id: str, auth: Any = None,
                 connect_timeout: float = 3.05, read_timeout: float = 10.0,
                 tls: TlsTrust | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.merchant_id, self.kiosk_id = merchant_id, kiosk_id
        self.timeouts = (connect_timeout, read_timeout)
        self.http = DeadlineSession(connect_timeout + read_timeout, tls=tls)
        self.http.auth = auth

    def charge(self, order_id: str, amount_minor: int, auth_code: str) -> GatewayAnswer:
        body = {"merchant_id": self.merchant_id, "kiosk_id": self.kiosk_id, "order_id": order_id,
                "amount_minor": amount_minor, "currency": "CNY", "auth_code": auth_code}
        return self._ask("POST", "/v1/charges", order_id, amount_minor, body)

    def query(self, order_id: str, amount_minor: int) -> GatewayAnswer:
        return self._ask("GET", f"/v1/charges/{order_id}", order_id, amount_minor)

    def reverse(self, order_id: str, amount_minor: int) -> GatewayAnswer:
        body = {"merchant_id": self.merchant_id, "kiosk_id": self.kiosk_id, "order_id": order_id,
                "amount_minor": amount_minor}
        return self._ask("POST", f"/v1/charges/{order_id}/reverse", order_id, amount_minor, body)

    def _ask(self, method: str, path: str, order_id: str, amount_minor: int,
             body: dict[str, Any] | None = None) -> GatewayAnswer:
        data = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        try:
            resp = self.http.request(method, self.base_url + path, data=data, headers=headers,
                                     timeout=self.timeouts)
        except (requests.RequestException, OSError) as exc:
            log.warning("gateway %s %s: no answer (%s)", method, order_id, type(exc).__name__)
            return GatewayAnswer(order_id, "unknown", reason="no_answer")
        if resp.status_code == 404 and method == "GET" and _error(resp) == "order_not_found":
            return GatewayAnswer(order_id, "not_found")
        if resp.status_code != 200:
            log.warning("gateway %s %s: HTTP %s %s", method, order_id, resp.status_code,
                        _error(resp))
            return GatewayAnswer(order_id, "unknown", reason=f"http_{resp.status_code}")
        return check_answer(resp.content, order_id, amount_minor)


def check_answer(raw: bytes, order_id: str, amount_minor: int) -> GatewayAnswer:
    """An answer about ``order_id`` for ``amount_minor`` fen, believed only when it says so."""
    untrusted = GatewayAnswer(order_id, "unknown", reason="untrusted_answer")
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return untrusted
    if not isinstance(obj, dict) or obj.get("order_id") != order_id:
        return untrusted
    amount = obj.get("amount_minor")
    if type(amount) is not int or amount != amount_minor or obj.get("currency") != "CNY":
        return untrusted
    status = obj.get("status")
    if status not in ("paid", "failed", "user_paying", "reversed"):
        return untrusted
    ref = obj.get("transaction_id")
    if status == "paid" and not (isinstance(ref, str) and GATEWAY_REF.fullmatch(ref)):
        return untrusted
    reason = obj.get("reason", "")
    reason = reason[:64] if isinstance(reason, str) else ""
    return GatewayAnswer(order_id, status, ref if status == "paid" else None, reason)


def _error(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return ""
    code = body.get("error") if isinstance(body, dict) else None
    return code if isinstance(code, str) else ""
