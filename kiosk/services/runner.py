"""The session runner: feeds events to the pure reducer on the one deciding thread and carries
out its commands. Journal writes happen here, synchronously, before the money-moving command
that follows them; slow I/O (lookups, printing) runs on worker threads that only post back
(docs/architecture.md, "One thread decides").

A failed journal write stops the batch it belongs to (a note is never stacked when its escrow
decision was not recorded) and locks the terminal through ``JournalFailed``.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from drivers import interfaces as d
from drivers.errors import DriverError
from kiosk.config import Config
from kiosk.flow import commands as c
from kiosk.flow import events as e
from kiosk.flow.receipt import ReceiptData, receipt_lines
from kiosk.flow.scan import classify
from kiosk.flow.session import Session, advance
from kiosk.services import lookups
from kiosk.services.errands import Errands, HistoryDone
from kiosk.services.billing_client import BillingClient
from offline_queue.crash import crash_point
from offline_queue.journal import Journal
from offline_queue.outbox import Outbox

log = logging.getLogger(__name__)
#: phases kept in ``SessionRunner.history`` (tests and the demo log read the newest ones)
HISTORY_KEPT = 1000


@dataclass
class Devices:
    validator: Any = None  # drivers.interfaces.BillValidator
    coins: Any = None  # drivers.interfaces.CoinAcceptor
    card: Any = None  # drivers.interfaces.CardReader
    printer: Any = None  # drivers.interfaces.ReceiptPrinter
    scanner: Any = None  # drivers.interfaces.Scanner (only posts; here for health and diagnostics)


@dataclass(frozen=True)
class Reprint:
    """An intent (staff or resident): print this payment's receipt again."""

    txn_id: str


class WriteFailed(Exception):
    """A journal or outbox write did not commit."""


def new_session_id(now: datetime | None = None) -> str:
    now = now or datetime.now()
    return f"{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:12]}"


class SessionRunner:
    def __init__(self, config: Config, journal: Journal, outbox: Outbox, billing: BillingClient,
                 devices: Devices, post: Callable[[Any], None], timers: Any,
                 lang: str = "zh") -> None:
        self.config = config
        self.journal = journal
        self.outbox = outbox
        self.billing = billing
        self.devices = devices
        self.post = post
        self.timers = timers
        self.lang = lang
        self.session = Session(config=config.limits)
        #: called with each settled session, on the deciding thread (the app forwards a copy)
        self.on_change: list[Callable[[Session], None]] = []
        self.history: list[str] = []  # phases seen, for tests and the demo log
        #: sees every driver event first (kiosk.staff.faults.DeviceWatch: locking faults, cash box)
        self.device_watch: Callable[[d.DeviceEvent], None] | None = None
        #: told when the journal fails (persists the lock where it can)
        self.on_journal_failed: Callable[[str], None] | None = None
        #: keeps the printer's status fresh off this thread (kiosk.services.printer_watch)
        self.printer_watch: Any = None
        #: ReceiptData -> its signed QR text (the terminal sets it; kiosk/services/receipt_signing.py)
        self.receipt_signer: Callable[[ReceiptData], str] | None = None
        #: the receipt of the session on screen, read here so no other thread reads the journal
        self.receipt: ReceiptData | None = None
        #: writes prepaid purchases to cards (kiosk/services/prepaid_writer.py; the terminal sets it)
        self.prepaid: Any = None
        #: the code tender's shell (kiosk/services/code_pay.py; set by its ``attach``)
        self.code_pay: Any = None
        #: the coin acceptor's event counter at the last coin journaled (a reconnect resumes)
        self.coin_event_counter: int | None = journal.coin_event_counter()
        self._readiness_for = ""  # the session waiting for a fresh printer reading
        self._follow_ups: deque[Any] = deque()
        self._handling = False
        self._owner: int | None = None
        self._commands: dict[type, Callable[[Any], None]] = {
            c.LookupCard: self._lookup_card,
            c.LookupAccount: self._lookup_account,
            c.CheckReadiness: self._check_readiness,
            c.EnableAcceptors: self._enable_acceptors,
            c.DisableAcceptors: self._disable_acceptors,
            c.StackNote: self._stack_note,
            c.ReturnNote: self._return_note,
            c.JournalSessionStart: self._journal_session_start,
            c.JournalEscrow: self._journal_escrow,
            c.JournalCredit: self._journal_credit,
            c.JournalReturned: self._journal_returned,
            c.JournalSessionEnd: self._journal_session_end,
            c.CommitPayment: self._commit_payment,
            c.PrintReceipt: self._print_receipt,
            c.QueueRating: self._queue_rating,
            c.StartTimer: self._start_timer,
            c.CancelTimer: self._cancel_timer,
        }
        #: history, service requests, e-bill sign-ups (kiosk/services/errands.py)
        self.errands = Errands(self)
        self._commands.update(self.errands.handlers())

    # ---- intents (screens, the demo, the simulate script): any thread, they only post
    def enter_account(self, text: str) -> None:
        self.post(e.AccountEntered(text, new_session_id()))

    # ---- the one deciding thread
    def own_thread(self) -> None:
        """From now on only the calling thread may decide; any other caller fails loudly."""
        self._owner = threading.get_ident()

    def handle(self, event: Any) -> None:
        """One event and everything it leads to, in order; listeners see the settled session."""
        if self._owner is not None and threading.get_ident() != self._owner:
            raise RuntimeError("the session is decided on one thread: post the event instead")
        if self._handling:
            raise RuntimeError("handle() re-entered: follow-ups go through _follow()")
        self._handling = True
        before = self.session
        try:
            self._follow_ups.append(event)
            while self._follow_ups:
                self._step(self._follow_ups.popleft())
        finally:
            self._follow_ups.clear()
            self._handling = False
        if self.session is not before:
            for listener in self.on_change:
                listener(self.session)

    def _follow(self, event: Any) -> None:
        """A result of this thread's own work: handled after the current event."""
        self._follow_ups.append(event)

    def _step(self, event: Any) -> None:
        if isinstance(event, d.DeviceEvent):
            if self.device_watch is not None:
                self.device_watch(event)
            if self._prepaid_takes(event):
                return
            event = self.translate(event)
        elif self._prepaid_takes(event):
            return
        elif isinstance(event, lookups.LookupDone):
            event = self._lookup_done(event)
        elif self.code_pay is not None and self.code_pay.takes(event):
            try:  # the gateway's word is recorded before the flow acts on it
                event = self._write(self.code_pay.step, event)
            except WriteFailed as exc:
                event = e.JournalFailed(str(exc))
        elif isinstance(event, Reprint):
            event = self._reprint(event.txn_id)
        elif isinstance(event, HistoryDone):
            event = self.errands.history_done(event)
        elif isinstance(event, e.QueueChanged):
            self.errands.check_delivered()
        elif isinstance(event, e.TimerExpired):
            event = self._current_timer(event)
        elif isinstance(event, e.PrinterStatusSeen) and self._readiness_for:
            self._answer_readiness(self._readiness_for, event.can_print)
            self._readiness_for = ""
        if event is None:
            return
        if isinstance(event, e.Answer) and event.session_id != self.session.session_id:
            log.info("dropped %s for session %s (now %s)", type(event).__name__,
                     event.session_id or "-", self.session.session_id or "-")
            return
        before = self.session.phase
        self.session, cmds = advance(self.session, event)
        if self.session.phase != before:
            self.history.append(self.session.phase.value)
            if len(self.history) > HISTORY_KEPT:  # a terminal runs for years: the newest only
                del self.history[:-HISTORY_KEPT // 2]
            log.info("phase %s → %s", before.value, self.session.phase.value)
        if not self.session.receipt_no:
            self.receipt = None
        elif isinstance(event, e.PaymentCommitted) and self.session.txn_id == event.txn_id:
            self.receipt = self.receipt_for(event.txn_id)
        try:
            if isinstance(event, e.ReceiptPrinted):
                self._write(self.journal.mark_printed, event.txn_id)
            for cmd in cmds:
                self.execute(cmd)
        except WriteFailed as exc:
            # The rest of this batch is dropped: a StackNote after an unrecorded escrow decision
            # must never reach the validator.
            log.critical("journal write failed: %s; the terminal locks", exc)
            if self.on_journal_failed is not None:
                self.on_journal_failed(str(exc))
            self._follow(e.JournalFailed(str(exc)))

    def _prepaid_takes(self, event: Any) -> bool:
        """A card write's own step, or the tap of a card a write waits for (docs/prepaid.md)."""
        if self.prepaid is None or isinstance(event, e.Event):
            return False
        try:
            return bool(self._write(self.prepaid.offer, event))
        except WriteFailed as exc:  # a step not journaled must not be taken: lock
            log.critical("journal write failed: %s; the terminal locks", exc)
            self._follow(e.JournalFailed(str(exc)))
            return True

    def execute(self, cmd: c.Command) -> None:
        self._commands[type(cmd)](cmd)

    def _write(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except sqlite3.Error as exc:
            raise WriteFailed(f"{type(exc).__name__}: {exc}") from exc

    def translate(self, ev: d.DeviceEvent) -> e.Event | None:
        """Driver events → flow events. Some are handled here (flags) and go no further."""
        if isinstance(ev, d.NoteEscrowed):
            return e.NoteEscrowed(ev.denomination_minor)
        if isinstance(ev, d.NoteCredited):
            return e.NoteCredited(ev.denomination_minor)
        if isinstance(ev, d.NoteReturned):
            return e.NoteReturned(ev.denomination_minor, ev.reason)
        if isinstance(ev, d.NoteRejected):
            return e.NoteRejected(ev.reason)
        if isinstance(ev, d.CoinCredited):
            return e.CoinCredited(ev.value_minor, ev.event_counter)
        if isinstance(ev, d.CardPresented):
            return e.CardTapped(ev.card_uid, new_session_id())
        if isinstance(ev, d.CodeScanned):  # what the code is, decided here (kiosk/flow/scan.py)
            return classify(ev.text, self.config.scanner, new_session_id())
        if isinstance(ev, d.DeviceFault):
            return e.DeviceFaulted(ev.device, ev.code, ev.reason) if ev.locking else None
        if isinstance(ev, d.DeviceFaultCleared):
            return e.DeviceCleared(ev.device, ev.code)
        if isinstance(ev, d.EventsLost):
            try:
                self._write(self.journal.flag, self.session.session_id or "-", "events_lost",
                            ev.detail)
            except WriteFailed as exc:
                return e.JournalFailed(str(exc))
        return None

    def _current_timer(self, ev: e.TimerExpired) -> e.TimerExpired | None:
        """A timer restarted or cancelled after it fired is stale: its expiry means nothing."""
        claim = getattr(self.timers, "claim", None)
        if claim is not None and not claim(ev.name, ev.token):
            log.debug("stale timer %s/%s dropped", ev.name, ev.token)
            return None
        return ev

    # ---- lookups: the worker asks the server, this thread owns the cache and the journal
    def _lookup_card(self, cmd: c.LookupCard) -> None:
        self._background(self._fetch, session_id=cmd.session_id, card_uid=cmd.card_uid)

    def _lookup_account(self, cmd: c.LookupAccount) -> None:
        self._background(self._fetch, session_id=cmd.session_id, account_no=cmd.account_no)

    def _fetch(self, session_id: str, card_uid: str | None = None,
               account_no: str | None = None) -> None:
        self.post(lookups.fetch(self.billing, session_id, card_uid, account_no))

    def _lookup_done(self, done: lookups.LookupDone) -> e.Event | None:
        if done.session_id != self.session.session_id:
            log.info("dropped a lookup answer for session %s", done.session_id or "-")
            return None
        try:
            events, info = lookups.resolve(done, self.billing, self._unreflected)
        except sqlite3.Error as exc:  # the cache is in the journal's database
            return e.JournalFailed(f"{type(exc).__name__}: {exc}")
        for ev in events:
            self._follow(ev)
        if info is not None:
            self._follow(e.AccountFound(done.session_id, info,
                                        recently_paid=self._recently_paid(info.account_no)))
        return None

    def _unreflected(self, info: e.AccountInfo) -> int:
        as_of = None
        if info.from_cache and info.as_of:
            try:
                as_of = datetime.fromisoformat(info.as_of.replace("Z", "+00:00")).timestamp()
            except ValueError:
                as_of = 0.0  # an unreadable date: every payment of ours may be missing from it
        return self.journal.unreflected_minor(info.account_no, as_of)

    def _recently_paid(self, account_no: str) -> bool:
        last = self.journal.last_payment_at(account_no)  # queued payments count too
        if not last:
            return False
        window = timedelta(minutes=self.config.kiosk.duplicate_window_min)
        return datetime.now().astimezone() - datetime.fromisoformat(last) < window

    def _background(self, fn: Callable[..., None], **kwargs: Any) -> None:
        threading.Thread(target=fn, kwargs=kwargs, daemon=True).start()

    # ---- devices
    def _check_readiness(self, cmd: c.CheckReadiness) -> None:
        """The printer's own thread reads a fresh status and posts it; the answer follows then,
        so the deciding thread never waits on a serial exchange."""
        if self.printer_watch is None:
            self._answer_readiness(cmd.session_id, None)
            return
        self._readiness_for = cmd.session_id
        self.printer_watch.poke()

    def _answer_readiness(self, session_id: str, can_print: bool | None) -> None:
        # Cash can be taken when the note reader works, or, on a terminal built without one,
        # when the coin acceptor does.
        taker = self.devices.validator if self.devices.validator is not None else self.devices.coins
        self._follow(e.ReadinessChanged(session_id, self._healthy(taker), can_print))

    @staticmethod
    def _healthy(driver: Any) -> bool:
        if driver is None:
            return False
        try:
            return driver.health().state in (d.HealthState.OK, d.HealthState.DEGRADED)
        except Exception:
            return False

    def _device_call(self, device: Any, method: str, *args: Any) -> None:
        """A device that is unplugged or reconnecting must not take the deciding thread down;
        its fault reaches the flow as an event from the device manager."""
        if device is None:
            return
        try:
            getattr(device, method)(*args)
        except DriverError as exc:
            log.error("%s.%s failed: %s", getattr(device, "name", "device"), method, exc)

    def _enable_acceptors(self, cmd: c.EnableAcceptors) -> None:
        self._device_call(self.devices.validator, "enable", cmd.notes_minor)
        self._device_call(self.devices.coins, "enable", cmd.coins_minor)

    def _disable_acceptors(self, cmd: c.DisableAcceptors) -> None:
        self._device_call(self.devices.validator, "disable")
        self._device_call(self.devices.coins, "disable")

    def _stack_note(self, cmd: c.StackNote) -> None:
        self._device_call(self.devices.validator, "stack")
        crash_point("after_stack_sent")

    def _return_note(self, cmd: c.ReturnNote) -> None:
        self._device_call(self.devices.validator, "return_note")

    # ---- journal
    def _journal_session_start(self, cmd: c.JournalSessionStart) -> None:
        self._write(self.journal.session_start, cmd.session_id, cmd.account_no, cmd.target_minor)

    def _journal_escrow(self, cmd: c.JournalEscrow) -> None:
        self._write(self.journal.escrow, cmd.session_id, cmd.seq, cmd.value_minor, cmd.decision,
                    cmd.reason)

    def _journal_credit(self, cmd: c.JournalCredit) -> None:
        if not cmd.session_id:
            self._write(self.journal.flag, "-", "credit_without_session",
                        f"{cmd.tender} of {cmd.value_minor} credited with no session open",
                        cmd.value_minor, cmd.device_counter)
        else:
            self._write(self.journal.credit, cmd.session_id, cmd.seq, cmd.tender,
                        cmd.value_minor, cmd.device_counter)
        if cmd.device_counter is not None:
            self.coin_event_counter = cmd.device_counter

    def _journal_returned(self, cmd: c.JournalReturned) -> None:
        self._write(self.journal.returned, cmd.session_id, cmd.seq, cmd.value_minor, cmd.reason)

    def _journal_session_end(self, cmd: c.JournalSessionEnd) -> None:
        self._write(self.journal.session_end, cmd.session_id, cmd.outcome)

    def _commit_payment(self, cmd: c.CommitPayment) -> None:
        record = self._write(
            self.journal.commit_payment, cmd.session_id, cmd.account_no, cmd.notes, cmd.coins,
            cmd.amount_minor, cmd.offline, False, cmd.prepaid_card)
        self._follow(self.queue_state())
        self._follow(e.PaymentCommitted(cmd.session_id, record.txn_id, record.receipt_no))
        if cmd.prepaid_card and self.prepaid is not None:
            self._write(self.prepaid.start, record.txn_id)  # the payment is committed first

    def queue_state(self, online: bool | None = None) -> e.QueueChanged:
        stats = self.outbox.stats()
        if online is None:
            online = self.session.queue.online
        # The offline caps bound the cash at risk: queued payments only, not the ratings,
        # service requests and cash-box reports queued beside them (docs/promises.md).
        return e.QueueChanged(e.QueueState(
            online=online, pending_count=stats.open_payments,
            pending_total_minor=stats.pending_total_minor,
            oldest_pending_age_s=stats.oldest_payment_age_s,
        ))

    def post_queue_state(self, online: bool | None = None) -> None:
        """On the deciding thread: read the outbox and hand the figures to the flow."""
        self.handle(self.queue_state(online))

    # ---- receipt
    def receipt_for(self, txn_id: str) -> ReceiptData | None:
        rec = self.journal.payment(txn_id)
        if rec is None:
            return None
        data = ReceiptData(rec, self.config.kiosk.service_phone)
        if self.receipt_signer is None:
            return data
        return dataclasses.replace(data, signed_qr=self.receipt_signer(data))

    def _print_receipt(self, cmd: c.PrintReceipt) -> None:
        data = self.receipt_for(cmd.txn_id)
        if data is None or self.devices.printer is None:
            self._follow(e.ReceiptFailed(cmd.txn_id, "no_printer"))
            return
        self._background(self._print, data=data)

    def reprint(self, txn_id: str) -> None:
        """Reprint (any thread): the same receipt again; never touches the payment."""
        self.post(Reprint(txn_id))

    def _reprint(self, txn_id: str) -> None:
        data = self.receipt_for(txn_id)
        if data is not None and self.devices.printer is not None:
            self._background(self._print, data=data, reprint=True)
        return None

    def _print(self, data: ReceiptData, reprint: bool = False) -> None:
        """On a worker thread; the driver re-reads the printer's status right before printing."""
        title, lines, qr = receipt_lines(data, self.lang)
        if reprint:
            lines = lines + ("(REPRINT / 补打)",)
        try:
            self.devices.printer.print_job(d.PrintJob(lines=lines, qr=qr, title=title))
        except Exception as exc:  # PrinterError or a link failure: the screen shows the QR instead
            log.warning("receipt %s not printed: %s", data.payment.receipt_no, exc)
            self.post(e.ReceiptFailed(data.payment.txn_id, str(exc) or type(exc).__name__))
            self.post(e.PrinterStatusSeen(_can_print(self.devices.printer)))
            return
        crash_point("after_receipt_printed")
        self.post(e.ReceiptPrinted(data.payment.txn_id))

    def _queue_rating(self, cmd: c.QueueRating) -> None:
        self._write(self.journal.enqueue, "rating", f"rating-{cmd.txn_id}", {
            "kiosk_id": self.config.kiosk.id, "feedback_id": f"rating-{cmd.txn_id}",
            "rating": cmd.stars, "txn_id": cmd.txn_id,
            "created_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        })

    # ---- timers
    def _start_timer(self, cmd: c.StartTimer) -> None:
        self.timers.start(cmd.name, cmd.seconds)

    def _cancel_timer(self, cmd: c.CancelTimer) -> None:
        self.timers.cancel(cmd.name)


def _can_print(printer: Any) -> bool | None:
    """What the driver last saw (no new exchange): None when it does not know."""
    try:
        status = printer.last_status
    except Exception:
        return None
    return getattr(status, "can_print", None)
