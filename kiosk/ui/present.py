"""What the screens say: a pure function of the session, the language and a little UI state.

No Kivy here. The screens bind to these preformatted strings, so money is formatted in one place
from integer minor units, reason codes become plain words in one place, and a test can check
every message without a display.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from kiosk.flow.account import mask_account
from kiosk.flow.money import format_minor
from kiosk.flow.outcome import settle, short_number, stopped_short
from kiosk.flow.receipt import ReceiptData, qr_payload
from kiosk.flow.session import Phase, Session
from kiosk.ui import errands_present
from kiosk.ui import code_present
from kiosk.ui import scan_present
from kiosk.ui.catalog import N_
from kiosk.ui.wording import say_list, say_minor

Gettext = Callable[[str], str]

SCREEN_FOR_PHASE = {
    Phase.IDLE: "attract",
    Phase.IDENTIFYING: "identify",
    Phase.ACCOUNT: "account",
    Phase.AMOUNT: "amount",
    Phase.INSERTING: "insert",
    Phase.COMMITTING: "processing",
    Phase.RECEIPT: "done",
    Phase.RATING: "rating",
    Phase.CANCELLED: "ended",
    Phase.OUT_OF_SERVICE: "out_of_service",
    Phase.SERVICES: "choice",
    Phase.ERRAND: "choice",  # the step's own screen: kiosk/ui/errands_present.py
    Phase.CODE_SCAN: "code_pay",
    Phase.CODE_WAIT: "code_pay",
    Phase.CODE_FAILED: "code_pay",
}
#: ① card ② amount ③ pay ④ receipt (0: no indicator)
STEP_FOR_SCREEN = {"identify": 1, "account": 1, "amount": 2, "insert": 3, "processing": 3,
                   "code_pay": 3,
                   "done": 4, "rating": 4}
STEP_NAMES = (N_("Card"), N_("Amount"), N_("Pay"), N_("Receipt"))
#: a countdown is shown once this little is left of the idle timer
IDLE_WARNING_S = 15

#: a prepaid purchase's card write (kiosk/services/prepaid_writer.py), as the receipt screen says it
CARD_WRITE = {
    "writing": N_("Writing the electricity to your card. Please keep your card on the reader."),
    "card_needed": N_("Your card was taken away too soon. Please put your card back on the reader."),
    "deferred": N_("Your payment is recorded. Take the slip: tap the same card here again and "
                   "the electricity will be written to it."),
    "done": N_("The electricity is on your card. You can take your card now."),
    "stuck": N_("Your payment is recorded, but the card could not be written. Please call the "
                "service phone with your receipt."),
}
MESSAGES = {
    "malformed_account:empty": N_("Please enter your account number."),
    "malformed_account:not_digits": N_("An account number has digits only."),
    "malformed_account:wrong_length": N_(
        "An account number has 10 digits. Please check it and try again."),
    "malformed_account:bad_check_digit": N_(
        "This account number is not valid. Please check the digits and try again."),
    "unknown_account": N_(
        "We could not find this account number. Please check it, or call the service phone."),
    "not_found": N_(
        "We could not find this account number. Please check it, or call the service phone."),
    "unknown_card": N_(
        "This card is not linked to an account. Please enter your account number instead."),
    "unknown_card_offline": N_(
        "The network is down and this card is not known here. "
        "Please enter your account number instead."),
    "lookup_failed": N_("We could not look up your account just now. Please try again."),
    # a scanned code (kiosk/flow/scan.py)
    "scan_not_a_bill": N_("This is not a bill of this power company. Please scan the barcode "
                          "on your electricity bill, or enter your account number."),
    "scan_bad_bill": N_("The code on this bill could not be read correctly. Please enter the "
                        "account number printed on the bill."),
    "scan_payment_code_not_here": N_(
        "A payment code can only be used at the payment step. Nothing was charged."),
    "prepaid_needs_card": N_(
        "Prepaid electricity is written to your card: please tap your prepaid card to start."),
    "prepaid_needs_online": N_(
        "Prepaid electricity cannot be bought while the network is down: the purchase needs "
        "the power company. Please try again later."),
    "amount_invalid": N_("Please choose an amount."),
    "amount_below_minimum": N_("The amount is below the minimum of {minimum}."),
    "amount_above_maximum": N_("One payment can be at most {maximum}."),
    "offline_queue_full": N_(
        "The network has been down for a while, so this terminal cannot take more cash now. "
        "Please try again later. No money was taken."),
    "offline_total_reached": N_(
        "The network has been down for a while, so this terminal cannot take more cash now. "
        "Please try again later. No money was taken."),
    "offline_too_long": N_(
        "The network has been down for a while, so this terminal cannot take more cash now. "
        "Please try again later. No money was taken."),
    "out_of_service": N_("This terminal cannot take cash right now. No money was taken."),
    "validator_unavailable": N_(
        "The note reader is not available, so cash cannot be taken now. No money was taken."),
}
#: why the terminal gave a note back (the escrow decision), for "returned:host"
RETURN_REASONS = {
    "session_ended": N_("the payment had already finished."),
    "denomination_not_accepted": N_("this note is not accepted here."),
    "over_transaction_maximum": N_("it would take the payment over {maximum}."),
    "over_offline_maximum": N_(
        "while the network is down one payment can be at most {offline_max}."),
    "offline_queue_full": N_("the network has been down too long to take more cash."),
    "offline_total_reached": N_("the network has been down too long to take more cash."),
    "offline_too_long": N_("the network has been down too long to take more cash."),
}
FAULTS = {
    "acceptor_jam": N_("A note is stuck in the note reader."),
    "stacker_jam": N_("A note is stuck inside the machine."),
    "stacker_full": N_("The cash box is full."),
    "stacker_open": N_("The cash box has been taken out."),
    "cashbox_removed": N_("The cash box has been taken out."),
    "cheated": N_("The note reader detected a problem."),
    "failure": N_("The note reader has failed."),
    "write_failed": N_("This terminal cannot record payments right now."),
}


@dataclass
class UiState:
    """What the app knows besides the session."""

    keypad_open: bool = False
    ready: bool = True
    insert_left_s: float | None = None
    idle_left_s: float | None = None
    last_refusal: str = ""
    receipt: ReceiptData | None = None
    reprinting: bool = False
    start_failed: bool = False  # the terminal could not start: out of service
    screen_left_s: float | None = None  # the receipt screen's own timer
    # whom to call, for the sentences that say it (the footer shows them on every screen too)
    kiosk_id: str = ""
    service_phone: str = ""
    scanner: bool = False  # a barcode scanner is configured: a bill's barcode may be scanned


@dataclass
class Display:
    screen: str = "attract"
    step: int = 0
    offline: bool = False
    message: str = ""
    message_error: bool = False
    idle_warning: str = ""
    looking_up: bool = False
    start_how_text: str = ""  # attract: the other ways to start (scan a bill, when a scanner is on)
    account_hint_text: str = ""  # identify: where the number is (or its barcode)
    # account
    account_masked: str = ""
    holder: str = ""
    address: str = ""
    arrears_text: str = ""
    arrears_known: bool = False
    balance_text: str = ""
    as_of_text: str = ""
    # amount
    duplicate_text: str = ""
    minimum_text: str = ""
    can_pay_arrears: bool = False
    arrears_minor: int = 0
    pay_arrears_text: str = ""
    owed_caption: str = ""  # "您欠费" over the hero amount, or "您现在没有欠费"
    owed_text: str = ""
    prepay_text: str = ""  # nothing owed: you may pay in advance
    quick: list = field(default_factory=list)  # [(label, minor)]
    consent_needed: bool = False
    can_choose: bool = True  # cash can be taken: the amount buttons work
    blocked_text: str = ""  # why not, and what to do
    paper_text: str = ""  # the printer cannot print: said before an amount is chosen
    ask_text: str = ""  # paying less than owed: asked once
    ask_minor: int = 0
    confirm_text: str = ""
    # inserting
    target_text: str = ""
    inserted_text: str = ""
    remaining_text: str = ""
    remaining_caption: str = ""  # "还需投入" over the hero amount
    remaining_amount: str = ""
    no_cancel_text: str = ""  # why Cancel is gone once money is in
    escrow_text: str = ""
    countdown_text: str = ""
    countdown_urgent: bool = False
    notes_text: str = ""
    coins_text: str = ""
    can_cancel: bool = True
    can_finish: bool = False
    # receipt
    receipt_no: str = ""
    short_no: str = ""
    paid_text: str = ""
    done_title: str = ""
    settle_text: str = ""  # cleared, or what is still owed
    leave_text: str = ""  # the receipt screen's countdown
    stopped: bool = False  # a fault stopped the payment short of the amount chosen
    stopped_text: str = ""
    help_text: str = ""
    print_text: str = ""
    show_qr: bool = False
    qr: str = ""
    can_reprint: bool = False
    card_write_text: str = ""  # a prepaid purchase being written to the card
    # ended / out of service
    ended_text: str = ""
    fault_text: str = ""
    money_text: str = ""
    # services menu and errands (kiosk/ui/errands_present.py)
    errand_title: str = ""
    errand_name: str = ""
    options: list = field(default_factory=list)  # [(code, label, selected)]
    can_continue: bool = False
    summary: list = field(default_factory=list)
    reference_text: str = ""
    utility_ref_text: str = ""
    can_print: bool = False
    slip_text: str = ""
    history_rows: list = field(default_factory=list)  # [(period, kWh, billed, paid, how)]
    history_note: str = ""
    # the code tender (kiosk/ui/code_present.py)
    code_offered: bool = False
    code_why_not: str = ""
    code_mode: str = ""
    code_title: str = ""
    code_text: str = ""
    code_amount_text: str = ""
    code_countdown_text: str = ""
    code_can_retry: bool = False


def present(s: Session, _: Gettext, ui: UiState) -> Display:
    d = Display()
    d.screen = SCREEN_FOR_PHASE[s.phase]
    if s.phase == Phase.IDLE and ui.keypad_open:
        d.screen = "identify"
    d.step = STEP_FOR_SCREEN.get(d.screen, 0)
    d.offline = s.offline
    cfg = s.config
    limits = {"minimum": format_minor(cfg.min_amount_minor),
              "maximum": format_minor(cfg.max_txn_minor),
              "offline_max": format_minor(cfg.offline_max_txn_minor),
              "order": s.code.order_id if s.code else ""}
    d.message, d.message_error = _message(s, _, ui, limits)
    d.looking_up = s.phase == Phase.IDENTIFYING and not s.message
    scan_present.fill(d, ui.scanner, _)
    if ui.idle_left_s is not None and ui.idle_left_s <= IDLE_WARNING_S:
        d.idle_warning = _("Still there? Returning to the start in {seconds} s. "
                           "Touch the screen to continue.").format(seconds=_whole(ui.idle_left_s))
    if s.account is not None:
        _account(d, s, _)
    _amount(d, s, _)
    if s.phase == Phase.INSERTING or s.credited_minor:
        _inserting(d, s, _, ui)
    if s.receipt_no:
        _receipt(d, s, _, ui)
    _ended(d, s, _)
    if s.phase in (Phase.SERVICES, Phase.ERRAND):
        errands_present.fill(d, s, _)
    code_present.fill(d, s, _)
    if ui.start_failed:
        d.screen, d.step = "out_of_service", 0
        d.fault_text, d.money_text = _("A part of this terminal needs attention."), ""
    return d


def _message(s: Session, _: Gettext, ui: UiState, limits: dict[str, str]) -> tuple[str, bool]:
    code = s.message
    if not code or code == "printer_unavailable_accept_screen_receipt":
        return "", False
    if code.startswith("returned:"):
        why = RETURN_REASONS.get(ui.last_refusal) if code == "returned:host" else None
        if why:
            return _("Your note was given back: {reason} Please take it.").format(
                reason=_(why).format(**limits)), False
        return _("Your note was given back. Please take it and try again."), False
    if code.startswith("rejected:"):
        if "inhibited" in code:  # the device refused a denomination this terminal does not take
            return _("Your note was given back: {reason} Please take it.").format(
                reason=_(RETURN_REASONS["denomination_not_accepted"])), False
        return _("The note could not be read and was given back. "
                 "Please smooth it and try again, or use another note."), False
    if code in RETURN_REASONS:  # a refusal as it happens: the note is on its way back
        return _("Your note is being given back: {reason}").format(
            reason=_(RETURN_REASONS[code]).format(**limits)), False
    if code.startswith("print_failed:"):
        return "", False  # the receipt screen says it in its own words
    text = MESSAGES.get(code) or code_present.message(code)
    if text is None:
        return _fallback(s, _, ui), True
    return _(text).format(**limits), True


def _fallback(s: Session, _: Gettext, ui: UiState) -> str:
    """An error with no words of its own still says whether money was taken and whom to call."""
    who = {"phone": ui.service_phone, "kiosk_id": ui.kiosk_id}
    if s.credited_minor:
        return _("The machine had a problem. The {amount} you put in is recorded. Please call "
                 "{phone} (terminal ID {kiosk_id}).").format(
            amount=format_minor(s.credited_minor), **who)
    return _("The machine had a problem and took none of your money. Please try again, or call "
             "{phone} (terminal ID {kiosk_id}).").format(**who)


def _account(d: Display, s: Session, _: Gettext) -> None:
    a = s.account
    d.account_masked = mask_account(a.account_no)
    d.holder = a.holder_masked or "—"
    d.address = a.address_masked or "—"
    d.arrears_known = a.arrears_minor is not None
    if a.arrears_minor is None:
        d.arrears_text = _("Not known while offline")
    else:
        d.arrears_text = format_minor(a.arrears_minor)
    d.balance_text = format_minor(a.balance_minor) if a.balance_minor is not None else "—"
    if a.from_cache:
        when = _local_time(a.as_of)
        d.as_of_text = (_("As of {time}, from this terminal's records.")
                        .format(time=when) if when else
                        _("The network is down: the amount owed is not known here. "
                          "You can still pay, and the payment will be sent later."))


def _amount(d: Display, s: Session, _: Gettext) -> None:
    cfg = s.config
    d.minimum_text = _("Minimum {minimum}. This terminal gives no change: anything over what "
                       "you owe is kept as prepaid balance.").format(
        minimum=format_minor(cfg.min_amount_minor))
    if s.recently_paid:
        d.duplicate_text = _("This account was paid here a short while ago. "
                             "Please make sure you are not paying twice.")
    arrears = s.account.arrears_minor if s.account else None
    d.can_pay_arrears = bool(arrears and cfg.min_amount_minor <= arrears <= cfg.max_txn_minor)
    d.arrears_minor = arrears or 0
    d.pay_arrears_text = (_("Pay all you owe {amount}").format(amount=format_minor(arrears))
                          if d.can_pay_arrears else "")
    if arrears is not None and arrears > 0:
        d.owed_caption, d.owed_text = _("You owe"), format_minor(arrears)
    elif arrears is not None:
        d.owed_caption = _("You owe nothing now.")
        d.prepay_text = _("You may pay in advance: choose an amount below. It is kept as prepaid "
                          "balance for your next bills.")
    d.quick = [(say_minor(q, _), q) for q in cfg.quick_amounts_minor]
    d.consent_needed = (s.message == "printer_unavailable_accept_screen_receipt"
                        and not s.on_screen_receipt)
    if not s.validator_ok or s.faults:
        d.can_choose, d.minimum_text = False, ""
        d.blocked_text = _("The note reader is not working, so this terminal cannot take cash "
                           "now. No money was taken. Please use another terminal or come back "
                           "later.")
    if s.printer_can_print is False and not s.on_screen_receipt and not d.consent_needed:
        d.paper_text = _("The printer has no paper. After you pay, your receipt number and a QR "
                         "code are shown on the screen.")
    if s.short_asked and arrears:
        d.ask_minor = s.short_asked
        amount = say_minor(s.short_asked, _)
        d.ask_text = _("You will still owe {left}. Pay only {amount}?").format(
            left=format_minor(arrears - s.short_asked), amount=amount)
        d.confirm_text = _("Yes, pay only {amount}").format(amount=amount)


def _inserting(d: Display, s: Session, _: Gettext, ui: UiState) -> None:
    cfg = s.config
    d.target_text = format_minor(s.target_minor)
    d.inserted_text = format_minor(s.credited_minor)
    left = s.target_minor - s.credited_minor
    if left > 0:
        d.remaining_caption, d.remaining_amount = _("Still to pay"), format_minor(left)
    elif left < 0:
        d.remaining_text = _("The money is enough. The extra {amount} is kept as prepaid "
                             "balance.").format(amount=format_minor(-left))
    elif s.credited_minor:
        d.remaining_text = _("The money is enough. Please touch \"Finish payment\".")
    if s.escrow is not None:
        d.escrow_text = _("Checking your {note} note…").format(note=say_minor(s.escrow[1], _))
    notes = sorted(cfg.accepted_notes_minor)
    coins = sorted(cfg.accepted_coins_minor)
    d.notes_text = _("Notes, one at a time: {list}").format(list=say_list(notes, _))
    d.coins_text = _("Coins: {list}").format(list=say_list(coins, _)) if coins else ""
    if ui.insert_left_s is not None:
        secs = _whole(ui.insert_left_s)
        # what the insert timer really does (kiosk/flow/session.py, _end_insertion): with no
        # money in it cancels; with money in it finishes the payment
        d.countdown_text = (_("No more money in {seconds} s: the payment finishes.")
                            if s.credited_minor else
                            _("No money in {seconds} s: this payment will be cancelled.")
                            ).format(seconds=secs)
        d.countdown_urgent = secs <= 15
    d.can_cancel = s.credited_minor == 0 and s.escrow is None and not s.finishing
    if s.credited_minor and not s.finishing:
        d.no_cancel_text = _("Money is in, so there is no Cancel. When you are done, touch "
                             "\"Finish payment\".")
    d.can_finish = s.credited_minor > 0 and not s.finishing


def _receipt(d: Display, s: Session, _: Gettext, ui: UiState) -> None:
    d.receipt_no = s.receipt_no
    d.short_no = short_number(s.receipt_no)
    r = ui.receipt
    amount = r.payment.amount_minor if r is not None else s.credited_minor
    d.paid_text = format_minor(amount)
    _settlement(d, s, _, amount)
    d.stopped = stopped_short(s.interrupted, s.credited_minor, s.target_minor)
    d.done_title = (_("The machine has a fault. This payment has stopped.") if d.stopped else
                    _("Payment recorded. Thank you!"))
    if d.stopped:
        d.stopped_text = _("We got {paid}, not the {target} you chose. Please put in no "
                           "more money.").format(paid=d.paid_text,
                                                     target=format_minor(s.target_minor))
        d.help_text = _("The {paid} is in your account. For help call {phone}, terminal ID "
                        "{kiosk_id}.").format(
            paid=d.paid_text, phone=ui.service_phone, kiosk_id=ui.kiosk_id)
    if ui.screen_left_s is not None and s.phase == Phase.RECEIPT:
        d.leave_text = _("This screen closes in {seconds} s.").format(
            seconds=_whole(ui.screen_left_s))
    if r is not None:
        d.qr = qr_payload(r)
    if s.printed is None:
        d.print_text = _("Printing your receipt…")
    elif s.printed:
        d.print_text = _("Please take your printed receipt.")
    elif s.on_screen_receipt:
        d.print_text = _("Your receipt is shown on the screen. You can photograph the QR code.")
    else:
        d.print_text = _("The printer could not print. Your payment is recorded: keep the receipt "
                         "number or photograph the QR code.")
    d.card_write_text = _(CARD_WRITE[s.card_write]) if s.card_write in CARD_WRITE else ""
    d.show_qr = s.printed is False and bool(d.qr)
    # a second copy; when printing failed the QR code on screen is the receipt (staff can reprint)
    d.can_reprint = (s.phase == Phase.RECEIPT and s.printed is True and not ui.reprinting
                     and not d.stopped)  # after a fault staff reprint (kiosk/staff)


def _settlement(d: Display, s: Session, _: Gettext, paid_minor: int) -> None:
    if s.account is None or s.account.prepaid:
        return  # a prepaid purchase is told by the card write (CARD_WRITE)
    st = settle(s.account.arrears_minor, paid_minor)
    if st.cleared is None:
        d.settle_text = _("The new balance is known once the payment reaches the power company.")
    elif st.cleared and st.prepaid_minor:
        d.settle_text = _("Bill cleared. The extra {amount} is kept as prepaid "
                          "balance.").format(amount=format_minor(st.prepaid_minor))
    elif st.cleared:
        d.settle_text = _("Your bill is now cleared.")
    else:
        d.settle_text = _("You still owe {amount}.").format(amount=format_minor(st.still_owed_minor))


def _ended(d: Display, s: Session, _: Gettext) -> None:
    if s.phase == Phase.CANCELLED:
        d.ended_text = _("Payment cancelled. No money was taken.")
    if s.phase != Phase.OUT_OF_SERVICE:
        return
    codes = sorted(code for _dev, code in s.faults)
    known = [FAULTS[c] for c in codes if c in FAULTS]
    d.fault_text = _(known[0]) if known else _("A part of this terminal needs attention.")
    if s.message == "journal_failed" and (s.credits or s.escrow) and not s.receipt_no:
        # The record of this money may not have been written: say so plainly, never "paid".
        d.money_text = _("Any note still in the slot is given back. If money went in, please "
                         "call the service phone: staff will check the machine and put it right.")
    elif s.receipt_no:
        d.money_text = _("Your payment of {amount} has been recorded. Receipt number: "
                         "{receipt}.").format(amount=d.paid_text or format_minor(s.credited_minor),
                                              receipt=s.receipt_no)
    elif s.escrow is not None:
        d.money_text = _("If your note is still in the machine, please call the service phone: "
                         "it will be given back or paid into your account.")
    elif s.session_id:
        d.money_text = _("No money was taken.")


def _whole(seconds: float) -> int:
    """A countdown shows whole seconds, rounded up: it reaches 0 when time is up."""
    return int(seconds + 0.999)


def _local_time(iso: str) -> str:
    try:
        when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if when.tzinfo is not None:
        when = when.astimezone()
    return when.strftime("%Y-%m-%d %H:%M")
