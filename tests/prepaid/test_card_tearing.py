"""The card pulled at every step of a prepaid write (PN532 simulator ``remove`` before each
card exchange, ``tear N`` inside each block write): the old purchase stays readable, the
terminal asks for the card back, the same purchase id is retried, and in the end the card
and the journal hold exactly one purchase -- never a second, never none. A resident who
leaves gets a re-write slip and the next tap of the card finishes it."""

from __future__ import annotations

import pytest

from kiosk.flow import prepaid_card as pc
from tests.prepaid.rig import ACCT, CARD, Rig

STEPS = ("read", "write", "verify", "flip")


def assert_one_purchase(rig: Rig, txn: str) -> None:
    tokens = rig.utility.tokens()
    assert [t[0] for t in tokens] == [txn], "one token per payment"
    state = rig.card_state()
    assert state.current is not None and state.current.sequence == tokens[0][2]
    assert state.pointer == state.current_slot
    w = rig.book.get(txn)
    assert w.state == "done" and rig.book.pending() == []
    steps = rig.book.steps(txn)
    assert steps.count("done") == 1 and steps.count("token_received") == 1


def test_a_write_with_the_card_left_on_the_reader(tmp_path):
    rig = Rig(tmp_path)
    try:
        txn = rig.pay()
        rig.writer.start(txn)
        rig.pump(rig.status_is("done"), what="done")
        assert_one_purchase(rig, txn)
        assert rig.book.steps(txn) == ["paid", "token_received", "slot_written", "read_back",
                                       "pointer_flipped", "done"]
        assert rig.card_state().current_slot == 0
        # a second purchase goes to the other slot; the first stays beside it
        txn2 = rig.pay("S-PREPAID-2", 1_100)
        rig.writer.start(txn2)
        rig.pump(lambda: rig.book.get(txn2).state == "done", what="second done")
        state = rig.card_state()
        assert state.current_slot == 1 and state.records[0].cumulative < state.current.cumulative
        assert rig.sim.counters["writes"] == 6  # 2 slots x 2 blocks + 2 pointers, nothing twice
    finally:
        rig.close()


def _pull_then_return(rig: Rig, txn: str, old: pc.PurchaseToken | None) -> None:
    rig.pump(rig.status_is("card_needed", "done"), what="the card to be asked back")
    if rig.statuses[-1] == "card_needed":
        # the old purchase is what the card shows while the new one is unfinished
        state = rig.card_state()
        assert state.current in (old, pc.token_from_answer(
            rig.book.get(txn).token, txn, CARD, rig.book.get(txn).amount_minor))
        rig.sim.command(f"present {CARD}")
        rig.pump(rig.status_is("done"), what="done after the card came back")


@pytest.mark.parametrize("pull_at", range(len(STEPS)))
def test_card_removed_before_each_step(tmp_path, pull_at):
    first = Rig(tmp_path)
    try:  # a card that already holds one purchase, so "the old slot intact" means something
        t0 = first.pay("S-OLD")
        first.writer.start(t0)
        first.pump(first.status_is("done"))
        old = first.card_state().current
    finally:
        first.close()

    pulled = []

    def before(n: int) -> None:
        # worker steps: 0 the token, then read, write, verify, flip
        if n == pull_at + 1 and not pulled:
            pulled.append(n)
            rig.sim.command("remove")

    rig = Rig(tmp_path, before_step=before)
    try:
        txn = rig.pay()
        rig.writer.start(txn)
        _pull_then_return(rig, txn, old)
        assert pulled, "the card was never pulled"
        assert "card_removed" in rig.book.steps(txn)
        assert_one_purchase_of_two(rig, t0, txn)
    finally:
        rig.close()


def assert_one_purchase_of_two(rig: Rig, t0: str, txn: str) -> None:
    tokens = rig.utility.tokens()
    assert [t[0] for t in tokens] == [t0, txn]
    state = rig.card_state()
    assert state.current.sequence == 2 and state.pointer == state.current_slot
    assert state.records[1 - state.current_slot].sequence == 1  # the old one beside it
    assert rig.book.get(txn).state == "done" and rig.book.steps(txn).count("done") == 1


@pytest.mark.parametrize("write_no", range(3))  # slot block A, slot block B, pointer
@pytest.mark.parametrize("tear", (0, 7, 16))
def test_card_torn_inside_each_block_write(tmp_path, write_no, tear):
    rig = Rig(tmp_path)
    try:
        t0 = rig.pay("S-OLD")
        rig.writer.start(t0)
        rig.pump(rig.status_is("done"))
        old = rig.card_state().current
        base = rig.writes_done
        armed = []

        def before(n: int) -> None:
            if n - base == write_no and not armed:
                armed.append(n)
                rig.sim.tear_after = tear  # the card leaves after `tear` bytes of this write

        rig.before_write = before
        rig.statuses.clear()
        txn = rig.pay()
        rig.writer.start(txn)
        _pull_then_return(rig, txn, old)
        assert armed and rig.sim.counters["torn_writes"] == 1
        assert_one_purchase_of_two(rig, t0, txn)
    finally:
        rig.close()


def test_a_resident_who_leaves_gets_a_slip_and_the_next_tap_finishes(tmp_path):
    rig = Rig(tmp_path, before_step=lambda n: n == 2 and rig.sim.command("remove"))
    try:
        txn = rig.pay()
        rig.writer.start(txn)
        rig.pump(rig.status_is("card_needed"), what="card needed")
        rig.fire_timers()  # nobody put the card back in time
        rig.pump(rig.status_is("deferred"), what="deferred")
        assert rig.slips == [txn] and "slip_printed" in rig.book.steps(txn)
        assert rig.book.get(txn).state == "token_received"  # paid, owed, nothing lost
        rig.sim.command(f"present {CARD}")  # later: the same card is tapped
        rig.pump(rig.status_is("done"), what="done on the next tap")
        assert_one_purchase(rig, txn)
        assert rig.slips == [txn]
    finally:
        rig.close()


def test_the_utility_not_answering_yet_is_asked_again(tmp_path):
    rig = Rig(tmp_path)
    try:
        rec = rig.journal.commit_payment("S-LATE", ACCT, {100: 10}, {}, 1000, False,
                                         prepaid_card=CARD)
        rig.writer.start(rec.txn_id)
        rig.pump(lambda: bool(rig.retries), what="a retry to be scheduled")  # not delivered
        rig.utility.deliver(rec.txn_id, 1000)
        rig.pump(rig.status_is("done"), what="done once the payment arrived")
        assert_one_purchase(rig, rec.txn_id)
    finally:
        rig.close()
