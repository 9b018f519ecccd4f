"""Which prompts the resident hears, from the settled session and the screen it is shown on.

``listen(heard, session, screen, lang, idle)`` is pure: what was last heard in, the new
``Heard`` and the prompts out, and whether they cut what is playing. A new screen (or a new
language) cuts and says the screen's prompts (``entry``); on the same screen each event adds
its own: a note being checked, money credited with what is still owed, a note given back, a
fault, the receipt printed or not, the idle warning. The same session shown twice says nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.flow.session import Phase, Session
from kiosk.voice import steps
from kiosk.voice.prompts import Prompt, prompt

#: the resident screens that speak (staff screens are silent)
SPEAKING = ("attract", "identify", "account", "amount", "insert", "processing", "done",
            "rating", "ended", "out_of_service") + steps.STEP_SCREENS
#: messages the screen explains in its own words, not an error the voice announces
QUIET_MESSAGES = ("printer_unavailable_accept_screen_receipt", "print_failed:")
#: the phases in which money may be moving: a fault then is said at once
MONEY_PHASES = (Phase.INSERTING, Phase.COMMITTING, Phase.RECEIPT)


@dataclass(frozen=True)
class Heard:
    screen: str = ""
    lang: str = ""
    session_id: str = ""
    credited: int = 0
    escrow_seq: int = 0
    message: str = ""
    printed: bool | None = None
    faults: int = 0
    idle: bool = False
    detail: str = ""  # what a step screen shows now (kiosk/voice/steps.py)
    code_left: int = 0
    slip: bool | None = None


@dataclass(frozen=True)
class Cue:
    heard: Heard
    prompts: tuple[Prompt, ...] = ()
    cut: bool = False


def _heard(s: Session, screen: str, lang: str, idle: bool) -> Heard:
    return Heard(screen=screen, lang=lang, session_id=s.session_id, credited=s.credited_minor,
                 escrow_seq=s.escrow[0] if s.escrow else 0, message=s.message,
                 printed=s.printed, faults=len(s.faults), idle=idle,
                 detail=steps.detail(s, screen), code_left=s.code.left_s if s.code else 0,
                 slip=s.errand.printed if s.errand else None)


def status(s: Session, lang: str) -> list[Prompt]:
    """What is owed of the chosen amount: before money (还需要放…) or after (已收…还差…)."""
    paid, left = s.credited_minor, s.target_minor - s.credited_minor
    if not paid:
        return [prompt("say.left", lang, amount=left)] if left > 0 else []
    if left > 0:
        return [prompt("say.credited", lang, paid=paid, left=left)]
    return [prompt("say.enough", lang, paid=paid)]


def entry(s: Session, screen: str, lang: str, scanner: bool = False) -> list[Prompt]:
    """What a screen says when it is shown (and again on the repeat button); ``scanner``: one
    is configured, so the start screens say a bill's barcode can be scanned."""
    if screen == "identify" and s.phase == Phase.IDENTIFYING and s.card_uid and not s.message:
        return [prompt("say.card_read", lang)]
    out = steps.lead(s, screen, lang)
    own = steps.entry(s, screen, lang)
    if own is not None:
        return out + own
    if screen == "amount" and s.account is not None and s.account.arrears_minor is not None:
        owed = s.account.arrears_minor
        out.append(prompt("say.owed", lang, amount=owed) if owed > 0
                   else prompt("say.nothing_owed", lang))
    if screen == "done":
        out.append(prompt("say.paid", lang, amount=steps.paid_minor(s)))
        out += _receipt(s.printed, s, lang)
        return out
    out.append(prompt(steps.sentence(s, screen, scanner), lang))
    if screen == "insert":
        out += status(s, lang)
    return out


def _receipt(printed: bool | None, s: Session, lang: str) -> list[Prompt]:
    if printed is True:
        return [prompt("say.take_receipt", lang)]
    if printed is False:
        return [prompt("say.receipt_on_screen", lang)]
    return []


def _events(before: Heard, s: Session, now: Heard, lang: str) -> list[Prompt]:
    out: list[Prompt] = []
    if now.faults > before.faults and s.phase in MONEY_PHASES:
        out.append(prompt("say.fault", lang))
    if s.escrow is not None and now.escrow_seq != before.escrow_seq:
        out.append(prompt("say.checking_note", lang, amount=s.escrow[1]))
    if now.credited > before.credited and s.phase == Phase.INSERTING:
        out += status(s, lang)
    if now.message != before.message and now.message:
        if now.message.startswith(("returned:", "rejected:")):
            out.append(prompt("say.note_returned", lang))
        elif (own := steps.message_prompt(now.message)) is not None:
            out.append(prompt(own, lang))
        elif not now.message.startswith(QUIET_MESSAGES) and s.phase != Phase.OUT_OF_SERVICE:
            out.append(prompt("say.problem", lang))
    if now.screen == "done" and now.printed != before.printed:
        out += _receipt(now.printed, s, lang)
    out += steps.hurry(before.code_left, s, lang) + steps.slip(before.slip, s, lang)
    if now.idle and not before.idle:
        out.append(prompt("say.idle", lang))
    return out


def listen(heard: Heard, s: Session, screen: str, lang: str, idle: bool = False,
           scanner: bool = False) -> Cue:
    now = _heard(s, screen, lang, idle)
    if screen not in SPEAKING:
        return Cue(now, (), cut=heard.screen in SPEAKING)
    if (screen, lang, s.session_id, now.detail) != (heard.screen, heard.lang, heard.session_id,
                                                    heard.detail):
        said = entry(s, screen, lang, scanner)
        if now.faults > heard.faults and s.phase in MONEY_PHASES:
            said.insert(0, prompt("say.fault", lang))  # the jam that moved the screen on
        return Cue(now, tuple(said), cut=True)
    return Cue(now, tuple(_events(heard, s, now, lang)))
