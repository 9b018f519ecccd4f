"""The code tender in the reducer: offered only online with a gateway; one order id per attempt;
user_paying polled with a countdown; unknown → query → reverse; a retry (a new order) only after
the last order is known not charged; cash after a decline."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings, strategies as st

from kiosk.flow import code_tender as ct
from kiosk.flow import commands as c
from kiosk.flow import events as e
from kiosk.flow.session import Phase, Session, advance

ACC = e.AccountInfo("1000000016", "张*明", "幸福*区", 12000, 0)
CODE = "134567890123456789"


def amount_screen(**kw) -> Session:
    s = Session(phase=Phase.AMOUNT, session_id="S1", account=ACC, printer_can_print=True,
                code_enabled=True)
    return replace(s, **kw)


def run(s: Session, *events: e.Event) -> tuple[Session, list[c.Command]]:
    cmds: list[c.Command] = []
    for ev in events:
        s, more = advance(s, ev)
        cmds += more
    return s, cmds


def of(cmds, kind):
    return [x for x in cmds if isinstance(x, kind)]


def answer(order_id: str, status: str, ref: str = "", reason: str = "") -> e.CodeGatewayAnswered:
    return e.CodeGatewayAnswered("S1", order_id, status, ref, reason)


def test_offline_or_without_a_gateway_the_code_tender_is_refused_and_says_why():
    s, _ = run(amount_screen(queue=e.QueueState(online=False)), e.CodeTenderChosen(5000))
    assert (s.phase, s.message) == (Phase.AMOUNT, "code_offline")
    s, _ = run(amount_screen(code_enabled=False), e.CodeTenderChosen(5000))
    assert (s.phase, s.message) == (Phase.AMOUNT, "code_unavailable")


def test_scan_charge_paid_commits_like_cash():
    s, cmds = run(amount_screen(), e.CodeTenderChosen(5000), e.PaymentCodeScanned(CODE))
    assert s.phase == Phase.CODE_WAIT
    (charge,) = of(cmds, c.ChargeCode)
    assert (charge.order_id, charge.amount_minor, charge.code) == ("S1.C1", 5000, CODE)
    s, cmds = run(s, answer("S1.C1", "paid", "GW1"))
    assert s.phase == Phase.COMMITTING and s.committed
    assert of(cmds, c.CommitCodePayment) == [c.CommitCodePayment("S1", "S1.C1", ACC.account_no,
                                                                 5000)]
    s, cmds = run(s, e.PaymentCommitted("S1", "S1.C1", "R1"))
    assert s.phase == Phase.RECEIPT and of(cmds, c.PrintReceipt)


def test_a_scan_that_is_no_payment_code_charges_nothing():
    s, cmds = run(amount_screen(), e.CodeTenderChosen(5000), e.PaymentCodeScanned("hello"),
                  e.UnreadableScan("garbage"))
    assert (s.phase, s.message) == (Phase.CODE_SCAN, "code_unreadable")
    assert not of(cmds, c.ChargeCode)


def test_user_paying_is_polled_with_a_countdown_then_paid():
    s, _ = run(amount_screen(), e.CodeTenderChosen(5000), e.PaymentCodeScanned(CODE),
               answer("S1.C1", "user_paying"))
    assert s.message == "code_confirm_on_phone" and s.code.left_s == ct.CONFIRM_S
    s, cmds = run(s, e.TimerExpired(ct.CODE_TIMER))
    assert s.code.left_s == ct.CONFIRM_S - ct.POLL_S and of(cmds, c.QueryCode)
    s, cmds = run(s, answer("S1.C1", "paid", "GW7"))
    assert s.phase == Phase.COMMITTING and of(cmds, c.CommitCodePayment)


def test_user_paying_past_the_countdown_is_reversed_and_the_resident_told():
    s, _ = run(amount_screen(), e.CodeTenderChosen(5000), e.PaymentCodeScanned(CODE),
               answer("S1.C1", "user_paying"))
    polls = []
    for _ in range(ct.CONFIRM_S // ct.POLL_S):
        s, cmds = run(s, e.TimerExpired(ct.CODE_TIMER))
        polls += of(cmds, c.QueryCode)
        if s.code.step == "confirming":
            s, _ = run(s, answer("S1.C1", "user_paying"))
    assert len(polls) == ct.CONFIRM_S // ct.POLL_S - 1
    assert s.code.step == "reversing" and of(cmds, c.ReverseCode)
    s, _ = run(s, answer("S1.C1", "reversed"))
    assert (s.phase, s.message) == (Phase.CODE_FAILED, "code_reversed")


def test_unknown_is_queried_then_reversed_never_assumed():
    s, _ = run(amount_screen(), e.CodeTenderChosen(5000), e.PaymentCodeScanned(CODE))
    s, cmds = run(s, answer("S1.C1", "unknown"))
    assert s.code.step == "querying" and of(cmds, c.QueryCode)
    s, cmds = run(s, answer("S1.C1", "unknown"))
    assert s.code.step == "reversing" and of(cmds, c.ReverseCode)
    s, _ = run(s, answer("S1.C1", "reversed"))
    assert s.phase == Phase.CODE_FAILED and ct.may_retry(s.code)


def test_a_reversal_that_never_gets_through_leaves_the_order_to_start_up_and_no_retry():
    s, _ = run(amount_screen(), e.CodeTenderChosen(5000), e.PaymentCodeScanned(CODE),
               answer("S1.C1", "unknown"), answer("S1.C1", "unknown"))
    for _ in range(ct.REVERSE_TRIES):
        s, _ = run(s, answer("S1.C1", "unknown"), e.TimerExpired(ct.CODE_TIMER))
    s, _ = run(s, answer("S1.C1", "unknown"))
    assert (s.phase, s.message) == (Phase.CODE_FAILED, "code_unresolved")
    s, cmds = run(s, e.CodeTenderChosen(5000), e.PaymentCodeScanned(CODE))
    assert not of(cmds, c.ChargeCode)  # never a second charge while the first may have taken


def test_a_retry_after_a_decline_is_a_new_order_and_cash_is_still_offered():
    s, _ = run(amount_screen(), e.CodeTenderChosen(5000), e.PaymentCodeScanned(CODE),
               answer("S1.C1", "failed", reason="declined"))
    assert (s.phase, s.message) == (Phase.CODE_FAILED, "code_failed:declined")
    retried, cmds = run(s, e.CodeTenderChosen(5000), e.PaymentCodeScanned(CODE))
    assert [x.order_id for x in of(cmds, c.ChargeCode)] == ["S1.C2"]
    # less than owed in cash is asked once (kiosk/flow/outcome.py): the same amount again is yes
    cash, cmds = run(s, e.AmountChosen(5000), e.AmountChosen(5000))
    assert cash.phase == Phase.INSERTING and of(cmds, c.EnableAcceptors)


def test_a_late_paid_while_reversing_is_left_to_the_reversal():
    s, _ = run(amount_screen(), e.CodeTenderChosen(5000), e.PaymentCodeScanned(CODE),
               answer("S1.C1", "unknown"), answer("S1.C1", "unknown"))
    assert s.code.step == "reversing"
    late = e.CodeGatewayAnswered("S1", "S1.C1", "paid", "GW1", step="query")
    s, cmds = run(s, late)
    assert s.code.step == "reversing" and cmds == []
    s, cmds = run(s, e.CodeGatewayAnswered("S1", "S1.C1", "paid", "GW1", step="reverse"))
    assert not of(cmds, c.CommitCodePayment)  # never a payment for an order being undone
    s, _ = run(s, e.CodeGatewayAnswered("S1", "S1.C1", "reversed", step="reverse"))
    assert (s.phase, s.message) == (Phase.CODE_FAILED, "code_reversed")


def test_an_answer_about_an_earlier_order_or_session_changes_nothing():
    s, _ = run(amount_screen(), e.CodeTenderChosen(5000), e.PaymentCodeScanned(CODE))
    for stale in (answer("S1.C0", "paid", "GW1"),
                  e.CodeGatewayAnswered("S0", "S1.C1", "paid", "GW1")):
        after, cmds = run(s, stale)
        assert after == s and cmds == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["paid", "failed", "user_paying", "reversed", "not_found",
                                 "unknown", "tick", "cancel", "rescan", "retry"]), max_size=40))
def test_never_two_orders_open_and_never_committed_without_paid(steps):
    """Whatever the gateway says in whatever order: a new order only after the last one is known
    not charged, and a commit only for an order answered paid."""
    s, _ = run(amount_screen(), e.CodeTenderChosen(5000), e.PaymentCodeScanned(CODE))
    known_not_charged: set[str] = set()
    paid: set[str] = set()
    orders = ["S1.C1"]
    for step in steps:
        oid = s.code.order_id if s.code else ""
        ev = {"tick": e.TimerExpired(ct.CODE_TIMER), "cancel": e.CancelPressed(),
              "rescan": e.PaymentCodeScanned(CODE), "retry": e.CodeTenderChosen(5000)}.get(step)
        if ev is None:
            ev = answer(oid, step, "GW1" if step == "paid" else "")
        before = s
        s, cmds = advance(s, ev)
        if (isinstance(ev, e.CodeGatewayAnswered) and before.code
                and before.code.step in ct.WAITING):
            if step in ("failed", "reversed", "not_found"):
                known_not_charged.add(oid)
            if step == "paid":
                paid.add(oid)
        for cmd in cmds:
            if isinstance(cmd, c.ChargeCode):
                assert orders[-1] in known_not_charged and cmd.order_id not in orders
                orders.append(cmd.order_id)
            if isinstance(cmd, c.CommitCodePayment):
                assert cmd.order_id in paid
        if s.phase not in (Phase.CODE_SCAN, Phase.CODE_WAIT, Phase.CODE_FAILED):
            break
