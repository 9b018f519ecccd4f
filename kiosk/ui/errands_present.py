"""What the services menu and its errands say (kiosk/flow/services_menu.py): pure text, like
kiosk/ui/present.py, which calls ``fill`` for the two phases. Each screen's instruction is one
catalogue entry (``TITLES``), so the voice guidance can speak it as it is."""

from __future__ import annotations

from typing import Any, Callable

from kiosk.flow import services_menu as sm
from kiosk.flow.money import format_minor
from kiosk.flow.session import Phase, Session
from kiosk.ui.catalog import N_

Gettext = Callable[[str], str]

#: the screen each step is shown on
SCREEN_FOR_STEP = {"category": "choice", "reasons": "choice", "ebill_what": "choice",
                   "phone": "phone", "confirm": "request_confirm", "done": "request_done",
                   "history": "history"}
#: one instruction sentence per screen (and per errand where the question differs)
TITLES = {
    "menu": N_("What would you like to do? Choose one."),
    "category:fault": N_("What is wrong? Choose one."),
    "category:outage": N_("Where is the power off? Choose one."),
    "category:complaint": N_("What is your complaint about? Choose one."),
    "category:suggestion": N_("What is your suggestion about? Choose one."),
    "reasons": N_("Anything to add? Choose up to 3, then press Continue."),
    "ebill_what": N_("What should we send to your phone? Choose one."),
    "phone": N_("Enter your mobile number, then press Continue."),
    "confirm": N_("Please check, then press Confirm."),
    "done": N_("Your request is recorded. Please note the reference number."),
    "history": N_("Your electricity use and payments of the last months."),
}
ERRAND_NAMES = {
    "history": N_("Usage and payment history"),
    "fault": N_("Report a fault"),
    "outage": N_("Report a power cut"),
    "complaint": N_("Make a complaint"),
    "suggestion": N_("Make a suggestion"),
    "ebill": N_("SMS bills and reminders"),
}
OPTION_NAMES = {
    "no_power": N_("No power at home"), "flicker": N_("Lights flicker"),
    "meter": N_("Meter problem"), "wire_damage": N_("Damaged wire or cable"),
    "building": N_("My building"), "street": N_("My street"), "area": N_("A whole area"),
    "billing": N_("My bill"), "staff": N_("Staff"), "waiting": N_("Waiting time"),
    "meter_reading": N_("Meter reading"), "terminal": N_("This terminal"),
    "hours": N_("Opening hours"), "payment_ways": N_("Ways to pay"),
    "notices": N_("Notices and information"),
    "repeated": N_("It has happened before"), "urgent": N_("It is urgent"),
    "elderly_at_home": N_("An elderly person lives here"),
    "call_before_visit": N_("Please call before visiting"),
    "both": N_("Bills and payment reminders"), "bills": N_("Monthly bills"),
    "reminders": N_("Payment reminders"),
}
CHANNELS = {"kiosk": N_("Terminal"), "counter": N_("Counter"), "app": N_("App"),
            "bank": N_("Bank"), "none": N_("Not paid")}
MESSAGES = {
    "phone_invalid": N_("This is not a mobile number: it has 11 digits and starts with 13 to 19."),
    "too_many_reasons": N_("You can choose up to 3."),
}
HISTORY_ROWS = 6  # the screen shows the newest months in large type; the slip has all twelve


def fill(d: Any, s: Session, _: Gettext) -> None:
    """The services menu (Phase.SERVICES) or the errand's step (Phase.ERRAND) into ``d``."""
    if s.message in MESSAGES:
        d.message, d.message_error = _(MESSAGES[s.message]), True
    errand = s.errand
    if s.phase == Phase.SERVICES or errand is None:
        d.screen, d.errand_title = "choice", _(TITLES["menu"])
        d.options = [(k, _(ERRAND_NAMES[k]), False) for k in sm.ERRANDS]
        return
    d.screen = SCREEN_FOR_STEP[errand.step]
    d.errand_name = _(ERRAND_NAMES[errand.kind])
    key = f"category:{errand.kind}" if errand.step == "category" else errand.step
    d.errand_title = _(TITLES[key])
    if errand.step == "category":
        d.options = [(k, _(OPTION_NAMES[k]), False) for k in sm.CATEGORIES[errand.kind]]
    elif errand.step == "reasons":
        d.options = [(k, _(OPTION_NAMES[k]), k in errand.reasons)
                     for k in sm.REASONS[errand.kind]]
        d.can_continue = True
    elif errand.step == "ebill_what":
        d.options = [(k, _(OPTION_NAMES[k]), False) for k in sm.EBILL_CHOICES]
    elif errand.step == "confirm":
        d.summary = _summary(errand, s, _)
    elif errand.step == "done":
        _done(d, errand, _)
    elif errand.step == "history":
        _history(d, errand, _)


def _summary(errand: sm.Errand, s: Session, _: Gettext) -> list[str]:
    lines = [_("Request: {name}").format(name=_(ERRAND_NAMES[errand.kind]))]
    if errand.category:
        lines.append(_("About: {what}").format(what=_(OPTION_NAMES[errand.category])))
    if errand.ebill_what:
        lines.append(_("Send: {what}").format(what=_(OPTION_NAMES[errand.ebill_what])))
    if errand.reasons:
        lines.append(_("Also: {what}").format(
            what=", ".join(_(OPTION_NAMES[r]) for r in errand.reasons)))
    if errand.kind in ("fault", "outage") and s.account is not None:
        lines.append(_("Address: {address}").format(address=s.account.address_masked or "—"))
    if errand.phone:
        lines.append(_("Phone: {phone}").format(phone=sm.mask_phone(errand.phone)))
    return lines


def _done(d: Any, errand: sm.Errand, _: Gettext) -> None:
    d.reference_text = errand.local_ref
    if errand.utility_ref:
        d.utility_ref_text = _("The power company's reference: {ref}").format(
            ref=errand.utility_ref)
    else:
        d.utility_ref_text = _("It goes to the power company as soon as the network allows.")
    d.can_print = True
    d.slip_text = _slip(errand, _)


def _slip(errand: sm.Errand, _: Gettext) -> str:
    if errand.printed is True:
        return _("Please take your slip.")
    if errand.printed is False:
        return _("The slip could not be printed. Please note the number on the screen.")
    return ""


def _history(d: Any, errand: sm.Errand, _: Gettext) -> None:
    h = errand.history
    if h is None:
        d.history_note = (_("Looking up your history…") if not errand.history_failed else
                          _("The history cannot be shown now: the network is down and this "
                            "terminal has no copy of it."))
        return
    d.history_rows = [(m.period, str(m.kwh), format_minor(m.billed_minor),
                       format_minor(m.paid_minor), _(CHANNELS.get(m.channel, "none")))
                      for m in h.months[:HISTORY_ROWS]]
    if h.from_cache:
        d.history_note = _("The network is down: this is the copy saved here on {time}.").format(
            time=h.as_of[:16].replace("T", " "))
    else:
        d.history_note = _("As of {time}").format(time=h.as_of[:16].replace("T", " "))
    d.can_print = True
    d.slip_text = _slip(errand, _)
