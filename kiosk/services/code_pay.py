"""The shell of the code tender: carries out ChargeCode, QueryCode, ReverseCode and
CommitCodePayment for the runner (kiosk/services/runner.py) and resolves, after a restart, every
order the last run left open (docs/payment-gateway.yaml, "What a kiosk must keep").

HTTP runs on worker threads that only post ``CodeGatewayAnswered`` (or ``CodeResolved``) back;
the deciding thread records each answer in ``code_orders`` before the flow sees it, so a crash
at any point leaves an order whose state says what is still to be done:

- ``charging``/``user_paying``/``unknown``: ask the gateway (query); paid → record the payment,
  failed or never seen → closed, still unknown → reverse;
- ``paid``: record the payment (once: ``recorded`` commits with it);
- ``reversing``: reverse again.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from kiosk.flow import commands as c
from kiosk.flow import events as e
from kiosk.flow.session import Phase
from kiosk.services.identity import key_path, keys_dir
from offline_queue.code_gateway import CodeGatewayClient, GatewayAnswer
from offline_queue.code_orders import CodeOrders
from offline_queue.crash import crash_point
from offline_queue.signing import Enrolment, KioskAuth, load_or_create_key

log = logging.getLogger(__name__)

#: the gateway's word on an order → the order's state (``unknown`` stays open)
STATE_OF = {"paid": "paid", "failed": "failed", "not_found": "failed", "reversed": "reversed",
            "user_paying": "user_paying", "unknown": "unknown"}
#: a restart asks this often before it leaves an order to the next start
RESOLVE_TRIES = 3


@dataclass(frozen=True)
class CodeResolved:
    """A worker's answer about an order left open by an earlier run (not a session's)."""

    order_id: str
    step: str  # query | reverse
    answer: GatewayAnswer


class CodePay:
    def __init__(self, orders: CodeOrders, client: CodeGatewayClient,
                 post: Callable[[Any], None]) -> None:
        self.orders, self.client, self.post = orders, client, post
        self.runner: Any = None
        self._resolving: dict[str, int] = {}  # order id → attempts so far
        self.resolved = threading.Event()
        self.resolved.set()

    def attach(self, runner: Any) -> None:
        """The runner carries out the code tender's commands through this object."""
        self.runner = runner
        runner.code_pay = self
        runner.on_change.append(self.on_session)
        runner._commands.update({
            c.ChargeCode: self._charge, c.QueryCode: self._query, c.ReverseCode: self._reverse,
            c.CommitCodePayment: self._commit,
        })

    # ---- the session's commands (deciding thread)
    def _charge(self, cmd: c.ChargeCode) -> None:
        # Durable before it is sent: a crash from here on leaves an order a restart resolves.
        self.runner._write(self.orders.open_order, cmd.order_id, cmd.session_id, cmd.account_no,
                           cmd.amount_minor)
        self._ask(cmd.session_id, cmd.order_id, "charge",
                  lambda: self.client.charge(cmd.order_id, cmd.amount_minor, cmd.code))

    def _query(self, cmd: c.QueryCode) -> None:
        self._ask(cmd.session_id, cmd.order_id, "query",
                  lambda: self.client.query(cmd.order_id, cmd.amount_minor))

    def _reverse(self, cmd: c.ReverseCode) -> None:
        self.runner._write(self.orders.set_state, cmd.order_id, "reversing")
        self._ask(cmd.session_id, cmd.order_id, "reverse",
                  lambda: self.client.reverse(cmd.order_id, cmd.amount_minor))

    def _ask(self, session_id: str, order_id: str, step: str,
             call: Callable[[], GatewayAnswer]) -> None:
        def work() -> None:
            answer = call()
            if step == "charge":
                crash_point("after_charge_sent")
            self.post(e.CodeGatewayAnswered(session_id, order_id, answer.status,
                                            answer.gateway_ref or "", answer.reason, step))

        threading.Thread(target=work, name=f"code-{step}", daemon=True).start()

    def _commit(self, cmd: c.CommitCodePayment) -> None:
        order = self.orders.get(cmd.order_id)
        if order is None or order.state not in ("paid", "recorded"):
            raise ValueError(f"code order {cmd.order_id} is not paid")
        crash_point("before_payment_committed")
        # The payment's transaction id is the order's: a session may also pay cash (after an
        # order left unresolved), and each is its own payment.
        record = self.runner._write(self.runner.journal.commit_payment, cmd.order_id,
                                    cmd.account_no, (), (), cmd.amount_minor, False, False, "",
                                    None, order)
        self.runner._follow(self.runner.queue_state())
        self.runner._follow(e.PaymentCommitted(cmd.session_id, record.txn_id, record.receipt_no))

    # ---- answers (deciding thread, before the flow sees them)
    def takes(self, event: Any) -> bool:
        return isinstance(event, (e.CodeGatewayAnswered, CodeResolved))

    def step(self, event: Any) -> Any:
        """Record what the gateway said; the flow gets a session's answer, not a restart's."""
        if isinstance(event, CodeResolved):
            self._resolved(event)
            return None
        self._record(event.order_id, event.status, event.gateway_ref or None, event.reason)
        return event

    def _record(self, order_id: str, status: str, ref: str | None, reason: str) -> None:
        order = self.orders.get(order_id)
        if order is None or order.state == "recorded":
            return  # a duplicate notice about an order already a payment: nothing to change
        if order.state == "reversing" and status in ("user_paying", "unknown", "paid"):
            return  # a late word about an order being undone: the reversal decides
        self.orders.set_state(order_id, STATE_OF.get(status, "unknown"), ref, reason)
        if status == "paid":
            crash_point("after_paid")

    def on_session(self, session: Any) -> None:
        """A listener of the runner (deciding thread): back at the attract screen, an order a
        session left unresolved (the gateway unreachable to undo it) is asked about again."""
        if session.phase == Phase.IDLE and not self._resolving and self.orders.open_orders():
            self.resolve_open()

    # ---- start-up: every order an earlier run left open
    def resolve_open(self) -> int:
        """Ask about every open order on worker threads (deciding thread); returns how many."""
        open_orders = self.orders.open_orders()
        if open_orders:
            self.resolved.clear()
        for order in open_orders:
            self._resolving[order.order_id] = 0
            if order.state == "paid":
                self._record_payment(order.order_id)
            elif order.state == "reversing":
                self._resolve(order.order_id, "reverse", order.amount_minor)
            else:
                self._resolve(order.order_id, "query", order.amount_minor)
        self._check_done()
        return len(open_orders)

    def _resolve(self, order_id: str, step: str, amount_minor: int) -> None:
        call = self.client.reverse if step == "reverse" else self.client.query

        def work() -> None:
            self.post(CodeResolved(order_id, step, call(order_id, amount_minor)))

        threading.Thread(target=work, name=f"code-resolve-{step}", daemon=True).start()

    def _resolved(self, ev: CodeResolved) -> None:
        order = self.orders.get(ev.order_id)
        if order is None or ev.order_id not in self._resolving:
            return
        status = ev.answer.status
        if status == "paid" and ev.step == "query":
            self.runner._write(self.orders.set_state, order.order_id, "paid",
                               ev.answer.gateway_ref)
            self._record_payment(order.order_id)
        elif status in ("failed", "not_found", "reversed"):
            self.runner._write(self.orders.set_state, order.order_id, STATE_OF[status], None,
                               ev.answer.reason or f"resolved_at_start:{status}")
            self._resolving.pop(order.order_id, None)
        else:  # still unknown, or the resident never confirmed: undo it
            tries = self._resolving[order.order_id] = self._resolving[order.order_id] + 1
            if tries > RESOLVE_TRIES:
                log.error("code order %s still unresolved; the next start asks again",
                          order.order_id)
                self._resolving.pop(order.order_id, None)
            else:
                self.runner._write(self.orders.set_state, order.order_id, "reversing")
                self._resolve(order.order_id, "reverse", order.amount_minor)
        self._check_done()

    def _record_payment(self, order_id: str) -> None:
        order = self.orders.get(order_id)
        assert order is not None
        self.runner._write(self.runner.journal.commit_payment, order.order_id,
                           order.account_no, (), (), order.amount_minor, False, True, "", None,
                           order)
        log.warning("code order %s was paid: recorded as its payment at start-up", order_id)
        self._resolving.pop(order_id, None)

    def _check_done(self) -> None:
        if not self._resolving:
            self.resolved.set()


#: the gateway's enrolment is remembered apart from the billing server's (its own token)
GATEWAY_ENROLLED_FILE = "enrolled-gateway.json"


def for_terminal(cfg: Any, db: Any, post: Callable[[Any], None]) -> CodePay | None:
    """The code tender as configured (``[gateway]``), or None when no gateway is: requests are
    signed with this kiosk's own key (per kiosk, like the billing API's, docs/security.md)."""
    gw = cfg.gateway
    if not gw.url:
        return None
    key = load_or_create_key(key_path(cfg))
    enrolment = Enrolment(key, cfg.kiosk.id, gw.enrol_token or None,
                          keys_dir(cfg) / GATEWAY_ENROLLED_FILE,
                          gw.connect_timeout_s + gw.read_timeout_s)
    client = CodeGatewayClient(gw.url, gw.merchant, cfg.kiosk.id,
                               KioskAuth(key, cfg.kiosk.id, enrolment),
                               gw.connect_timeout_s, gw.read_timeout_s)
    return CodePay(CodeOrders(db), client, post)
