"""What a 2xx must say before an outbox row counts as delivered, one check per kind of row.

A status code proves nothing by itself (a proxy, a captive portal or a misrouted request can
answer 200). An answer counts only when it is the JSON object docs/billing-api.yaml documents
for that operation and echoes the ids (and, for money, the amount) of the very body we sent.
Each check returns ``None`` when the answer is proof, else a short reason (the row is retried).
"""

from __future__ import annotations

import json
from typing import Any, Callable

Check = Callable[[dict[str, Any], dict[str, Any]], "str | None"]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _nonempty_str(answer: dict[str, Any], name: str) -> str | None:
    value = answer.get(name)
    if not isinstance(value, str) or not value:
        return f"answer has no {name}"
    return None


def _echoes(sent: dict[str, Any], answer: dict[str, Any], *names: str) -> str | None:
    for name in names:
        if name not in answer:
            return f"answer does not echo {name}"
        mine, theirs = sent.get(name), answer[name]
        # bool is an int subclass and 1.0 == 1 in Python: compare JSON types as well as values.
        if type(mine) is not type(theirs) or mine != theirs:
            return f"answer echoes {name}={theirs!r}, we sent {mine!r}"
    return None


def check_payment(sent: dict[str, Any], answer: dict[str, Any]) -> str | None:
    """docs/billing-api.yaml Payment: payment_id, and our kiosk, txn, account and amount."""
    if not _is_int(answer.get("amount_minor")):
        return "answer amount_minor is not integer minor units"
    return (_nonempty_str(answer, "payment_id")
            or _echoes(sent, answer, "kiosk_id", "txn_id", "account_no", "amount_minor"))


def check_feedback(sent: dict[str, Any], answer: dict[str, Any]) -> str | None:
    """docs/billing-api.yaml Feedback: our feedback_id and when it was accepted."""
    return _echoes(sent, answer, "feedback_id") or _nonempty_str(answer, "accepted_at")


def check_collection(sent: dict[str, Any], answer: dict[str, Any]) -> str | None:
    """docs/billing-api.yaml Collection: a collection_id and our batch_id."""
    return _nonempty_str(answer, "collection_id") or _echoes(sent, answer, "batch_id")


def check_heartbeat(sent: dict[str, Any], answer: dict[str, Any]) -> str | None:
    """docs/billing-api.yaml ServerTime: ok is true, with the server's time."""
    if answer.get("ok") is not True:
        return "answer is not ok: true"
    return _nonempty_str(answer, "server_time")


def check_service_request(sent: dict[str, Any], answer: dict[str, Any]) -> str | None:
    """docs/billing-api.yaml ServiceRequest: our request_id and kind, the utility's reference."""
    return _echoes(sent, answer, "request_id", "kind") or _nonempty_str(answer, "reference_no")


def check_ebill(sent: dict[str, Any], answer: dict[str, Any]) -> str | None:
    """docs/billing-api.yaml EBill: our request_id and account, the utility's reference."""
    return (_echoes(sent, answer, "request_id", "account_no", "sms_bill", "reminder")
            or _nonempty_str(answer, "reference_no"))


def check_history(body: dict[str, Any], account_no: str) -> str | None:
    """docs/billing-api.yaml History: about this account; kWh and money integers, never floats."""
    if body.get("account_no") != account_no:
        return "history answer is about another account"
    months, payments = body.get("months"), body.get("payments")
    if not isinstance(months, list) or not isinstance(payments, list):
        return "history answer without months or payments"
    for row in months:
        if not isinstance(row, dict) or not isinstance(row.get("period"), str) \
                or not isinstance(row.get("channel"), str):
            return "history month malformed"
        for name in ("kwh", "billed_minor", "paid_minor"):
            if not _is_int(row.get(name)):
                return f"history {name} is not an integer"
    for row in payments:
        if not isinstance(row, dict) or not _is_int(row.get("amount_minor")) \
                or not isinstance(row.get("paid_at"), str):
            return "history payment malformed"
    return None


CHECKS: dict[str, Check] = {
    "service_request": check_service_request,
    "ebill": check_ebill,
    "payment": check_payment,
    "rating": check_feedback,
    "feedback": check_feedback,
    "collection": check_collection,
    "heartbeat": check_heartbeat,
}


def unproven(kind: str, sent_body: bytes, answer_text: str) -> str | None:
    """``None`` when ``answer_text`` proves the server recorded ``sent_body``; else why not."""
    check = CHECKS.get(kind)
    if check is None:
        return f"no answer check for outbox kind {kind!r}"  # never delivered on a status alone
    try:
        answer = json.loads(answer_text)
    except ValueError as exc:
        return f"malformed answer ({exc})"
    if not isinstance(answer, dict):
        return "malformed answer (not a JSON object)"
    try:
        sent = json.loads(sent_body)
    except ValueError:
        return "stored body is not JSON"  # cannot happen for rows the journal wrote
    if not isinstance(sent, dict):
        return "stored body is not a JSON object"
    return check(sent, answer)
