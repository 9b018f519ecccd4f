"""The staff screens' work, as jobs for the staff worker thread (``worker``).

Each function returns a job: a callable taking the worker, calling the worker's own
``StaffConsole`` (which checks the role and writes the audit log) and returning plain data for
the screens. Nothing here touches widgets.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any, Callable, Mapping

from kivy.clock import Clock

from kiosk.staff import audit as a
from kiosk.staff import receipts
from kiosk.staff.auth import Permission, StaffSession
from kiosk.staff.errors import StaffError

log = logging.getLogger(__name__)

Job = Callable[[Any], Any]
SELF_TEST_TIMEOUT_S = {"validator": 30.0, "coin": 30.0, "card": 10.0}


class ReceiptNotFound(StaffError):
    code = "not_found"


def login(user_id: str, pin: str) -> Job:
    return lambda w: w.console.login(user_id, pin)


def logout(session: StaffSession) -> Job:
    return lambda w: w.console.logout(session)


def expire(session: StaffSession, idle_s: float) -> Job:
    """The screens saw no touch for the idle period: the session ends, audited like the
    back-end's own expiry (``StaffAuth.alive``)."""
    def job(w: Any) -> None:
        if not session.ended:
            session.ended = True
            w.console.audit.append(session.actor, session.role.value, a.SESSION_EXPIRED,
                                   idle_s=int(idle_s))
    return job


def home(session: StaffSession) -> Job:
    def job(w: Any) -> dict[str, Any]:
        c = w.console
        out = {"queue": c.queue_status(session), "faults": c.active_faults(session)}
        if session.allows(Permission.COLLECT_CASH):
            out["batches"] = c.awaiting_count(session)
        return out
    return job


def _signed_probe(cfg: Any) -> Any:
    from kiosk.services.identity import signed

    return signed(_probe(cfg), cfg)


def _probe(cfg: Any) -> Any:
    from kiosk.staff.billing_queries import BillingProbe

    billing = cfg.billing
    return BillingProbe(billing.url, connect_timeout=min(billing.connect_timeout_s, 3.05),
                        read_timeout=min(billing.read_timeout_s, 5.0), tls=billing.tls())


def diagnostics(session: StaffSession) -> Job:
    def job(w: Any) -> dict[str, Any]:
        from kiosk.staff.probe import live_views
        from kiosk.staff.wiring import devices_by_name

        views = live_views(devices_by_name(w.terminal.devices))
        return w.console.diagnostics(session, views, probe=_signed_probe(w.terminal.config))
    return job


def self_test(session: StaffSession, name: str) -> Job:
    def job(w: Any) -> Any:
        from kiosk.staff import selftest as st

        term, cfg = w.terminal, w.terminal.config
        devices = term.devices
        limits = cfg.limits
        w.tap.begin()
        runs = {
            "printer": lambda: st.printer_test_page(devices.printer, cfg.kiosk.id),
            "validator": lambda: st.validator_accept_test(
                devices.validator, w.tap.wait_event, limits.accepted_notes_minor,
                SELF_TEST_TIMEOUT_S["validator"]),
            "coin": lambda: st.coin_test(devices.coins, w.tap.wait_event,
                                         limits.accepted_coins_minor, SELF_TEST_TIMEOUT_S["coin"]),
            "card": lambda: st.card_read_test("card_reader", w.tap.wait_event,
                                              SELF_TEST_TIMEOUT_S["card"]),
        }
        needs = {"printer": devices.printer, "validator": devices.validator,
                 "coin": devices.coins, "card": devices.card}
        run = runs[name]
        if needs[name] is None:
            run = lambda: st.SelfTestResult(name, False, "device not configured")  # noqa: E731
        return w.console.self_test(session, name, run)
    return job


def faults(session: StaffSession) -> Job:
    return lambda w: w.console.active_faults(session)


def clear_fault(session: StaffSession, device: str, code: str) -> Job:
    def job(w: Any) -> list[Any]:
        w.console.clear_fault(session, device, code)
        return w.console.active_faults(session)
    return job


def force_sync(session: StaffSession) -> Job:
    def job(w: Any) -> tuple[Any, dict[str, Any]]:
        from offline_queue.outbox import Outbox
        from offline_queue.sync import SyncWorker

        billing = w.terminal.config.billing
        from kiosk.services.identity import signed

        sync = SyncWorker(Outbox(w.db), billing.url, connect_timeout=billing.connect_timeout_s,
                          read_timeout=billing.read_timeout_s, tls=billing.tls())
        signed(sync, w.terminal.config)
        result = w.console.force_sync(session, lambda: sync.run_once(ignore_backoff=True))
        w.terminal.events.post(result)  # the offline banner and queue state follow
        return result, w.console.queue_status(session)
    return job


def batches(session: StaffSession) -> Job:
    return lambda w: w.console.awaiting_count(session)


def close_batch(session: StaffSession) -> Job:
    def job(w: Any) -> list[Any]:
        w.console.close_batch(session)
        return w.console.awaiting_count(session)
    return job


def submit_count(session: StaffSession, batch_id: str, counted: Mapping[int, int]) -> Job:
    return lambda w: w.console.submit_count(session, batch_id, dict(counted))


def report_day(which: str, today: date | None = None) -> str:
    today = today or date.today()
    return (today - timedelta(days=1) if which == "yesterday" else today).isoformat()


def daily_report(session: StaffSession, day: str, print_it: bool) -> Job:
    """On screen: a preview (not numbered). Printed: issued, numbered and recorded."""
    def job(w: Any) -> tuple[dict[str, Any], Any]:
        return w.console.daily_report(session, day, probe=_signed_probe(w.terminal.config),
                                      issue=print_it, print_it=print_it)
    return job


def receipt_number(kiosk_id: str, digits: str, today: date | None = None) -> str:
    """``42`` → today's ``KIOSK-0001-20260301-00042``; 13 digits → that date's receipt."""
    today = today or date.today()
    if len(digits) > 5:
        return f"{kiosk_id}-{digits[:8]}-{digits[8:]}"
    return f"{kiosk_id}-{today:%Y%m%d}-{int(digits or '0'):05d}"


def reprint(session: StaffSession, digits: str) -> Job:
    def job(w: Any) -> str:
        runner = w.terminal.runner
        receipt_no = receipt_number(w.terminal.config.kiosk.id, digits)
        txn_id = receipts.txn_for_receipt(w.db, receipt_no)  # live, or moved to its monthly archive
        if txn_id is None:
            w.console.auth.check(session, Permission.REPRINT, "reprint a receipt")
            raise ReceiptNotFound(receipt_no)
        # the runner prints from the UI thread's side, like a resident's reprint
        w.console.reprint_receipt(session, txn_id, lambda txn: Clock.schedule_once(
            lambda _dt: runner.reprint(txn), 0))
        return receipt_no
    return job


def recent_receipts(session: StaffSession, n: int = 3) -> Job:
    def job(w: Any) -> list[tuple[str, int, str]]:
        w.console.auth.check(session, Permission.REPRINT, "reprint a receipt")
        return receipts.recent_receipts(w.db, n)
    return job
