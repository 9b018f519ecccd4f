"""``StaffConsole``: the one object staff screens and staff commands call.

Every method takes the caller's ``StaffSession`` and checks its permission first (a denial and
an idle session are audited by ``StaffAuth``); every action that changes or reveals something
is appended to the audit log. No Kivy here: the screens show what these methods return and
turn the ``StaffError`` codes into words.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping

from sqlite_utils import Database

from kiosk.config import Config
from kiosk.flow import events as e
from kiosk.staff import audit as a
from kiosk.staff import audit_keys
from kiosk.staff.billing_queries import ApiHealth, ApiUnavailable, BillingProbe
from kiosk.staff.cards import StaffCards, key_path
from kiosk.staff.auth import LockoutPolicy, Permission, StaffAuth, StaffSession
from kiosk.staff.collection import BlindBatch, CollectionResult, CollectionService, CounterSource
from kiosk.staff.diag import diagnose
from kiosk.staff.errors import FaultNotClearable
from kiosk.staff.faults import CASHBOX_CODES, LockingFault, LockingFaults, integrity_problem
from kiosk.staff.pins import ScryptParams, scrypt_params
from kiosk.staff.probe import DeviceView
from kiosk.staff.report import DailyReports
from kiosk.staff.report_format import report_job
from kiosk.staff.resolutions import READDRESSED, PaymentResolutions, Resolution
from kiosk.staff.selftest import SelfTestResult
from offline_queue.highwater import record_path
from offline_queue.journal import Journal
from offline_queue.outbox import Outbox

log = logging.getLogger(__name__)

P = Permission


def _audited(done: Resolution) -> dict[str, Any]:
    shown = done.as_dict()  # accounts and the phone masked
    keep = ("txn_id", "amount_minor", "old_account") + (
        ("new_txn_id", "new_account") if done.kind == READDRESSED else ("phone",))
    return {k: shown[k] for k in keep}


@dataclass(frozen=True)
class Printed:
    ok: bool
    reason: str = ""


class StaffConsole:
    def __init__(self, db: Database, config: Config, journal: Journal, *,
                 db_path: str | None = None, clock: Callable[[], float] = time.time,
                 params: ScryptParams | None = None, policy: LockoutPolicy | None = None,
                 idle_timeout_s: float = 120.0, printer: Any = None,
                 post: Callable[[Any], None] | None = None, counters: CounterSource | None = None,
                 device_health: Callable[[], Mapping[str, Any]] | None = None) -> None:
        self.db = db
        self.config = config
        self.journal = journal
        self.outbox = Outbox(db)
        self.clock = clock
        self.now = lambda: datetime.fromtimestamp(self.clock()).astimezone()
        self.audit = a.AuditLog(db, self.now, keys=audit_keys.configured(config))
        self.auth = StaffAuth(db, self.audit, clock=clock,
                              params=params or scrypt_params(config.staff.scrypt_n),
                              policy=policy or LockoutPolicy.of(config.staff),
                              idle_timeout_s=idle_timeout_s)
        self.faults = LockingFaults(db, db_path if db_path is not None else config.kiosk.db,
                                    self.audit, self.now,
                                    highwater=record_path(config.kiosk.state_dir))
        self.collections = CollectionService(db, journal, config.kiosk.id,
                                             config.limits.accepted_notes_minor, counters, self.now)
        self.resolutions = PaymentResolutions(db, journal, self.now)
        self.reports = DailyReports(db, config.kiosk.id, self.now, self.resolutions.outstanding)
        self.cards = StaffCards(db, key_path(config.kiosk.state_dir), self.audit, self.now)
        self.printer = printer
        self.post = post
        self.device_health = device_health

    # ---------------------------------------------------------------- sessions
    def login(self, user_id: str, pin: str) -> StaffSession:
        return self.auth.login(user_id, pin)

    def logout(self, session: StaffSession) -> None:
        self.auth.logout(session)

    def auth_on(self, db: Database) -> StaffAuth:
        """The same staff directory, cost, lockout and idle timeout on another connection (a
        thread of its own checks a PIN for a control-socket request; the session it returns
        is then used here)."""
        return StaffAuth(db, a.AuditLog(db, self.now, keys=self.audit.keys), clock=self.clock, params=self.auth.params,
                         policy=self.auth.policy, idle_timeout_s=self.auth.idle_timeout_s)

    def _do(self, session: StaffSession, perm: Permission, what: str) -> None:
        self.auth.check(session, perm, what)

    def _log(self, session: StaffSession, action: str, **detail: Any) -> None:
        self.audit.append(session.actor, session.role.value, action, **detail)

    def alive(self, session: StaffSession) -> bool:
        """For the staff screens' idle timer: False once the session has ended (audited)."""
        return self.auth.alive(session)

    # ---------------------------------------------------------------- maintenance
    def diagnostics_report(self, views: Mapping[str, DeviceView], api: ApiHealth | None,
                           self_tests: Iterable[SelfTestResult] = (),
                           ports: list[dict[str, str]] | None = None,
                           recent_log: list[str] | None = None) -> dict[str, Any]:
        """The diagnostics report (kiosk.staff.diag) from device views and an API check."""
        cfg = self.config
        return diagnose(
            kiosk_id=cfg.kiosk.id, devices=cfg.devices, views=views, api=api,
            queue=self.outbox.stats(), dead_rows=self.outbox.dead_rows(),
            max_age_s=cfg.limits.offline_max_oldest_age_s, db_path=cfg.kiosk.db,
            db_problem=integrity_problem(self.db), locks=self.faults.active(),
            history={name: self.faults.history(name, 5) for name in cfg.devices},
            self_tests=list(self_tests), ports=ports, recent_log=recent_log, now=self.now())

    def diagnostics(self, session: StaffSession, views: Mapping[str, DeviceView], *,
                    probe: BillingProbe | None = None, **kwargs: Any) -> dict[str, Any]:
        """The diagnostics screen: ``views`` from kiosk.staff.probe.live_views(...)."""
        self._do(session, P.DIAGNOSTICS, "run diagnostics")
        report = self.diagnostics_report(views, probe.health() if probe else None, **kwargs)
        self._log(session, a.DIAGNOSTICS, status=report["status"])
        return report

    def diagnostics_viewed(self, session: StaffSession, status: str) -> None:
        self._do(session, P.DIAGNOSTICS, "run diagnostics")
        self._log(session, a.DIAGNOSTICS, status=status)

    def self_test(self, session: StaffSession, name: str,
                  run: Callable[[], SelfTestResult]) -> SelfTestResult:
        """Run one self-test (``run`` does the device work) and record it. Money a test made
        (a test coin, a note stacked instead of returned) is flagged for the operator."""
        self._do(session, P.SELF_TEST, f"run the {name} self-test")
        result = run()
        self._log(session, a.SELF_TEST, test=name, ok=result.ok, detail=result.detail,
                  money_minor=result.money_minor)
        if result.money_minor:
            self.journal.flag(f"selftest-{int(self.clock())}", "self_test_money",
                              f"{name} self-test by {session.actor}: {result.detail}",
                              result.money_minor)
        return result

    def active_faults(self, session: StaffSession) -> list[LockingFault]:
        self._do(session, P.VIEW_QUEUE, "see the locking faults")  # both roles
        return self.faults.active()

    def clear_fault(self, session: StaffSession, device: str, code: str) -> LockingFault:
        perm = P.CLEAR_CASHBOX_FAULT if code in CASHBOX_CODES else P.CLEAR_FAULT
        self._do(session, perm, f"clear the {device}/{code} fault")
        self._device_says_ok(device, code)
        fault = self.faults.clear(device, code, session.actor, session.role.value)
        if self.post is not None:
            self.post(e.DeviceCleared(device, code))  # unlock the running session
        return fault

    def _device_says_ok(self, device: str, code: str) -> None:
        """Refuse to clear a fault the device is still reporting (a jam that is still there)."""
        if self.device_health is None:
            return
        health = self.device_health().get(device)
        state = getattr(getattr(health, "state", None), "value", None)
        if state == "fault":
            raise FaultNotClearable(f"{device} still reports a fault: {health.reason}")

    def force_sync(self, session: StaffSession, run: Callable[[], Any]) -> Any:
        self._do(session, P.FORCE_SYNC, "force a sync")
        result = run()
        self._log(session, a.FORCE_SYNC, delivered=getattr(result, "delivered", None),
                  retried=getattr(result, "retried", None))
        return result

    def queue_status(self, session: StaffSession) -> dict[str, Any]:
        """Counts and ages for everyone; the money waiting only for those who see takings."""
        self._do(session, P.VIEW_QUEUE, "see the queue")
        stats = self.outbox.stats().as_dict()
        if not session.allows(P.VIEW_TAKINGS):
            stats.pop("pending_total_minor", None)
        return stats

    def requeue_dead(self, key: str | None = None) -> int:
        """Dead letters sent again (resolved payments never are: offline_queue.outbox)."""
        return self.outbox.requeue_dead(key)

    # ---------------------------------------------------------------- dead payments
    def readdress_payment(self, session: StaffSession, txn_id: str,
                          account_no: str) -> tuple[dict[str, Any], Printed]:
        """A dead payment re-addressed to a corrected account: a new transaction naming the
        original, audited in the same transaction, and a slip printed."""
        self._do(session, P.VIEW_TAKINGS, "re-address a dead payment")
        with a.immediate(self.db):
            done = self.resolutions.readdress(txn_id, account_no, session.actor)
            self._log(session, "payment_readdressed", **_audited(done))
        return done.as_dict(), self._print(done.slip(self.config.kiosk.id))

    def refund_payment(self, session: StaffSession, txn_id: str,
                       phone: str) -> tuple[dict[str, Any], Printed]:
        """A dead payment marked for refund; the phone is kept for the call back, masked
        everywhere it is shown."""
        self._do(session, P.VIEW_TAKINGS, "mark a dead payment for refund")
        with a.immediate(self.db):
            done = self.resolutions.refund(txn_id, phone, session.actor)
            self._log(session, "payment_refund_pending", **_audited(done))
        return done.as_dict(), self._print(done.slip(self.config.kiosk.id))

    def refunded(self, session: StaffSession, txn_id: str) -> None:
        self._do(session, P.VIEW_TAKINGS, "settle a refund")
        with a.immediate(self.db):
            self.resolutions.refunded(txn_id, session.actor)
            self._log(session, "payment_refunded", txn_id=txn_id)

    # ---------------------------------------------------------------- operator
    def awaiting_count(self, session: StaffSession) -> list[BlindBatch]:
        self._do(session, P.COLLECT_CASH, "collect cash")
        return self.collections.awaiting_count()

    def close_batch(self, session: StaffSession) -> BlindBatch | None:
        """Close the batch by hand (the validator's cash box report was missed)."""
        self._do(session, P.COLLECT_CASH, "close a collection batch")
        with a.immediate(self.db):
            batch = self.collections.close_current(f"staff:{session.actor}")
            self._log(session, a.COLLECTION_CLOSED, batch_id=batch.batch_id if batch else None)
        return batch

    def cashbox_removed(self) -> BlindBatch | None:
        """The validator reported the cash box out (DeviceWatch calls this)."""
        with a.immediate(self.db):
            batch = self.collections.close_current("device")
            self.audit.append("bill_validator", "device", a.COLLECTION_CLOSED,
                              batch_id=batch.batch_id if batch else None)
        return batch

    def submit_count(self, session: StaffSession, batch_id: str,
                     counted: Mapping[int, int]) -> tuple[CollectionResult, Printed]:
        """The blind count: expected figures come back only now. Journaled, queued for the
        billing API and audited in one transaction; then the receipt is printed."""
        self._do(session, P.COLLECT_CASH, "collect cash")
        with a.immediate(self.db):
            result = self.collections.submit_count(batch_id, counted, session.actor)
            self._log(session, a.COLLECTION, batch_id=batch_id, counted_minor=sum(
                d * n for d, n in result.counted.items()), variance_minor=result.variance_minor,
                device_variance_minor=result.device_variance_minor)
        return result, self._print_collection(result)

    def reprint_collection(self, session: StaffSession, batch_id: str) -> Printed:
        self._do(session, P.REPRINT, "reprint a collection receipt")
        result = self.collections.result(batch_id)
        self._log(session, a.REPRINT, what="collection", batch_id=batch_id)
        return self._print_collection(result)

    def _print_collection(self, result: CollectionResult) -> Printed:
        printed = self._print(result.receipt_job(self.config.kiosk.id))
        if printed.ok:
            self.collections.mark_printed(result.batch_id)
        return printed

    def reprint_receipt(self, session: StaffSession, txn_id: str, reprint: Callable[[str], Any]) -> None:
        """A resident's receipt again (``reprint``: the runner's; never touches the payment)."""
        self._do(session, P.REPRINT, "reprint a receipt")
        self._log(session, a.REPRINT, what="receipt", txn_id=txn_id)
        reprint(txn_id)

    def daily_report(self, session: StaffSession, day: str, *, probe: BillingProbe | None = None,
                     issue: bool = True, print_it: bool = False,
                     device_open_batch: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], Printed | None]:
        self._do(session, P.VIEW_TAKINGS, "see the takings")
        settlement, error = None, "offline: settlement not asked"
        if probe is not None:
            try:
                settlement = probe.settlement(self.config.kiosk.id, day)
            except ApiUnavailable as exc:
                error = str(exc)
        kwargs = dict(settlement=settlement, settlement_error=error,
                      collections=self.collections.batches(closed_on=day),
                      device_open_batch=device_open_batch)
        if issue:
            report = self.reports.issue(day, session.actor, **kwargs)
        else:
            report = self.reports.build(day, **kwargs)
        self._log(session, a.REPORT, date=day, seq=report["seq"], count=report["count"],
                  mismatches=len(report["mismatches"]))
        return report, (self._print(report_job(report)) if print_it else None)

    def _print(self, job: Any) -> Printed:
        if self.printer is None:
            return Printed(False, "no printer")
        try:
            self.printer.print_job(job)
        except Exception as exc:  # PrinterError: the figures stay on screen and in the journal
            log.warning("staff print failed: %s", exc)
            return Printed(False, str(exc) or type(exc).__name__)
        return Printed(True)
