"""The terminal: database, devices, runner, sync worker, wired from config. Headless runs
(``kiosk simulate``, ``kiosk demo --headless``, tests) decide on the thread that pumps; the Kivy
app starts it with a deciding thread of its own and only receives settled sessions."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from drivers import interfaces as d
from drivers.transport import SimulatorHub
from kiosk.config import Config
from kiosk.flow.events import CodeTenderConfigured
from kiosk.flow.session import JOURNAL_FAULT, Phase, Session
from kiosk.services.billing_client import BillingClient
from kiosk.services.control_ops import TerminalControl
from drivers.errors import DriverError
from drivers.manager import DeviceManager
from kiosk.services.devices import open_device
from kiosk.services.events_bridge import EventQueue, ThreadTimers
from kiosk.services.identity import kiosk_auth, refuse_shared, signed
from kiosk.services.archive_watch import ArchiveWatch
from kiosk.services.integrity_watch import IntegrityWatch
from kiosk.services.receipt_signing import ReceiptSigner
from kiosk.services.recovery import print_fault_slips, reconcile
from kiosk.services.printer_watch import PrinterWatch
from kiosk.services import code_pay, prepaid_writer
from kiosk.services.runner import Devices, SessionRunner
from kiosk.staff.faults import check_on_start
from kiosk.staff.journal_guard import guard_on_start
from kiosk.staff.wiring import attach_staff
from offline_queue.cache import ReferenceCache
from offline_queue.checkpoint import Checkpointer, leave_checkpoints
from offline_queue.journal import Journal, payment_body_of
from offline_queue.outbox import Outbox
from offline_queue.errors import IntegrityError
from offline_queue.schema import connect
from offline_queue.startup_check import recent_problem
from offline_queue.sync import SyncResult, SyncWorker, run_forever

log = logging.getLogger(__name__)

#: the runner's device roles → configured device names
DEVICE_ROLES = {"validator": "bill_validator", "coins": "coin_acceptor", "card": "card_reader",
                "printer": "printer", "scanner": "scanner"}

#: where a staff card opens the PIN pad: nobody's session is under way
STAFF_CARD_PHASES = frozenset({Phase.IDLE, Phase.OUT_OF_SERVICE})


@dataclass(frozen=True)
class _Call:
    fn: Callable[[], Any]


class Terminal:
    def __init__(self, config: Config, hub: SimulatorHub | None = None, sync: bool = True,
                 events: Any = None,
                 timers_factory: Callable[[Callable[[Any], None]], Any] | None = None,
                 deciding_thread: bool = False, serve_control: bool = True) -> None:
        """``events`` (post/get) and ``timers_factory(post)``: the app passes Kivy-clock timers.
        ``deciding_thread``: start-up and every decision run on a thread of their own (the app);
        otherwise on the thread that calls ``start`` and ``pump`` (headless runs, tests)."""
        self.config = config
        self.deciding_thread = deciding_thread
        #: sees every event before the runner; False drops it (the app's staff self-tests)
        self.event_filter: Callable[[Any], bool] | None = None
        #: each sees every event first and True keeps it from the runner (a staff tool waiting
        #: for a card tap, a staff card on the attract screen)
        self.interceptors: list[Callable[[Any], bool]] = []
        #: called with the staff id when a registered staff card is tapped on the attract or
        #: out-of-service screen (the app opens the PIN pad for that user)
        self.on_staff_card: list[Callable[[str], None]] = []
        #: the control socket staff tools talk to (kiosk.services.control); None when not served
        self.control: Any = None
        self.serve_control = serve_control
        self.printer_watch: PrinterWatch | None = None
        self._decider: threading.Thread | None = None
        self._settled = threading.Condition()
        self.hub = hub
        self.sync_enabled = sync
        self.events = events if events is not None else EventQueue()
        self.timers_factory = timers_factory or ThreadTimers
        self.power_up: str | None = None
        self.reconciliation: list[str] = []
        self.device_errors: dict[str, str] = {}
        self._stop = threading.Event()
        self._sync_stop = threading.Event()
        self._sync_thread: threading.Thread | None = None
        self.online = True
        self._power_up_released = False
        self._came_up: set[str] = set()  # devices whose first power-up since start was seen

    # ---- start-up: reconciliation before any money is accepted (docs/promises.md)
    def start(self, power_up_wait_s: float = 10.0) -> None:
        """Start up; with a deciding thread, start-up runs on it (the database connection is
        that thread's own) and this returns once it is done, raising what start-up raised."""
        if not self.deciding_thread:
            self._start_up(power_up_wait_s)
            self.runner.own_thread()
            return
        started = threading.Event()
        failed: list[BaseException] = []

        def decide() -> None:
            try:
                self._start_up(power_up_wait_s)
                self.runner.own_thread()
            except BaseException as exc:  # handed to the caller of start()
                failed.append(exc)
                return
            finally:
                started.set()
            self._decide_forever()

        self._decider = threading.Thread(target=decide, name="decide", daemon=True)
        self._decider.start()
        started.wait()
        if failed:
            self._decider = None
            raise failed[0]

    def _decide_forever(self) -> None:
        while not self._stop.is_set():
            ev = self.events.get(0.2)
            if ev is None:
                continue
            try:
                self.dispatch(ev)
            except Exception:  # one bad event must not stop the terminal deciding
                log.exception("handling %s failed", type(ev).__name__)

    def _start_up(self, power_up_wait_s: float) -> None:
        refuse_shared(self.config)  # a database or key file others can read: docs/security.md
        self.db = connect(self.config.kiosk.db)  # its folders made 0700, the file 0600
        leave_checkpoints(self.db)  # a resident's commit never copies the log back (below)
        # Bounded: what a power cut can tear; the whole file is checked once idle (below).
        problem = check_on_start(self.db, self.config.kiosk.db, recent_problem)  # persisted
        if problem is not None:
            raise IntegrityError(f"database integrity check failed: {problem}")
        # A database new, shorter or behind its high-water record locks (raises JournalFault).
        self.highwater = guard_on_start(self.db, self.config, self.hub)
        self.journal = Journal(self.db, self.config.kiosk.id, on_commit=self.highwater.advance)
        self.outbox = Outbox(self.db)
        released = self.outbox.release_in_flight()
        if released:
            log.warning("released %d in-flight deliveries left by the last run", released)
        self.billing = BillingClient(
            self.config.billing.url, ReferenceCache(self.db),
            self.config.billing.connect_timeout_s, self.config.billing.read_timeout_s,
            tls=self.config.billing.tls(),
        )
        signed(self.billing, self.config)  # every request signed as this kiosk
        # The manager owns the drivers: health per device, crash containment, reconnect after an
        # unplug. The runner holds stable handles, so a reconnected device is the same object.
        self.manager = DeviceManager(
            list(self.config.devices),
            opener=lambda name: open_device(name, self.config.devices[name],
                                            hold_power_up=not self._power_up_released,
                                            coin_event_counter=self._coin_event_counter()),
            post=self.events.post,
        )
        self.manager.start()
        # A disabled device is not configured at all: its role stays None (the runner skips it).
        self.devices = Devices(**{role: self.manager.handle(name) for role, name in DEVICE_ROLES.items()
                                  if name in self.config.devices})
        self.device_errors = {name: h.reason for name, h in self.manager.health().items()
                              if h.state == d.HealthState.FAULT}
        self.timers = self.timers_factory(self.events.post)
        self.runner = SessionRunner(self.config, self.journal, self.outbox, self.billing,
                                    self.devices, self.events.post, self.timers)
        if self.devices.printer is not None:
            # Its first reading is queued now; later ones come from its own thread.
            self.printer_watch = PrinterWatch(self.devices.printer, self.events.post)
            self.printer_watch.read_once()
            self.runner.printer_watch = self.printer_watch
        self.runner.on_change.append(self._notify_settled)
        self.runner.receipt_signer = ReceiptSigner.for_config(self.config, kiosk_auth(self.config).key)
        held: list[Any] = []
        if "bill_validator" in self.config.devices and "bill_validator" not in self.device_errors:
            deadline = time.monotonic() + power_up_wait_s
            while self.power_up is None and time.monotonic() < deadline:
                ev = self.events.get(0.05)
                if isinstance(ev, d.PowerUp) and ev.device == "bill_validator":
                    self.power_up = ev.condition
                    self._came_up.add(ev.device)
                elif ev is not None:
                    held.append(ev)
        self.reconciliation = reconcile(self.journal, self.power_up, offline=False)
        self._release_power_up()
        print_fault_slips(self.journal, self.devices.printer, self.config.kiosk.id,
                          self.config.kiosk.service_phone)
        self.staff = attach_staff(self, idle_timeout_s=self.config.staff.idle_timeout_s)
        # persisted locks are back on before any event is handled
        self.interceptors.append(self._staff_card)
        self.runner.on_journal_failed = self._persist_journal_fault
        if self.devices.card is not None:  # prepaid purchases owed to cards resume (docs/prepaid.md)
            self.runner.prepaid = prepaid_writer.for_terminal(
                self.db, self.billing, self.config.kiosk.id, self.devices.card,
                self.devices.printer, self.events.post)
            self.runner.prepaid.resume_pending()
        # the code tender (kiosk/services/code_pay.py): orders left open are resolved first
        self.code_pay = code_pay.for_terminal(self.config, self.db, self.events.post)
        if self.code_pay is not None:
            self.code_pay.attach(self.runner)
            self.code_pay.resolve_open()
            self.events.post(CodeTenderConfigured(True))
        for ev in held:
            self.events.post(ev)
        self.runner.post_queue_state()
        if self.printer_watch is not None:
            self.printer_watch.start()
        if self.sync_enabled:
            self.start_sync()
        # The session is replaced whole on the deciding thread; reading its phase is a snapshot.
        # WAL checkpoints on their own thread, at idle (offline_queue/checkpoint.py).
        self.checkpointer = Checkpointer(
            self.config.kiosk.db, connect,
            is_idle=lambda: self.runner.session.phase == Phase.IDLE).start()
        self.integrity_watch = IntegrityWatch(
            self.config.kiosk.db, self.events.post,
            is_idle=lambda: self.runner.session.phase == Phase.IDLE).start()
        # Retention at idle, once a day (kiosk/services/archive_watch.py; [archive] keep_days).
        self.archive_watch = ArchiveWatch(
            self.config.kiosk.db, self.config.archive.keep_days,
            is_idle=lambda: self.runner.session.phase == Phase.IDLE,
            rebuild=payment_body_of(self.config.kiosk.id, self.journal.encode)).start()
        if self.serve_control:
            self._serve_control()

    def _serve_control(self) -> None:
        """Staff tools reach this terminal through its control socket; a terminal already
        answering on this state directory refuses the start (it holds the same ports)."""
        control = TerminalControl(self)
        try:
            control.start()
        except OSError as exc:  # staff tools fall back to the database; the terminal runs
            log.error("control socket not served: %s", exc)
            return
        self.control = control

    def _staff_card(self, ev: Any) -> bool:
        """A registered staff card on the attract or out-of-service screen opens the PIN pad
        for its user; any other card (a resident's) goes to the runner as always."""
        if not isinstance(ev, d.CardPresented) or not self.on_staff_card:
            return False
        if self.runner.session.phase not in STAFF_CARD_PHASES:
            return False
        user = self.staff.cards.user_for(ev.card_uid)
        if user is None:
            return False
        for listener in list(self.on_staff_card):
            listener(user)
        return True

    def _persist_journal_fault(self, reason: str) -> None:
        """Record the lock where staff clear faults; when the database refuses that too, the
        lock holds in memory and the next start finds the same failing journal."""
        device, code = JOURNAL_FAULT
        try:
            self.staff.faults.raised(device, code, reason)
        except Exception as exc:
            log.error("journal fault not recorded in the database: %s", exc)

    def _coin_event_counter(self) -> int | None:
        """For the device manager's thread (a reconnect): the runner's copy, never the journal
        (that connection belongs to the deciding thread)."""
        runner = getattr(self, "runner", None)
        if runner is not None:
            return runner.coin_event_counter
        if not hasattr(self, "_start_coin_counter"):
            self._start_coin_counter = self.journal.coin_event_counter()
        return self._start_coin_counter

    def _release_power_up(self) -> None:
        """Reconciliation is committed: let the validator's reset resolve its power-up."""
        self._power_up_released = True
        try:
            self.devices.validator.release_power_up()
        except (DriverError, AttributeError) as exc:
            log.warning("validator power-up not released: %s", exc)

    def start_sync(self) -> None:
        ready = threading.Event()

        def deliver() -> None:
            # Its own connection, opened on its own thread (a connection serves one thread).
            self.sync_worker = SyncWorker(
                Outbox(connect(self.config.kiosk.db, durable=False)), self.config.billing.url,
                connect_timeout=self.config.billing.connect_timeout_s,
                read_timeout=self.config.billing.read_timeout_s, tls=self.config.billing.tls(),
            )
            signed(self.sync_worker, self.config)
            ready.set()
            try:
                run_forever(self.sync_worker, self._sync_stop, self.config.billing.sync_interval_s,
                            self.events.post, offline=self._believes_offline)
            finally:
                self.sync_worker.outbox.db.conn.close()

        self._sync_stop.clear()
        self._sync_thread = threading.Thread(target=deliver, name="sync", daemon=True)
        self._sync_thread.start()
        ready.wait(30)

    # ---- the deciding thread
    def pump(self, until: Callable[[Session], bool] | None = None, timeout: float = 10.0) -> bool:
        """Handle events until ``until(session)`` holds (True) or the timeout passes (False).
        With a deciding thread of its own, only wait for the session it settles."""
        deadline = time.monotonic() + timeout
        if self._decider is not None:
            with self._settled:
                while until is None or not until(self.runner.session):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return until is None
                    self._settled.wait(min(remaining, 0.05))
                return True
        while True:
            if until is not None and until(self.runner.session):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return until is None
            ev = self.events.get(min(remaining, 0.05))
            if ev is not None:
                self.dispatch(ev)

    def call_soon(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the deciding thread (staff tools acting on the running terminal)."""
        self.events.post(_Call(fn))

    def dispatch(self, ev: Any) -> None:
        if self.event_filter is not None and not self.event_filter(ev):
            return
        if isinstance(ev, _Call):
            ev.fn()
            return
        for intercept in list(self.interceptors):
            if intercept(ev):
                return
        if isinstance(ev, SyncResult):
            if ev.reachable is not None:  # a health probe: the server's own word
                self.online = ev.reachable
                self.runner.post_queue_state(online=self.online)
            elif ev.news:
                self.online = not ev.circuit_open and not (ev.retried and not ev.delivered)
                self.runner.post_queue_state(online=self.online)
            else:  # nothing was due (backoff): no news about the network, keep what we know
                self.runner.post_queue_state()
        elif isinstance(ev, d.PowerUp):
            self._log_power_up(ev)
        else:
            self.runner.handle(ev)

    def _believes_offline(self) -> bool:
        """Read on the sync thread (no writes): a failed delivery or a failed lookup (the
        session's queue state) says the network is down."""
        return not self.online or not self.runner.session.queue.online

    def _log_power_up(self, ev: d.PowerUp) -> None:
        """A device's first power-up is its start (worth a look only when not normal); any
        later one (a reset, a reconnect) happened while the terminal was running."""
        if ev.device in self._came_up:
            log.warning("%s powered up (%s) while running", ev.device, ev.condition)
            return
        self._came_up.add(ev.device)
        level = logging.INFO if ev.condition == "normal" else logging.WARNING
        log.log(level, "%s powered up (%s) at start", ev.device, ev.condition)

    def stop_sync(self) -> None:
        self._sync_stop.set()
        if self._sync_thread is not None:
            self._sync_thread.join(timeout=30)
            self._sync_thread = None

    def drain(self, budget_s: float = 10.0) -> None:
        """Deliver what is queued now, on the calling thread through its own connection (the
        background worker stopped first)."""
        self.stop_sync()
        outbox = Outbox(connect(self.config.kiosk.db, durable=False))
        worker = SyncWorker(outbox, self.config.billing.url,
                            connect_timeout=self.config.billing.connect_timeout_s,
                            read_timeout=self.config.billing.read_timeout_s,
                            tls=self.config.billing.tls())
        signed(worker, self.config)
        deadline = time.monotonic() + budget_s
        try:
            while time.monotonic() < deadline:
                stats = outbox.stats()
                if stats.pending + stats.in_flight == 0:
                    return
                result = worker.run_once(ignore_backoff=True)
                if result.retried and not result.delivered:
                    return  # the server is down: the rest stays queued, safely
        finally:
            outbox.db.conn.close()

    def _notify_settled(self, _session: Session) -> None:
        with self._settled:
            self._settled.notify_all()

    def stop(self) -> None:
        if self.control is not None:
            self.control.stop()
            self.control = None
        self._stop.set()
        if self._decider is not None and self._decider is not threading.current_thread():
            self._decider.join(timeout=10)
        self._decider = None
        self.stop_sync()
        if getattr(self, "integrity_watch", None) is not None:
            self.integrity_watch.stop()
        if getattr(self, "archive_watch", None) is not None:
            self.archive_watch.stop()
        if getattr(self, "checkpointer", None) is not None:
            self.checkpointer.stop()
        if self.printer_watch is not None:
            self.printer_watch.stop()
        if hasattr(self, "timers"):
            self.timers.cancel_all()
        if hasattr(self, "manager"):
            self.manager.stop()
        if self.hub is not None:
            self.hub.stop()
