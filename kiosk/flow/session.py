"""The payment-session reducer: ``advance(session, event) -> (session, commands)``.

Pure: no I/O, no clock, no randomness. Phases follow docs/architecture.md. The credited total changes only
on the devices' safe events; escrow is never money.
"""

from __future__ import annotations

from dataclasses import replace

from kiosk.flow import code_tender as ct
from kiosk.flow import commands as c
from kiosk.flow import events as e
from kiosk.flow import scan
from kiosk.flow import services_menu as sm
from kiosk.flow.account import AccountNumberError, check_account_number
from kiosk.flow.outcome import asks_first
from kiosk.flow.rules import amount_refusal, escrow_decision, prepaid_refusal, readiness_refusal
# the session's data lives in kiosk/flow/state.py; the reducer's callers import it from here too
from kiosk.flow.state import (CARD_BUSY, CHOOSING, IDLE_TIMER, INSERT_TIMER,  # noqa: F401
                              JOURNAL_FAULT, SCREEN_TIMER, Credit, Phase, Result, Session)


def fresh(s: Session) -> Session:
    """Back to the attract screen; the terminal's context (faults, queue, readiness) survives."""
    return Session(
        config=s.config,
        phase=Phase.OUT_OF_SERVICE if s.faults else Phase.IDLE,
        faults=s.faults,
        queue=s.queue,
        validator_ok=s.validator_ok,
        printer_can_print=s.printer_can_print,
        code_enabled=s.code_enabled,
    )


def advance(s: Session, ev: e.Event) -> Result:
    ev = scan.as_identification(ev)  # a bill scanned is its account number typed
    if isinstance(ev, e.Answer) and ev.session_id != s.session_id:
        return s, []  # an answer for a session that is over: never shown to the next resident
    handler = _GLOBAL.get(type(ev))
    if handler is not None:
        return handler(s, ev)
    phase_handler = _BY_PHASE.get(s.phase)
    if phase_handler is None:
        return s, []
    return phase_handler(s, ev)


# ------------------------------------------------------------------ terminal-wide events
def _queue_changed(s: Session, ev: e.QueueChanged) -> Result:
    return replace(s, queue=ev.queue), []


def _connectivity(s: Session, ev: e.ConnectivityChanged) -> Result:
    return replace(s, queue=replace(s.queue, online=ev.online)), []


def _readiness(s: Session, ev: e.ReadinessChanged) -> Result:
    waiting = s.readiness_pending and s.phase == Phase.AMOUNT and s.target_minor > 0
    s = replace(s, validator_ok=ev.validator_ok, printer_can_print=ev.printer_can_print,
                readiness_pending=False)
    return _try_start_insertion(s) if waiting else (s, [])


def _printer_seen(s: Session, ev: e.PrinterStatusSeen) -> Result:
    return replace(s, printer_can_print=ev.can_print), []


def _journal_failed(s: Session, ev: e.JournalFailed) -> Result:
    """The journal cannot record: stop taking money at once. A note still in escrow is handed
    back (it was never credited); what the screen says is that the machine failed, never that
    money not on record was paid."""
    cmds: list[c.Command] = [c.DisableAcceptors(), c.CancelTimer(INSERT_TIMER),
                             c.CancelTimer(IDLE_TIMER)]
    if s.escrow is not None and s.phase == Phase.INSERTING:
        cmds.append(c.ReturnNote())
    s = replace(s, faults=s.faults | {JOURNAL_FAULT}, phase=Phase.OUT_OF_SERVICE,
                message="journal_failed", finishing=True)
    return s, cmds


def _fault(s: Session, ev: e.DeviceFaulted) -> Result:
    s = replace(s, faults=s.faults | {(ev.device, ev.code)})
    if s.phase == Phase.INSERTING:
        s = replace(s, interrupted=ev.code)
        # Money already credited is committed, never dropped; the jammed note (if any) stays
        # in escrow for the device/reconciliation to resolve.
        s2, cmds = _end_insertion(replace(s, finishing=True), force=True)
        if s2.phase == Phase.COMMITTING:
            return s2, cmds
        return replace(s2, phase=Phase.OUT_OF_SERVICE), cmds
    if s.phase in (Phase.COMMITTING, Phase.RECEIPT, Phase.RATING, Phase.CODE_WAIT):
        # finish the paid session (or the charge under way); the next starts out of service
        return s, []
    return replace(fresh(s), phase=Phase.OUT_OF_SERVICE), [c.DisableAcceptors()]


def _cleared(s: Session, ev: e.DeviceCleared) -> Result:
    faults = frozenset(f for f in s.faults if f != (ev.device, ev.code))
    s = replace(s, faults=faults)
    if s.phase == Phase.OUT_OF_SERVICE and not faults:
        return fresh(s), []
    return s, []


def _card_write(s: Session, ev: e.CardWriteChanged) -> Result:
    return (replace(s, card_write=ev.status), []) if ev.txn_id == s.txn_id and s.txn_id else (s, [])


def _credit_any_phase(s: Session, ev: e.NoteCredited | e.CoinCredited) -> Result:
    tender = "note" if isinstance(ev, e.NoteCredited) else "coin"
    if s.phase == Phase.INSERTING and not s.committed:
        return _credit(s, tender, ev.value_minor, _counter(ev))
    # A safe event outside insertion (a coin still rolling, a note the device finished after a
    # fault): it is money all the same. Credit it to this session's account as its own payment,
    # or — with no account — record it for the operator.
    seq = s.escrow[0] if (s.escrow and tender == "note") else s.next_seq
    s = replace(s, escrow=None if tender == "note" else s.escrow, next_seq=max(s.next_seq, seq + 1))
    if s.account is None or not s.session_id:
        return s, [c.JournalCredit("", seq, tender, ev.value_minor, _counter(ev))]
    n = s.late_payments + 1
    sid = f"{s.session_id}.{n}"
    notes = ((ev.value_minor, 1),) if tender == "note" else ()
    coins = ((ev.value_minor, 1),) if tender == "coin" else ()
    return replace(s, late_payments=n), [
        c.JournalCredit(s.session_id, seq, tender, ev.value_minor, _counter(ev)),
        c.CommitPayment(sid, s.account.account_no, notes, coins, ev.value_minor, s.offline),
    ]


def _code_configured(s: Session, ev: e.CodeTenderConfigured) -> Result:
    return replace(s, code_enabled=ev.enabled), []


_GLOBAL = {
    e.CodeTenderConfigured: _code_configured,
    e.QueueChanged: _queue_changed,
    e.ConnectivityChanged: _connectivity,
    e.ReadinessChanged: _readiness,
    e.PrinterStatusSeen: _printer_seen,
    e.JournalFailed: _journal_failed,
    e.DeviceFaulted: _fault,
    e.DeviceCleared: _cleared,
    e.NoteCredited: _credit_any_phase,
    e.CoinCredited: _credit_any_phase,
    e.CardWriteChanged: _card_write,
}


# ------------------------------------------------------------------ phases
def _idle(s: Session, ev: e.Event) -> Result:
    if isinstance(ev, (e.CardTapped, e.AccountEntered)):
        started = replace(fresh(s), phase=Phase.IDENTIFYING, session_id=ev.session_id)
        return _identify(started, ev)
    if scan.message_for(ev):  # not a bill: the keypad, saying what to scan or type instead
        return _choosing_common(replace(fresh(s), phase=Phase.IDENTIFYING), ev)
    return s, []


def _identify(s: Session, ev: e.Event) -> Result:
    timer = c.StartTimer(IDLE_TIMER, s.config.idle_timeout_s)
    if isinstance(ev, e.CardTapped):
        return replace(s, message="", card_uid=ev.card_uid), [c.LookupCard(s.session_id, ev.card_uid), timer]
    assert isinstance(ev, e.AccountEntered)
    try:
        account_no = check_account_number(ev.text)
    except AccountNumberError as err:
        return replace(s, message=f"malformed_account:{err.reason}"), [timer]
    return replace(s, message="", card_uid=""), [c.LookupAccount(s.session_id, account_no), timer]


def _identifying(s: Session, ev: e.Event) -> Result:
    if isinstance(ev, (e.CardTapped, e.AccountEntered)):
        # A new tap or number while the last lookup is out: a new question with its own id, so
        # the slower answer to the old one is dropped (nothing is journaled before insertion).
        return _identify(replace(s, session_id=ev.session_id or s.session_id), ev)
    if isinstance(ev, e.AccountFound):
        return (
            replace(s, phase=Phase.ACCOUNT, account=ev.account, recently_paid=ev.recently_paid),
            [c.StartTimer(IDLE_TIMER, s.config.idle_timeout_s)],
        )
    if isinstance(ev, e.AccountNotFound):
        return replace(s, message=ev.reason), [c.StartTimer(IDLE_TIMER, s.config.idle_timeout_s)]
    return _choosing_common(s, ev)


def _choosing_common(s: Session, ev: e.Event) -> Result:
    if scan.message_for(ev):
        return replace(s, message=scan.message_for(ev)), [c.StartTimer(IDLE_TIMER, s.config.idle_timeout_s)]
    if isinstance(ev, e.CancelPressed):
        return fresh(s), [c.CancelTimer(IDLE_TIMER)]
    if isinstance(ev, e.TimerExpired) and ev.name == IDLE_TIMER:
        return fresh(s), []
    return s, []


def _account(s: Session, ev: e.Event) -> Result:
    if isinstance(ev, e.ServicesPressed):
        return replace(s, phase=Phase.SERVICES, message=""), [
            c.StartTimer(IDLE_TIMER, s.config.idle_timeout_s)]
    if isinstance(ev, e.ContinuePressed):
        refusal = prepaid_refusal(bool(s.account and s.account.prepaid), s.card_uid, s.offline)
        if refusal:
            return replace(s, message=refusal), [c.StartTimer(IDLE_TIMER, s.config.idle_timeout_s)]
        return replace(s, phase=Phase.AMOUNT, message="", readiness_pending=True), [
            c.CheckReadiness(s.session_id),
            c.StartTimer(IDLE_TIMER, s.config.idle_timeout_s),
        ]
    return _choosing_common(s, ev)


_WHERE = {sm.MENU: Phase.SERVICES, sm.ERRAND: Phase.ERRAND, sm.ACCOUNT: Phase.ACCOUNT}


def _errands(s: Session, ev: e.Event) -> Result:
    """The services menu and its errands: the steps are kiosk/flow/services_menu.py's."""
    if isinstance(ev, e.TimerExpired) and ev.name == IDLE_TIMER:
        return fresh(s), []
    assert s.account is not None  # the menu is reached from the account screen
    where, errand, why, cmds = sm.step(s.errand, ev, s.session_id, s.account.account_no)
    if where == sm.STAY:
        return s, []
    if where == sm.END:
        return fresh(s), [c.CancelTimer(IDLE_TIMER)]
    s = replace(s, phase=_WHERE[where], errand=errand, message=why)
    if isinstance(ev, e.Answer):  # an answer is not the resident: the idle timer runs on
        return s, cmds
    return s, cmds + [c.StartTimer(IDLE_TIMER, s.config.idle_timeout_s)]


def _amount(s: Session, ev: e.Event) -> Result:
    if isinstance(ev, e.CodeTenderChosen):
        return _code_chosen(s, ev)
    if isinstance(ev, e.AmountChosen):
        refusal = amount_refusal(ev.amount_minor, s.config, s.queue)
        if refusal:
            return replace(s, message=refusal), [c.StartTimer(IDLE_TIMER, s.config.idle_timeout_s)]
        arrears = s.account.arrears_minor if s.account else None
        if (asks_first(ev.amount_minor, arrears, s.short_asked)
                and not readiness_refusal(s.validator_ok, s.faults)):
            return replace(s, short_asked=ev.amount_minor, message=""), [
                c.StartTimer(IDLE_TIMER, s.config.idle_timeout_s)]
        s = replace(s, target_minor=ev.amount_minor, message="", short_asked=0)
        if s.readiness_pending:
            return s, []  # insertion starts when the devices have answered (ReadinessChanged)
        return _try_start_insertion(s)
    if isinstance(ev, e.AmountReconsidered):
        return replace(s, short_asked=0), [c.StartTimer(IDLE_TIMER, s.config.idle_timeout_s)]
    if isinstance(ev, e.OnScreenReceiptAccepted):
        s = replace(s, on_screen_receipt=True)
        return _try_start_insertion(s) if s.target_minor else (s, [])
    return _choosing_common(s, ev)


def _try_start_insertion(s: Session) -> Result:
    refusal = readiness_refusal(s.validator_ok, s.faults)
    if refusal:
        return replace(s, message=refusal), []
    if s.printer_can_print is not True and not s.on_screen_receipt:
        return replace(s, message="printer_unavailable_accept_screen_receipt"), []
    return replace(s, phase=Phase.INSERTING, message=""), [
        c.CancelTimer(IDLE_TIMER),
        c.JournalSessionStart(s.session_id, s.account.account_no, s.target_minor),
        c.EnableAcceptors(s.config.accepted_notes_minor, s.config.accepted_coins_minor),
        c.StartTimer(INSERT_TIMER, s.config.insert_timeout_s),
    ]


def _inserting(s: Session, ev: e.Event) -> Result:
    if isinstance(ev, e.NoteEscrowed):
        seq = s.next_seq
        reason = escrow_decision(
            ev.value_minor, s.credited_minor, s.config, s.queue, alive=not s.finishing
        )
        s = replace(s, escrow=(seq, ev.value_minor), next_seq=seq + 1, message=reason or "")
        decision = "return" if reason else "stack"
        journal = c.JournalEscrow(s.session_id, seq, ev.value_minor, decision, reason or "")
        return s, [journal, c.ReturnNote() if reason else c.StackNote()]
    if isinstance(ev, e.NoteReturned):
        seq = s.escrow[0] if s.escrow else 0
        s = replace(s, escrow=None, message=f"returned:{ev.reason}")
        cmds: list[c.Command] = [c.JournalReturned(s.session_id, seq, ev.value_minor, ev.reason)]
        if s.finishing:
            s, more = _end_insertion(s)
            cmds += more
        return s, cmds
    if isinstance(ev, e.NoteRejected):
        return replace(s, message=f"rejected:{ev.reason}"), []
    if isinstance(ev, (e.FinishPressed, e.CancelPressed)):
        return _end_insertion(replace(s, finishing=True))
    if isinstance(ev, e.TimerExpired) and ev.name == INSERT_TIMER:
        return _end_insertion(replace(s, finishing=True))
    return s, []


def _counter(ev: e.NoteCredited | e.CoinCredited) -> int | None:
    return getattr(ev, "device_counter", None)


def _credit(s: Session, tender: str, value: int, counter: int | None = None) -> Result:
    if tender == "note" and s.escrow is not None:
        seq, s = s.escrow[0], replace(s, escrow=None)
    else:
        seq, s = s.next_seq, replace(s, next_seq=s.next_seq + 1)
    s = replace(s, credits=s.credits + (Credit(seq, tender, value),), message="")
    cmds: list[c.Command] = [c.JournalCredit(s.session_id, seq, tender, value, counter)]
    if s.finishing:
        s, more = _end_insertion(s)
        return s, cmds + more
    return s, cmds + [c.StartTimer(INSERT_TIMER, s.config.insert_timeout_s)]


def _end_insertion(s: Session, force: bool = False) -> Result:
    """Stop taking cash; commit what was credited once no note is left in escrow."""
    cmds: list[c.Command] = [c.DisableAcceptors(), c.CancelTimer(INSERT_TIMER)]
    if s.escrow is not None and not (force and s.credited_minor):
        # Wait for the device to say credited or returned. After a fault with nothing credited
        # the session stays open in the journal: a late credit or start-up reconciliation ends it.
        return s, cmds
    if s.credited_minor > 0:
        assert s.account is not None  # insertion starts only with an account
        commit = c.CommitPayment(
            s.session_id,
            s.account.account_no,
            s.tally("note"),
            s.tally("coin"),
            s.credited_minor,
            s.offline,
            s.card_uid if s.account.prepaid else "",
        )
        return replace(s, phase=Phase.COMMITTING, committed=True), cmds + [commit]
    return replace(s, phase=Phase.CANCELLED), cmds + [
        c.JournalSessionEnd(s.session_id, "cancelled"),
        c.StartTimer(SCREEN_TIMER, 5),
    ]


def _committing(s: Session, ev: e.Event) -> Result:
    if isinstance(ev, e.PaymentCommitted):
        s = replace(s, phase=Phase.RECEIPT, txn_id=ev.txn_id, receipt_no=ev.receipt_no)
        timer = c.StartTimer(SCREEN_TIMER, s.config.receipt_timeout_s)
        if s.printer_can_print is True and not s.on_screen_receipt:
            return s, [c.PrintReceipt(ev.txn_id), timer]
        return replace(s, printed=False), [timer]
    return s, []


def _receipt(s: Session, ev: e.Event) -> Result:
    if isinstance(ev, (e.ReceiptPrinted, e.ReceiptFailed)) and ev.txn_id != s.txn_id:
        return s, []  # a reprint of another payment's receipt
    if isinstance(ev, e.ReceiptPrinted):
        return replace(s, printed=True), []
    if isinstance(ev, e.ReceiptFailed):
        return replace(s, printed=False, message=f"print_failed:{ev.reason}"), []
    if isinstance(ev, e.TimerExpired) and ev.name == SCREEN_TIMER and s.card_write in CARD_BUSY:
        # the card is being written or asked back: the screen stays (docs/prepaid.md)
        return s, [c.StartTimer(SCREEN_TIMER, s.config.receipt_timeout_s)]
    if isinstance(ev, e.ContinuePressed) or (isinstance(ev, e.TimerExpired) and ev.name == SCREEN_TIMER):
        return replace(s, phase=Phase.RATING), [c.StartTimer(SCREEN_TIMER, s.config.receipt_timeout_s)]
    return s, []


def _rating(s: Session, ev: e.Event) -> Result:
    if isinstance(ev, e.Rated):
        cmds: list[c.Command] = [c.CancelTimer(SCREEN_TIMER)]
        if ev.stars is not None and 1 <= ev.stars <= 5 and s.txn_id:
            cmds.insert(0, c.QueueRating(s.txn_id, ev.stars))
        return fresh(s), cmds
    if isinstance(ev, e.TimerExpired) and ev.name == SCREEN_TIMER:
        return fresh(s), []
    return s, []


def _transient(s: Session, ev: e.Event) -> Result:
    if isinstance(ev, e.ContinuePressed) or (isinstance(ev, e.TimerExpired) and ev.name == SCREEN_TIMER):
        return fresh(s), [c.CancelTimer(SCREEN_TIMER)]
    if isinstance(ev, (e.CardTapped, e.AccountEntered)):
        return _idle(fresh(s), ev)
    return s, []


def _out_of_service(s: Session, ev: e.Event) -> Result:
    if isinstance(ev, e.PaymentCommitted):
        # The fault interrupted insertion: the payment is recorded; the screen shows its number.
        return replace(s, txn_id=ev.txn_id, receipt_no=ev.receipt_no), []
    if isinstance(ev, e.NoteReturned):
        return replace(s, escrow=None), [
            c.JournalReturned(s.session_id, s.escrow[0] if s.escrow else 0, ev.value_minor, ev.reason)
        ]
    return s, []


def _code_chosen(s: Session, ev: e.CodeTenderChosen) -> Result:
    refusal = (amount_refusal(ev.amount_minor, s.config, s.queue)
               or ct.refusal(s.code_enabled, s.offline))
    timer = c.StartTimer(IDLE_TIMER, s.config.idle_timeout_s)
    if refusal or s.account is None:
        return replace(s, message=refusal or "code_unavailable"), [timer]
    code = ct.start(ev.amount_minor, s.account.account_no, s.code)
    return replace(s, phase=Phase.CODE_SCAN, target_minor=ev.amount_minor, code=code,
                   message=""), [timer]


_CODE_PHASES = {"scan": Phase.CODE_SCAN, "failed": Phase.CODE_FAILED, "paid": Phase.COMMITTING}


def _code(s: Session, ev: e.Event) -> Result:
    """The code tender's phases: its steps are code_tender's; only the way out is decided here."""
    assert s.code is not None
    if s.phase != Phase.CODE_WAIT:
        if isinstance(ev, e.AmountChosen) and s.phase == Phase.CODE_FAILED:
            return _amount(replace(s, phase=Phase.AMOUNT), ev)  # cash instead
        if isinstance(ev, e.CodeTenderChosen) and ct.may_retry(s.code):
            return _code_chosen(s, ev)
        if isinstance(ev, (e.CancelPressed, e.TimerExpired)):
            return _choosing_common(s, ev)
    code, cmds = ct.advance(s.code, ev, s.session_id)
    phase = _CODE_PHASES.get(code.step, Phase.CODE_WAIT)
    if phase != s.phase and phase in (Phase.CODE_SCAN, Phase.CODE_FAILED):
        cmds.append(c.StartTimer(IDLE_TIMER, s.config.idle_timeout_s))
    elif phase == Phase.CODE_WAIT and s.phase != phase:
        cmds.insert(0, c.CancelTimer(IDLE_TIMER))  # waiting on the gateway, not on the resident
    return replace(s, code=code, phase=phase, message=code.message,
                   committed=phase == Phase.COMMITTING), cmds


_BY_PHASE = {
    Phase.IDLE: _idle,
    Phase.IDENTIFYING: _identifying,
    Phase.ACCOUNT: _account,
    Phase.AMOUNT: _amount,
    Phase.INSERTING: _inserting,
    Phase.COMMITTING: _committing,
    Phase.RECEIPT: _receipt,
    Phase.RATING: _rating,
    Phase.CANCELLED: _transient,
    Phase.OUT_OF_SERVICE: _out_of_service,
    Phase.SERVICES: _errands,
    Phase.ERRAND: _errands,
    Phase.CODE_SCAN: _code,
    Phase.CODE_WAIT: _code,
    Phase.CODE_FAILED: _code,
}
