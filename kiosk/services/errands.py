"""The shell's side of the services menu (kiosk/flow/services_menu.py), on the runner's deciding
thread: the history fetched on a worker (HTTP only) and cached here, service requests and
e-bill sign-ups queued in the outbox (delivered exactly once by the sync worker, like a payment:
docs/architecture.md, "The offline queue"), the utility's reference passed on once delivered,
and slips printed on a worker.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drivers import interfaces as d
from kiosk.flow import commands as c
from kiosk.flow import events as e
from kiosk.flow import services_menu as sm
from kiosk.flow.slips import history_slip, request_slip
from kiosk.services.lookups import now_utc
from offline_queue.errors import NotFound, Unreachable
from offline_queue.gateway import EBILL, SERVICE_REQUEST

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HistoryDone:
    """What the history worker learned; resolved on the deciding thread, never by the reducer."""

    session_id: str
    account_no: str
    body: dict[str, Any] | None = None
    not_found: str = ""
    unreachable: str = ""


def request_ids(kind: str, session_id: str) -> tuple[str, str]:
    """(idempotency key, local reference). The key is the session's own, so the same errand can
    never be queued twice; the local reference is what the resident reads off the screen."""
    key = f"{kind}-{session_id}"
    return key, "K" + uuid.uuid5(uuid.NAMESPACE_URL, key).hex[:8].upper()


def parse_history(body: dict[str, Any], as_of: str, from_cache: bool) -> sm.History:
    months = tuple(sm.Month(m["period"], m["kwh"], m["billed_minor"], m["paid_minor"],
                            m["channel"]) for m in body["months"])
    payments = tuple(sm.PastPayment(p["paid_at"], p["amount_minor"], p["channel"])
                     for p in body["payments"])
    return sm.History(body["account_no"], months, payments, as_of, from_cache)


class Errands:
    def __init__(self, runner: Any) -> None:
        """``runner``: the SessionRunner whose deciding thread this runs on."""
        self.runner = runner

    def handlers(self) -> dict[type, Any]:
        return {c.FetchHistory: self.fetch_history, c.QueueRequest: self.queue_request,
                c.PrintSlip: self.print_slip}

    # ---- history
    def fetch_history(self, cmd: c.FetchHistory) -> None:
        self.runner._background(self._fetch, session_id=cmd.session_id, account_no=cmd.account_no)

    def _fetch(self, session_id: str, account_no: str) -> None:
        """On a worker: HTTP only."""
        done = HistoryDone(session_id, account_no)
        try:
            done = HistoryDone(session_id, account_no,
                               body=self.runner.billing.fetch_history(account_no))
        except NotFound as exc:
            done = HistoryDone(session_id, account_no, not_found=exc.reason)
        except Unreachable as exc:
            done = HistoryDone(session_id, account_no, unreachable=str(exc) or "offline")
        except Exception as exc:  # a malformed answer: offline for this purpose, said why
            log.warning("history lookup failed: %s", exc)
            done = HistoryDone(session_id, account_no, unreachable=type(exc).__name__)
        self.runner.post(done)

    def history_done(self, done: HistoryDone) -> e.Event | None:
        """On the deciding thread: cache a fresh answer, fall back to the cached copy."""
        billing = self.runner.billing
        if done.body is not None:
            as_of = str(done.body.get("as_of") or now_utc())
            billing.remember("history", done.account_no, done.body, as_of)
            return e.HistoryFetched(done.session_id, parse_history(done.body, as_of, False))
        if done.not_found:
            return e.HistoryFetched(done.session_id, None, done.not_found)
        cached = billing.cached("history", done.account_no)
        if cached is None:
            return e.HistoryFetched(done.session_id, None, "history_offline")
        return e.HistoryFetched(done.session_id, parse_history(cached[0], cached[1], True))

    # ---- requests
    def queue_request(self, cmd: c.QueueRequest) -> None:
        r = self.runner
        key, local_ref = request_ids(cmd.kind, cmd.session_id)
        body: dict[str, Any] = {
            "kiosk_id": r.config.kiosk.id, "request_id": key, "account_no": cmd.account_no,
            "created_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            **dict(cmd.fields)}
        kind = EBILL if cmd.kind == "ebill" else SERVICE_REQUEST
        r._write(r.journal.enqueue, kind, key, body)
        log.info("%s %s queued (%s)", cmd.kind, key, local_ref)
        r._follow(r.queue_state())
        r._follow(e.RequestQueued(cmd.session_id, key, local_ref))

    def check_delivered(self) -> None:
        """After a sync pass: the utility's reference of the request on screen, once recorded."""
        s = self.runner.session
        errand = s.errand
        if errand is None or not errand.request_id or errand.utility_ref:
            return
        row = self.runner.outbox.db.execute(
            "SELECT response FROM outbox WHERE idem_key = ? AND state = 'DELIVERED'",
            (errand.request_id,)).fetchone()
        if row is None:
            return
        try:
            ref = json.loads(row[0]).get("reference_no")
        except (TypeError, ValueError, AttributeError):
            return
        if isinstance(ref, str) and ref:
            self.runner._follow(e.RequestDelivered(s.session_id, errand.request_id, ref))

    # ---- slips
    def print_slip(self, cmd: c.PrintSlip) -> None:
        r = self.runner
        s, phone = r.session, r.config.kiosk.service_phone
        if s.errand is None or s.account is None or r.devices.printer is None:
            r._follow(e.SlipPrinted(cmd.session_id, False))
            return
        if s.errand.history is not None:
            title, lines = history_slip(s.errand.history, phone, r.lang)
        else:
            title, lines = request_slip(s.errand, s.account.account_no, phone, r.lang)
        r._background(self._print, session_id=cmd.session_id, title=title, lines=lines)

    def _print(self, session_id: str, title: str, lines: tuple[str, ...]) -> None:
        try:
            self.runner.devices.printer.print_job(d.PrintJob(lines=lines, qr=None, title=title))
        except Exception as exc:  # PrinterError or a link failure: the screen says so
            log.warning("slip not printed: %s", exc)
            self.runner.post(e.SlipPrinted(session_id, False))
            return
        self.runner.post(e.SlipPrinted(session_id, True))
