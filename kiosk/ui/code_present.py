"""What the code tender's screens say (kiosk/flow/code_tender.py): pure, like kiosk/ui/present.py
which calls ``fill``. Every outcome in plain words, and always whether money was taken."""

from __future__ import annotations

from typing import Any, Callable

from kiosk.flow.money import format_minor
from kiosk.flow.session import Phase, Session
from kiosk.ui.catalog import N_

Gettext = Callable[[str], str]

CODE_PHASES = {Phase.CODE_SCAN: "scan", Phase.CODE_WAIT: "wait", Phase.CODE_FAILED: "failed"}

#: the session's reason codes of the code tender (the amount screen shows the first two)
MESSAGES = {
    "code_offline": N_("Paying by phone needs the network, which is down just now. "
                       "Please pay with cash."),
    "code_unavailable": N_("Paying by phone is not available at this terminal."),
    "code_unreadable": N_("That was not a payment code. Open the payment code (付款码) in your "
                          "wallet app and hold it under the scanner."),
    "code_confirm_on_phone": N_("Please confirm the payment on your phone."),
    "code_checking": N_("Checking with the payment company…"),
    "code_undoing": N_("We could not confirm the payment, so it is being cancelled."),
    "code_failed:declined": N_("Your wallet declined the payment. No money was taken."),
    "code_failed": N_("The payment did not go through. No money was taken."),
    "code_not_charged": N_("The payment did not go through. No money was taken."),
    "code_reversed": N_("The payment was cancelled. No money was taken; anything taken is "
                        "returned to your wallet."),
    "code_cancelled": N_("You cancelled the payment. No money was taken."),
    "code_timed_out": N_("The payment was not confirmed in time and has been cancelled. "
                         "No money was taken."),
    "code_unresolved": N_("We could not confirm whether the payment went through. If money "
                          "was taken, it is returned to your wallet automatically. "
                          "Reference: {order}."),
}


def message(code: str) -> str | None:
    """The words for a code-tender reason code (``code_failed:<why>`` falls back to its kind)."""
    return MESSAGES.get(code) or (MESSAGES["code_failed"] if code.startswith("code_failed:")
                                  else None)


def fill(d: Any, s: Session, _: Gettext) -> None:
    """The amount screen's offer, and the code screen's text in each of its modes."""
    d.code_offered = s.code_enabled and not s.offline
    if s.code_enabled and s.offline:  # short: it is the disabled offer's own label
        d.code_why_not = _("Pay with phone: needs the network")
    mode = CODE_PHASES.get(s.phase)
    if mode is None or s.code is None:
        return
    code = s.code
    d.code_mode = mode
    d.code_amount_text = format_minor(code.amount_minor)
    d.message, d.message_error = "", False  # the code screen says it in its own words
    words = message(s.message)
    d.code_text = _(words).format(order=code.order_id) if words else ""
    if mode == "scan":
        d.code_title = _("Scan the payment code on your phone")
        d.code_text = d.code_text or _("Open your wallet app, show the payment code (付款码) and "
                                       "hold the phone under the scanner.")
    elif mode == "wait":
        d.code_title = _("Paying {amount}…").format(amount=d.code_amount_text)
        d.code_text = d.code_text or _("Taking the payment. Please wait.")
        if code.step == "confirming":
            d.code_countdown_text = _("{seconds} s left to confirm.").format(seconds=code.left_s)
    else:
        d.code_title = _("The phone payment did not go through")
        d.code_can_retry = code.message != "code_unresolved"
