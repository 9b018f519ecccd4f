"""Beyond paying, from the account screen: payment and usage history, service requests (fault,
outage, complaint, suggestion) and the SMS e-bill / reminder sign-up. Pure, like the session
reducer it is called from (kiosk/flow/session.py); one decision per screen, so every errand is
a short list of steps and the screen shows the current one.

A request is queued in the outbox like a payment (docs/architecture.md, "The offline queue"): the
shell makes its id and a local reference at once (``RequestQueued``) and, once the utility has
recorded it, passes on the utility's reference (``RequestDelivered``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from kiosk.flow import commands as c
from kiosk.flow import events as e

#: the errands the services menu offers, in the order it shows them
ERRANDS = ("history", "fault", "outage", "complaint", "suggestion", "ebill")
#: docs/billing-api.yaml ServiceRequestBody: each kind's categories
CATEGORIES: dict[str, tuple[str, ...]] = {
    "fault": ("no_power", "flicker", "meter", "wire_damage"),
    "outage": ("building", "street", "area"),
    "complaint": ("billing", "staff", "waiting", "meter_reading"),
    "suggestion": ("terminal", "hours", "payment_ways", "notices"),
}
#: the preset reasons a complaint or suggestion may tick (no free typing)
REASONS: dict[str, tuple[str, ...]] = {
    "complaint": ("repeated", "urgent", "elderly_at_home", "call_before_visit"),
    "suggestion": ("repeated", "elderly_at_home"),
}
MAX_REASONS = 3
#: what the e-bill sign-up may cover: (sms_bill, reminder)
EBILL_CHOICES: dict[str, tuple[bool, bool]] = {
    "both": (True, True), "bills": (True, False), "reminders": (False, True)}
#: the steps of each errand after the menu
STEPS: dict[str, tuple[str, ...]] = {
    "history": ("history",),
    "fault": ("category", "phone", "confirm", "done"),
    "outage": ("category", "phone", "confirm", "done"),
    "complaint": ("category", "reasons", "confirm", "done"),
    "suggestion": ("category", "reasons", "confirm", "done"),
    "ebill": ("ebill_what", "phone", "confirm", "done"),
}
#: mainland mobile numbers: 11 digits, 1 then 3-9 (docs/billing-api.yaml Phone)
PHONE = re.compile(r"1[3-9][0-9]{9}")


def phone_ok(text: str) -> bool:
    return bool(PHONE.fullmatch(text))


def mask_phone(phone: str) -> str:
    """``13812341234`` → ``138****1234``: what a slip or a log may show."""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


@dataclass(frozen=True)
class Month:
    period: str  # YYYY-MM
    kwh: int
    billed_minor: int
    paid_minor: int
    channel: str


@dataclass(frozen=True)
class PastPayment:
    paid_at: str
    amount_minor: int
    channel: str


@dataclass(frozen=True)
class History:
    account_no: str
    months: tuple[Month, ...]
    payments: tuple[PastPayment, ...]
    as_of: str
    from_cache: bool = False


@dataclass(frozen=True)
class Errand:
    kind: str
    step: str
    category: str = ""
    reasons: tuple[str, ...] = ()
    phone: str = ""
    ebill_what: str = ""
    request_id: str = ""
    local_ref: str = ""
    utility_ref: str = ""
    history: History | None = None
    history_failed: str = ""  # why there is no history to show (offline, never fetched)
    printed: bool | None = None  # the slip: None not asked, True out, False failed


def start(kind: str) -> Errand:
    return Errand(kind=kind, step=STEPS[kind][0])


def _next(errand: Errand) -> Errand:
    steps = STEPS[errand.kind]
    i = steps.index(errand.step)
    return replace(errand, step=steps[min(i + 1, len(steps) - 1)])


def back(errand: Errand) -> Errand | None:
    """The step before, or None: back to the services menu."""
    steps = STEPS[errand.kind]
    i = steps.index(errand.step)
    if i == 0 or errand.step == "done":
        return None
    return replace(errand, step=steps[i - 1])


def choose(errand: Errand, code: str) -> tuple[Errand, str]:
    """An option touched on a choice screen: (errand, message code)."""
    if errand.step == "category" and code in CATEGORIES.get(errand.kind, ()):
        return _next(replace(errand, category=code)), ""
    if errand.step == "ebill_what" and code in EBILL_CHOICES:
        return _next(replace(errand, ebill_what=code)), ""
    if errand.step == "reasons" and code in REASONS.get(errand.kind, ()):
        if code in errand.reasons:
            return replace(errand, reasons=tuple(r for r in errand.reasons if r != code)), ""
        if len(errand.reasons) >= MAX_REASONS:
            return errand, "too_many_reasons"
        return replace(errand, reasons=errand.reasons + (code,)), ""
    return errand, ""


def phone_entered(errand: Errand, text: str) -> tuple[Errand, str]:
    digits = "".join(ch for ch in text if ch.isdigit())
    if errand.step != "phone":
        return errand, ""
    if not phone_ok(digits):
        return replace(errand, phone=""), "phone_invalid"
    return _next(replace(errand, phone=digits)), ""


def proceed(errand: Errand) -> tuple[Errand, bool]:
    """Continue on this step: (errand, whether to queue the request now)."""
    if errand.step == "reasons":
        return _next(errand), False
    if errand.step == "confirm" and not errand.request_id:
        return errand, True
    return errand, False


def queued(errand: Errand, request_id: str, local_ref: str) -> Errand:
    return replace(errand, step="done", request_id=request_id, local_ref=local_ref)


def delivered(errand: Errand, request_id: str, reference_no: str) -> Errand:
    if request_id != errand.request_id:
        return errand
    return replace(errand, utility_ref=reference_no)


def body_fields(errand: Errand) -> dict[str, object]:
    """What the request says (the shell adds the ids, the kiosk and the time)."""
    if errand.kind == "ebill":
        sms_bill, reminder = EBILL_CHOICES[errand.ebill_what or "both"]
        return {"phone": errand.phone, "sms_bill": sms_bill, "reminder": reminder}
    out: dict[str, object] = {"kind": errand.kind, "category": errand.category,
                              "reasons": list(errand.reasons)}
    if errand.phone:
        out["callback_phone"] = errand.phone
    return out


# ---- the reducer's part (called from kiosk/flow/session.py for its two phases)
#: where the session goes: stay, the services menu, an errand's step, the account screen, the end
STAY, MENU, ERRAND, ACCOUNT, END = "", "services", "errand", "account", "end"


def step(errand: Errand | None, ev: e.Event, session_id: str,
         account_no: str) -> tuple[str, Errand | None, str, list[c.Command]]:
    """(where to, errand, message code, commands) for one event on the menu or an errand."""
    if isinstance(ev, e.CancelPressed):
        return END, None, "", []
    if errand is None:  # the menu
        if isinstance(ev, e.ErrandChosen) and ev.kind in ERRANDS:
            new = start(ev.kind)
            cmds: list[c.Command] = []
            if ev.kind == "history":
                cmds.append(c.FetchHistory(session_id, account_no))
            return ERRAND, new, "", cmds
        if isinstance(ev, e.BackPressed):
            return ACCOUNT, None, "", []
        return STAY, None, "", []
    if isinstance(ev, e.BackPressed):
        before = back(errand)
        return (MENU, None, "", []) if before is None else (ERRAND, before, "", [])
    if isinstance(ev, e.OptionChosen):
        new, why = choose(errand, ev.code)
        return ERRAND, new, why, []
    if isinstance(ev, e.PhoneEntered):
        new, why = phone_entered(errand, ev.text)
        return ERRAND, new, why, []
    if isinstance(ev, e.ContinuePressed):
        if errand.step in ("done", "history"):
            return MENU, None, "", []
        new, send = proceed(errand)
        if send:
            fields = tuple(sorted(body_fields(errand).items()))
            return ERRAND, new, "", [c.QueueRequest(session_id, errand.kind, account_no, fields)]
        return ERRAND, new, "", []
    if isinstance(ev, e.PrintPressed) and (errand.step == "done" or errand.history is not None):
        return ERRAND, replace(errand, printed=None), "", [c.PrintSlip(session_id)]
    if isinstance(ev, e.HistoryFetched) and errand.kind == "history":
        return ERRAND, replace(errand, history=ev.history, history_failed=ev.reason), "", []
    if isinstance(ev, e.RequestQueued):
        return ERRAND, queued(errand, ev.request_id, ev.local_ref), "", []
    if isinstance(ev, e.RequestDelivered):
        return ERRAND, delivered(errand, ev.request_id, ev.reference_no), "", []
    if isinstance(ev, e.SlipPrinted):
        return ERRAND, replace(errand, printed=ev.ok), "", []
    return STAY, errand, "", []
