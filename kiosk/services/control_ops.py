"""What the running terminal answers on its control socket (kiosk.services.control): each
request is run on the deciding thread, so the console, the journal connection and the devices
are used exactly as the staff screens use them (docs/architecture.md, One thread decides).

A request that acts for a member of staff names the staff id and carries the PIN; the PIN is
checked (scrypt, the lockout, audited) on a thread of its own with its own connection, like a
lookup worker's HTTP, and only a valid session reaches the deciding thread. A process without
the PIN gets ``bad_pin`` like the staff screen would; the socket itself is 0600."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

from drivers import interfaces as d
from kiosk.services.control import ControlServer, Reply, socket_path
from kiosk.services.identity import signed
from kiosk.staff.auth import Permission
from kiosk.staff.billing_queries import ApiHealth, BillingProbe
from kiosk.staff.errors import StaffError
from kiosk.staff.probe import live_views
from kiosk.staff.wiring import devices_by_name
from offline_queue.outbox import Outbox
from offline_queue.schema import connect
from offline_queue.sync import SyncWorker

log = logging.getLogger(__name__)

CARD_WAIT_MAX_S = 120.0


def refusal(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, StaffError):
        return {"ok": False, "error": exc.code, "message": str(exc)}
    return {"ok": False, "error": "bad_input", "message": str(exc)}


class TerminalControl:
    """The op table of one started terminal; ``start`` serves it on the state directory."""

    def __init__(self, terminal: Any) -> None:
        self.t = terminal
        self.server = ControlServer(socket_path(terminal.config.kiosk.state_dir), self.handle)
        self._card_waiters: list[tuple[float, str, str, Reply]] = []
        self.ops: dict[str, tuple[bool, Callable[..., dict[str, Any]]]] = {
            # op → (needs a staff login, handler(request, session, reply) on the deciding thread)
            "ping": (False, lambda r, s, reply: {"ok": True, "kiosk_id": self.t.config.kiosk.id}),
            "status": (False, self._status),
            "faults.list": (False, self._faults_list),
            "faults.clear": (True, self._faults_clear),
            "diag": (False, self._diag),
            "collect.status": (True, self._collect_status),
            "collect.close": (True, self._collect_close),
            "collect.count": (True, self._collect_count),
            "collect.receipt": (True, self._collect_receipt),
            "queue.requeue": (False, self._requeue),
            "queue.readdress": (True, self._readdress),
            "queue.refund": (True, self._refund),
            "sync.once": (False, self._sync_once),
            "card.register": (False, self._card_register),
        }

    def start(self) -> None:
        self.server.start()
        self.t.interceptors.append(self._card_tap)

    def stop(self) -> None:
        self.server.stop()

    # ---------------------------------------------------------------- dispatch
    def handle(self, request: dict[str, Any], reply: Reply) -> None:
        """On a socket thread: hand the request on; nothing here touches the terminal."""
        op = self.ops.get(request["op"])
        wanted = request.get("db")
        if isinstance(wanted, str) and Path(wanted).resolve() != Path(self.t.config.kiosk.db).resolve():
            # Another database's tool found this socket: it must not act on this terminal.
            reply({"ok": False, "error": "other_database",
                   "message": f"this terminal runs on {self.t.config.kiosk.db}"})
            return
        if op is None:
            reply({"ok": False, "error": "bad_input", "message": f"unknown op {request['op']!r}"})
            return
        needs_staff, fn = op
        user = request.get("user")
        if not needs_staff and not user:
            self.t.call_soon(lambda: self._run(fn, request, None, reply))
            return
        if not isinstance(user, str) or not isinstance(request.get("pin"), str):
            reply({"ok": False, "error": "bad_input", "message": "user and pin are needed"})
            return
        threading.Thread(target=self._login_then, args=(fn, request, reply),
                         name="control-login", daemon=True).start()

    def _login_then(self, fn: Callable[..., dict[str, Any]], request: dict[str, Any],
                    reply: Reply) -> None:
        db = connect(self.t.config.kiosk.db)  # this thread's own connection
        try:
            session = self.t.staff.auth_on(db).login(request["user"], request["pin"])
        except (StaffError, ValueError) as exc:
            reply(refusal(exc))
            return
        except Exception as exc:  # the staff tool is told, never left waiting on its socket
            log.exception("control login for %s failed", request.get("op"))
            reply({"ok": False, "error": "internal", "message": str(exc)})
            return
        finally:
            db.conn.close()
        self.t.call_soon(lambda: self._run(fn, request, session, reply))

    def _run(self, fn: Callable[..., dict[str, Any]], request: dict[str, Any], session: Any,
             reply: Reply) -> None:
        try:
            answer = fn(request, session, reply)
        except (StaffError, ValueError, KeyError) as exc:
            answer = refusal(exc)
        except Exception as exc:  # the answer says so; the terminal goes on deciding
            log.exception("control op %s failed", request.get("op"))
            answer = {"ok": False, "error": "internal", "message": str(exc)}
        if answer is None:
            return  # answered later (a probe, a sync pass, a card tap) by a later _run or reply
        if session is not None:
            self.t.staff.logout(session)
        reply(answer)

    # ---------------------------------------------------------------- the ops
    def _status(self, r: dict[str, Any], s: Any, reply: Reply) -> dict[str, Any]:
        session = self.t.runner.session
        return {"ok": True, "phase": session.phase.value, "online": self.t.online,
                "faults": [f.as_dict() for f in self.t.staff.faults.active()],
                "card_waiting": bool(self._card_waiters)}

    def _faults_list(self, r: dict[str, Any], s: Any, reply: Reply) -> dict[str, Any]:
        return {"ok": True, "faults": [f.as_dict() for f in self.t.staff.faults.active()]}

    def _faults_clear(self, r: dict[str, Any], s: Any, reply: Reply) -> dict[str, Any]:
        fault = self.t.staff.clear_fault(s, str(r["device"]), str(r["code"]))
        return {"ok": True, "fault": fault.as_dict()}

    def _diag(self, r: dict[str, Any], s: Any, reply: Reply) -> dict[str, Any] | None:
        if isinstance(r.get("api"), dict):
            return self._diag_report(r, s, ApiHealth(**r["api"]))
        # The terminal's own billing API, checked on a thread of its own (HTTP never runs on
        # the deciding thread); the report is made back on the deciding thread.
        billing = self.t.config.billing

        def probe() -> None:
            api = BillingProbe(billing.url, connect_timeout=min(billing.connect_timeout_s, 3.05),
                               read_timeout=min(billing.read_timeout_s, 5.0),
                               tls=billing.tls()).health()
            self.t.call_soon(lambda: self._run(lambda *_: self._diag_report(r, s, api), r, s,
                                               reply))

        threading.Thread(target=probe, name="diag-api", daemon=True).start()
        return None

    def _diag_report(self, r: dict[str, Any], s: Any, api: ApiHealth) -> dict[str, Any]:
        console = self.t.staff
        views = live_views(devices_by_name(self.t.devices))
        report = console.diagnostics_report(views, api, ports=r.get("ports"),
                                            recent_log=r.get("recent_log") or [])
        report["served_by"] = "running terminal"
        if s is not None:
            console.diagnostics_viewed(s, report["status"])
        return {"ok": True, "report": report}

    def _collect_status(self, r: dict[str, Any], s: Any, reply: Reply) -> dict[str, Any]:
        self.t.staff.auth.check(s, Permission.COLLECT_CASH, "collect cash")
        return {"ok": True, "batches": self.t.staff.collections.batches()}

    def _collect_close(self, r: dict[str, Any], s: Any, reply: Reply) -> dict[str, Any]:
        batch = self.t.staff.close_batch(s)
        return {"ok": True, "batch_id": batch.batch_id if batch else None}

    def _collect_count(self, r: dict[str, Any], s: Any, reply: Reply) -> dict[str, Any]:
        counted = {int(k): int(v) for k, v in dict(r.get("counted") or {}).items()}
        console = self.t.staff
        result, printed = console.submit_count(s, str(r["batch"]), counted)
        return {"ok": True, "result": result.as_dict(), "printed": printed.ok,
                "print_error": printed.reason,
                "lines": list(result.receipt_job(self.t.config.kiosk.id).lines)}

    def _collect_receipt(self, r: dict[str, Any], s: Any, reply: Reply) -> dict[str, Any]:
        printed = self.t.staff.reprint_collection(s, str(r["batch"]))
        return {"ok": True, "printed": printed.ok, "print_error": printed.reason}

    def _requeue(self, r: dict[str, Any], s: Any, reply: Reply) -> dict[str, Any]:
        key = r.get("key")
        n = self.t.staff.requeue_dead(key if isinstance(key, str) else None)
        self.t.runner.post_queue_state()
        return {"ok": True, "requeued": n}

    def _readdress(self, r: dict[str, Any], s: Any, reply: Reply) -> dict[str, Any]:
        done, printed = self.t.staff.readdress_payment(s, str(r["txn"]), str(r["account"]))
        self.t.runner.post_queue_state()
        return {"ok": True, "resolution": done, "printed": printed.ok,
                "print_error": printed.reason}

    def _refund(self, r: dict[str, Any], s: Any, reply: Reply) -> dict[str, Any]:
        done, printed = self.t.staff.refund_payment(s, str(r["txn"]), str(r["phone"]))
        return {"ok": True, "resolution": done, "printed": printed.ok,
                "print_error": printed.reason}

    def _sync_once(self, r: dict[str, Any], s: Any, reply: Reply) -> None:
        """One pass on a thread of its own (HTTP never runs on the deciding thread); rows are
        claimed one by one, so the background worker and this pass never send a row twice."""
        cfg = self.t.config

        def run() -> None:
            outbox = Outbox(connect(cfg.kiosk.db, durable=False))
            try:
                worker = SyncWorker(outbox, cfg.billing.url,
                                    connect_timeout=cfg.billing.connect_timeout_s,
                                    read_timeout=cfg.billing.read_timeout_s, tls=cfg.billing.tls())
                signed(worker, cfg)
                result = worker.run_once(ignore_backoff=True)
                stats = outbox.stats()
            except Exception as exc:  # the answer says so; the terminal goes on
                log.exception("sync pass for a staff tool failed")
                reply({"ok": False, "error": "internal", "message": str(exc)})
                return
            finally:
                outbox.db.conn.close()
            self.t.events.post(result)  # the terminal learns what the pass found
            reply({"ok": True, "delivered": result.delivered, "retried": result.retried,
                   "dead": result.dead, "pending": stats.pending, "fault": result.fault})

        threading.Thread(target=run, name="sync-once", daemon=True).start()
        return None

    def _card_register(self, r: dict[str, Any], s: Any, reply: Reply) -> None:
        """The next card tapped becomes ``user``'s staff card (not a resident's tap). The
        terminal stores its keyed hash itself: no card id ever leaves it over the socket."""
        user, by = str(r["user_id"]), str(r.get("by") or "cli:?")
        wait = min(float(r.get("timeout_s", 30.0)), CARD_WAIT_MAX_S)
        self._card_waiters.append((time.monotonic() + wait, user, by, reply))
        return None

    def _card_tap(self, ev: Any) -> bool:
        """An interceptor on the deciding thread: a tap a staff tool is waiting for is theirs."""
        now = time.monotonic()
        for waiter in [w for w in self._card_waiters if w[0] <= now]:
            waiter[3]({"ok": False, "error": "timeout", "message": "no card was tapped"})
        self._card_waiters = [w for w in self._card_waiters if w[0] > now]
        if not self._card_waiters or not isinstance(ev, d.CardPresented):
            return False
        _deadline, user, by, reply = self._card_waiters.pop(0)
        try:
            self.t.staff.cards.register(user, ev.card_uid, by)
        except (StaffError, ValueError) as exc:
            reply(refusal(exc))
        else:
            reply({"ok": True, "user_id": user})
        return True
