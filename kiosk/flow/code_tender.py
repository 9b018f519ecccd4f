"""The code tender: paying with the payment code (付款码) the resident's wallet app shows, charged
through the payment gateway (docs/payment-gateway.yaml). Pure, like the rest of the flow: the
session (kiosk/flow/session.py) keeps a ``CodeState`` and maps its step to a phase.

    scan ──PaymentCodeScanned──► charging ──paid──────────────► paid (commit, like cash)
                                    │ user_paying ─► confirming (polled, countdown) ─► paid
                                    │ failed ──────► failed (told why; retry or cash)
                                    └ unknown ─────► querying ─unknown─► reversing ─► failed

Semantics kept (docs/payment-gateway.yaml, "What a kiosk must keep"): one order id per attempt,
so nothing is charged twice; a new attempt only once the last order is known not charged
(failed or reversed); an answer that is not trusted is ``unknown`` and leads to a query and then
a reversal, never to an assumption either way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from kiosk.flow import commands as c
from kiosk.flow import events as e

CODE_TIMER = "code"
#: seconds between queries while the resident confirms on the phone
POLL_S = 2
#: how long the resident has to confirm on the phone before the charge is cancelled
CONFIRM_S = 60
#: reversal attempts before the order is left to the next start-up's resolution
REVERSE_TRIES = 3
#: wallet payment codes are 16 to 24 digits (the provider's prefix first)
PAYMENT_CODE = re.compile(r"[0-9]{16,24}")

#: steps that wait for the gateway (the session's phase is CODE_WAIT)
WAITING = frozenset({"charging", "confirming", "querying", "reversing"})


@dataclass(frozen=True)
class CodeState:
    amount_minor: int
    account_no: str
    step: str = "scan"  # scan | charging | confirming | querying | reversing | failed | paid
    attempt: int = 0
    order_id: str = ""
    left_s: int = 0  # the countdown shown while the resident confirms
    tries: int = 0  # reversal attempts of this order
    message: str = ""  # a reason code for the screen
    gateway_ref: str = ""


Result = tuple[CodeState, list[c.Command]]


def refusal(enabled: bool, offline: bool) -> str | None:
    """Why the code tender is not offered now (the screen says which)."""
    if not enabled:
        return "code_unavailable"
    if offline:
        return "code_offline"
    return None


def start(amount_minor: int, account_no: str, last: CodeState | None = None) -> CodeState:
    """The scan screen; a retry keeps counting attempts (a fresh order id each)."""
    return CodeState(amount_minor, account_no, attempt=last.attempt if last else 0)


def may_retry(code: CodeState | None) -> bool:
    """A new attempt only when the last order is known not charged."""
    return code is not None and code.step == "failed" and code.message != "code_unresolved"


def order_id(session_id: str, attempt: int) -> str:
    return f"{session_id}.C{attempt}"


def advance(code: CodeState, ev: e.Event, session_id: str) -> Result:
    if code.step == "scan":
        return _scan(code, ev, session_id)
    if isinstance(ev, e.CodeGatewayAnswered):
        if ev.order_id != code.order_id or code.step not in WAITING:
            return code, []  # an answer about an earlier order, or one already settled
        return _answered(code, ev, session_id)
    if isinstance(ev, e.TimerExpired) and ev.name == CODE_TIMER:
        return _tick(code, session_id)
    if isinstance(ev, e.CancelPressed) and code.step == "confirming":
        return _reverse(replace(code, message="code_cancelled"), session_id)
    return code, []


def _scan(code: CodeState, ev: e.Event, session_id: str) -> Result:
    if isinstance(ev, e.UnreadableScan):
        return replace(code, message="code_unreadable"), []
    if not isinstance(ev, e.PaymentCodeScanned):
        return code, []
    if not PAYMENT_CODE.fullmatch(ev.code):
        return replace(code, message="code_unreadable"), []
    attempt = code.attempt + 1
    oid = order_id(session_id, attempt)
    code = replace(code, step="charging", attempt=attempt, order_id=oid, message="", tries=0)
    return code, [c.ChargeCode(session_id, oid, code.account_no, code.amount_minor, ev.code)]


def _answered(code: CodeState, ev: e.CodeGatewayAnswered, session_id: str) -> Result:
    if code.step == "reversing" and ev.step not in ("reverse", ""):
        return code, []  # a late word about the charge: the reversal's own answer decides
    if ev.status == "paid" and ev.gateway_ref and code.step != "reversing":
        code = replace(code, step="paid", gateway_ref=ev.gateway_ref, message="")
        return code, [c.CancelTimer(CODE_TIMER),
                      c.CommitCodePayment(session_id, code.order_id, code.account_no,
                                          code.amount_minor)]
    if ev.status == "user_paying" and code.step in ("charging", "confirming", "querying"):
        left = CONFIRM_S if code.step == "charging" else code.left_s
        return replace(code, step="confirming", left_s=left, message="code_confirm_on_phone"), [
            c.StartTimer(CODE_TIMER, POLL_S)]
    if ev.status in ("failed", "not_found", "reversed"):
        # Known not charged: the resident may try again (a new order) or pay cash.
        why = {"failed": f"code_failed:{ev.reason or 'declined'}", "not_found": "code_not_charged",
               "reversed": code.message if code.message == "code_cancelled" else "code_reversed"}
        return replace(code, step="failed", message=why[ev.status]), [c.CancelTimer(CODE_TIMER)]
    # unknown (no answer, an answer that does not check, user_paying while reversing)
    if code.step in ("charging", "confirming"):
        return replace(code, step="querying", message="code_checking"), [
            c.QueryCode(session_id, code.order_id, code.amount_minor)]
    if code.step == "querying":
        return _reverse(replace(code, message="code_undoing"), session_id)
    if code.tries < REVERSE_TRIES:
        return code, [c.StartTimer(CODE_TIMER, POLL_S)]
    # The gateway cannot be reached to undo it: the order stays open and the next start-up
    # resolves it (docs/payment-gateway.yaml); the resident is told so, plainly.
    return replace(code, step="failed", message="code_unresolved"), [c.CancelTimer(CODE_TIMER)]


def _tick(code: CodeState, session_id: str) -> Result:
    if code.step == "confirming":
        left = code.left_s - POLL_S
        if left <= 0:
            return _reverse(replace(code, left_s=0, message="code_timed_out"), session_id)
        return replace(code, left_s=left), [c.QueryCode(session_id, code.order_id,
                                                        code.amount_minor)]
    if code.step == "reversing":
        return _reverse(code, session_id)
    return code, []


def _reverse(code: CodeState, session_id: str) -> Result:
    code = replace(code, step="reversing", tries=code.tries + 1)
    return code, [c.CancelTimer(CODE_TIMER),
                  c.ReverseCode(session_id, code.order_id, code.amount_minor)]
