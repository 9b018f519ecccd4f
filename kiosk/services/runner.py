"""The session runner: feeds events to the pure reducer on one thread and carries out its
commands. Journal writes happen here, synchronously, before the money-moving command that
follows them (DESIGN §2); slow I/O (lookups, printing) runs on worker threads that post back."""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from drivers import interfaces as d
from drivers.errors import DriverError
from kiosk.config import Config
from kiosk.flow import commands as c
from kiosk.flow import events as e
from kiosk.flow.receipt import ReceiptData, receipt_lines
from kiosk.flow.session import Session, advance
from kiosk.services.billing_client import BillingClient, LookupFailed
from offline_queue.crash import crash_point
from offline_queue.journal import Journal
from offline_queue.outbox import Outbox

log = logging.getLogger(__name__)


@dataclass
class Devices:
    validator: Any = None  # drivers.interfaces.BillValidator
    coins: Any = None  # drivers.interfaces.CoinAcceptor
    card: Any = None  # drivers.interfaces.CardReader
    printer: Any = None  # drivers.interfaces.ReceiptPrinter


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
        self.on_change: list[Callable[[Session], None]] = []
        self.history: list[str] = []  # phases seen, for tests and the demo log
        #: sees every driver event first (kiosk.staff.faults.DeviceWatch: locking faults, cash box)
        self.device_watch: Callable[[d.DeviceEvent], None] | None = None

    # ---- intents (screens, the demo, the simulate script)
    def enter_account(self, text: str) -> None:
        self.post(e.AccountEntered(text, new_session_id()))

    # ---- the one deciding thread
    def handle(self, event: Any) -> None:
        if isinstance(event, d.DeviceEvent):
            if self.device_watch is not None:
                self.device_watch(event)
            event = self.translate(event)
            if event is None:
                return
        before = self.session.phase
        self.session, cmds = advance(self.session, event)
        if self.session.phase != before:
            self.history.append(self.session.phase.value)
            log.info("phase %s → %s", before.value, self.session.phase.value)
        if isinstance(event, e.ReceiptPrinted) and self.session.txn_id:
            self.journal.mark_printed(self.session.txn_id)
        for cmd in cmds:
            self.execute(cmd)
        for listener in self.on_change:
            listener(self.session)

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
        if isinstance(ev, d.DeviceFault):
            return e.DeviceFaulted(ev.device, ev.code, ev.reason) if ev.locking else None
        if isinstance(ev, d.DeviceFaultCleared):
            return e.DeviceCleared(ev.device, ev.code)
        if isinstance(ev, d.EventsLost):
            self.journal.flag(self.session.session_id or "-", "events_lost", ev.detail)
        return None

    def execute(self, cmd: c.Command) -> None:
        method = getattr(self, "_do_" + type(cmd).__name__)
        method(cmd)

    # ---- lookups (worker threads post the answer)
    def _do_LookupCard(self, cmd: c.LookupCard) -> None:
        self._background(self._lookup, card_uid=cmd.card_uid)

    def _do_LookupAccount(self, cmd: c.LookupAccount) -> None:
        self._background(self._lookup, account_no=cmd.account_no)

    def _lookup(self, card_uid: str | None = None, account_no: str | None = None) -> None:
        try:
            if card_uid is not None:
                account_no = self.billing.card(card_uid)
            assert account_no is not None
            info = self.billing.account(account_no)
        except LookupFailed as exc:
            if exc.reason.endswith("_offline"):
                self.post(e.ConnectivityChanged(online=False))
            self.post(e.AccountNotFound(exc.reason))
            return
        except Exception:  # never a traceback on the resident's screen
            log.exception("account lookup failed")
            self.post(e.AccountNotFound("lookup_failed"))
            return
        self.post(e.ConnectivityChanged(online=not info.from_cache))
        self.post(e.AccountFound(info, recently_paid=self._recently_paid(info.account_no)))

    def _recently_paid(self, account_no: str) -> bool:
        last = self.journal.last_payment_at(account_no)  # queued payments count too
        if not last:
            return False
        window = timedelta(minutes=self.config.kiosk.duplicate_window_min)
        return datetime.now().astimezone() - datetime.fromisoformat(last) < window

    def _background(self, fn: Callable[..., None], **kwargs: Any) -> None:
        threading.Thread(target=fn, kwargs=kwargs, daemon=True).start()

    # ---- devices
    def _do_CheckReadiness(self, cmd: c.CheckReadiness) -> None:
        validator_ok = self._healthy(self.devices.validator)
        printer = self.devices.printer
        can_print: bool | None = None
        if printer is not None:
            try:
                can_print = printer.status().can_print
            except Exception:
                log.exception("printer status failed")
                can_print = None
        self.handle(e.ReadinessChanged(validator_ok, can_print))

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

    def _do_EnableAcceptors(self, cmd: c.EnableAcceptors) -> None:
        self._device_call(self.devices.validator, "enable", cmd.notes_minor)
        self._device_call(self.devices.coins, "enable", cmd.coins_minor)

    def _do_DisableAcceptors(self, cmd: c.DisableAcceptors) -> None:
        self._device_call(self.devices.validator, "disable")
        self._device_call(self.devices.coins, "disable")

    def _do_StackNote(self, cmd: c.StackNote) -> None:
        self._device_call(self.devices.validator, "stack")
        crash_point("after_stack_sent")

    def _do_ReturnNote(self, cmd: c.ReturnNote) -> None:
        self._device_call(self.devices.validator, "return_note")

    # ---- journal
    def _do_JournalSessionStart(self, cmd: c.JournalSessionStart) -> None:
        self.journal.session_start(cmd.session_id, cmd.account_no, cmd.target_minor)

    def _do_JournalEscrow(self, cmd: c.JournalEscrow) -> None:
        self.journal.escrow(cmd.session_id, cmd.seq, cmd.value_minor, cmd.decision, cmd.reason)

    def _do_JournalCredit(self, cmd: c.JournalCredit) -> None:
        if not cmd.session_id:
            self.journal.flag("-", "credit_without_session",
                              f"{cmd.tender} of {cmd.value_minor} credited with no session open",
                              cmd.value_minor, cmd.device_counter)
            return
        self.journal.credit(cmd.session_id, cmd.seq, cmd.tender, cmd.value_minor,
                            cmd.device_counter)

    def _do_JournalReturned(self, cmd: c.JournalReturned) -> None:
        self.journal.returned(cmd.session_id, cmd.seq, cmd.value_minor, cmd.reason)

    def _do_JournalSessionEnd(self, cmd: c.JournalSessionEnd) -> None:
        self.journal.session_end(cmd.session_id, cmd.outcome)

    def _do_CommitPayment(self, cmd: c.CommitPayment) -> None:
        record = self.journal.commit_payment(
            cmd.session_id, cmd.account_no, dict(cmd.notes), dict(cmd.coins), cmd.amount_minor,
            cmd.offline,
        )
        self.post_queue_state()
        if cmd.session_id == self.session.session_id:
            self.handle(e.PaymentCommitted(record.txn_id, record.receipt_no))

    def post_queue_state(self, online: bool | None = None) -> None:
        stats = self.outbox.stats()
        if online is None:
            online = self.session.queue.online
        self.handle(e.QueueChanged(e.QueueState(
            online=online, pending_count=stats.pending + stats.in_flight,
            pending_total_minor=stats.pending_total_minor,
            oldest_pending_age_s=stats.oldest_pending_age_s,
        )))

    # ---- receipt
    def receipt_for(self, txn_id: str) -> ReceiptData | None:
        rec = self.journal.payment(txn_id)
        if rec is None:
            return None
        return ReceiptData(self.config.kiosk.id, self.config.kiosk.service_phone, rec.receipt_no,
                           rec.txn_id, rec.account_no, rec.amount_minor, rec.notes, rec.coins,
                           rec.created_at, rec.offline)

    def _do_PrintReceipt(self, cmd: c.PrintReceipt) -> None:
        data = self.receipt_for(cmd.txn_id)
        if data is None or self.devices.printer is None:
            self.handle(e.ReceiptFailed("no_printer"))
            return
        self._background(self._print, data=data)

    def reprint(self, txn_id: str) -> None:
        """Reprint: the same receipt again; never touches the payment."""
        data = self.receipt_for(txn_id)
        if data is not None and self.devices.printer is not None:
            self._background(self._print, data=data, reprint=True)

    def _print(self, data: ReceiptData, reprint: bool = False) -> None:
        title, lines, qr = receipt_lines(data, self.lang)
        if reprint:
            lines = lines + ("(REPRINT / 补打)",)
        try:
            self.devices.printer.print_job(d.PrintJob(lines=lines, qr=qr, title=title))
        except Exception as exc:  # PrinterError or a link failure: the screen shows the QR instead
            log.warning("receipt %s not printed: %s", data.receipt_no, exc)
            self.post(e.ReceiptFailed(str(exc) or type(exc).__name__))
            return
        crash_point("after_receipt_printed")
        self.post(e.ReceiptPrinted())

    def _do_QueueRating(self, cmd: c.QueueRating) -> None:
        self.journal.enqueue("rating", f"rating-{cmd.txn_id}", "/v1/feedback", {
            "kiosk_id": self.config.kiosk.id, "feedback_id": f"rating-{cmd.txn_id}",
            "rating": cmd.stars, "txn_id": cmd.txn_id,
            "created_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        })

    # ---- timers
    def _do_StartTimer(self, cmd: c.StartTimer) -> None:
        self.timers.start(cmd.name, cmd.seconds)

    def _do_CancelTimer(self, cmd: c.CancelTimer) -> None:
        self.timers.cancel(cmd.name)
