"""What the screens with steps of their own say (paying by phone, the services menu and its
errands), and the messages that have a prompt of their own (the scanner's, the code tender's,
the errands'). Pure; ``kiosk.voice.cues`` calls it.

A screen like ``code_pay`` or ``choice`` stays up while what it asks changes (scan → confirm on
the phone → failed; the menu → a category → the reasons): ``detail`` names what it shows now, and
a new detail is a new screen for the voice (the previous prompt is cut, the new one said). The
confirming countdown is not spoken: the resident hears "confirm on your phone" once, and
``say.code_hurry`` once when little time is left (docs/voice.md).
"""

from __future__ import annotations

from kiosk.flow import code_tender as ct
from kiosk.flow import scan
from kiosk.flow.session import Phase, Session
from kiosk.voice.prompts import Prompt, prompt

#: screens whose sentence also says a bill's barcode can be scanned (when a scanner is configured)
SCAN_SCREENS = ("attract", "identify")
#: the screens this module speaks for (cues.SPEAKING holds them too)
STEP_SCREENS = ("code_pay", "choice", "phone", "request_confirm", "request_done", "history")
#: seconds left to confirm on the phone when the resident is told to hurry, once
HURRY_S = 20

#: a session message → its own prompt (any other message is ``say.problem``)
MESSAGE_PROMPTS = {
    scan.NOT_A_BILL: "say.scan_not_a_bill",
    scan.BAD_BILL: "say.scan_bad_bill",
    scan.CODE_NOT_HERE: "say.scan_code_not_here",
    "code_offline": "say.code_offline",
    "code_unavailable": "say.code_unavailable",
    "code_unreadable": "say.code_unreadable",
    "code_confirm_on_phone": "say.code_confirm",
    "code_checking": "say.code_checking",
    "code_undoing": "say.code_undoing",
    "code_failed:declined": "say.code_declined",
    "code_failed": "say.code_failed",
    "code_not_charged": "say.code_failed",
    "code_reversed": "say.code_reversed",
    "code_cancelled": "say.code_cancelled",
    "code_timed_out": "say.code_timed_out",
    "code_unresolved": "say.code_unresolved",
    "phone_invalid": "say.phone_invalid",
    "too_many_reasons": "say.too_many_reasons",
}


def message_prompt(message: str) -> str | None:
    """The prompt id of a message with its own words (``code_failed:<why>`` falls back to its
    kind, as the screen does: kiosk/ui/code_present.py)."""
    if message in MESSAGE_PROMPTS:
        return MESSAGE_PROMPTS[message]
    return MESSAGE_PROMPTS["code_failed"] if message.startswith("code_failed:") else None


def _code_said(s: Session) -> str:
    """The code screen's main prompt for the tender's step now."""
    code = s.code
    if code is None or code.step == "scan":
        return "say.code_unreadable" if code is not None and code.message else "screen.code_pay"
    if code.step == "charging":
        return "say.code_read"
    if code.step == "reversing":
        return "say.code_undoing" if code.message == "code_undoing" else "say.code_cancelling"
    return message_prompt(code.message) or ("say.code_failed" if code.step == "failed"
                                            else "say.code_checking")


def sentence(s: Session, screen: str, scanner: bool = False) -> str:
    """The clip id of the screen's one instruction: said when it is shown, said again and shown
    large by the help button."""
    if scanner and screen in SCAN_SCREENS:
        return f"screen.{screen}.scan"
    if screen == "code_pay":
        return _code_said(s)
    errand = s.errand
    if screen == "choice" and s.phase == Phase.ERRAND and errand is not None:
        return f"screen.choice.{errand.kind if errand.step == 'category' else errand.step}"
    return f"screen.{screen}"


def detail(s: Session, screen: str) -> str:
    """What the screen shows now; a change is said like a new screen."""
    if screen == "code_pay" and s.code is not None:
        return f"{s.code.step}:{s.code.message}"
    if screen == "history" and s.errand is not None:
        e = s.errand
        return "shown" if e.history is not None else "failed" if e.history_failed else "looking"
    if screen in STEP_SCREENS:
        return sentence(s, screen)
    return ""


def lead(s: Session, screen: str, lang: str) -> list[Prompt]:
    """Said before a screen's own prompt: the message that brought it (a bill that is not ours
    opens the keypad), the phone payment that went through."""
    out = []
    said = message_prompt(s.message)
    if said and screen != "code_pay":
        out.append(prompt(said, lang))
    if screen == "processing" and s.code is not None and s.code.step == "paid":
        out.append(prompt("say.code_paid", lang))
    return out


def entry(s: Session, screen: str, lang: str) -> list[Prompt] | None:
    """The prompts of a step screen when shown (None: not one of them)."""
    if screen not in STEP_SCREENS:
        return None
    errand = s.errand
    if screen == "history" and errand is not None and errand.history is None:
        return [prompt("say.history_unavailable" if errand.history_failed else "say.looking_up",
                       lang)]
    out = [prompt(sentence(s, screen), lang)]
    if screen == "code_pay" and ct.may_retry(s.code):
        out.append(prompt("say.code_retry", lang))
    if screen == "request_done" and errand is not None and errand.local_ref:
        out.append(prompt("say.reference", lang, ref=errand.local_ref))
    return out


def paid_minor(s: Session) -> int:
    """What this payment took: the notes credited, or the phone payment (which credits none)."""
    if s.code is not None and s.code.step == "paid":
        return s.code.amount_minor
    return s.credited_minor


def hurry(before_left: int, s: Session, lang: str) -> list[Prompt]:
    """Once, when the time to confirm on the phone runs low (not every tick of the countdown)."""
    code = s.code
    if code is not None and code.step == "confirming" and code.left_s <= HURRY_S < before_left:
        return [prompt("say.code_hurry", lang)]
    return []


def slip(before: bool | None, s: Session, lang: str) -> list[Prompt]:
    """An errand's slip printed (take it) or not (read the screen)."""
    now = s.errand.printed if s.errand is not None else None
    if now == before or now is None:
        return []
    return [prompt("say.take_receipt" if now else "say.slip_failed", lang)]
