"""Table-driven (phase, event) → (phase, commands) tests and money invariants of the reducer."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings, strategies as st

from kiosk.flow import commands as c
from kiosk.flow import events as e
from kiosk.flow.rules import FlowConfig
from kiosk.flow.session import Phase, Session, advance

ACC = e.AccountInfo("1000000016", "张*明", "幸福*区", 12000, 0)
OFFLINE = e.QueueState(online=False)


def at(phase: Phase, **kw) -> Session:
    base = Session(phase=phase, session_id="S1", account=ACC, printer_can_print=True)
    if phase in (Phase.INSERTING, Phase.COMMITTING):
        base = replace(base, target_minor=12000)
    return replace(base, **kw)


def kinds(cmds):
    return [type(x).__name__ for x in cmds]


TABLE = [
    # phase, event, next phase, command kinds
    (Phase.IDLE, e.CardTapped("0A1B2C3D4E", "S1"), Phase.IDENTIFYING, ["LookupCard", "StartTimer"]),
    (Phase.IDLE, e.AccountEntered("1000000016", "S1"), Phase.IDENTIFYING, ["LookupAccount", "StartTimer"]),
    (Phase.IDLE, e.AccountEntered("1000000017", "S1"), Phase.IDENTIFYING, ["StartTimer"]),
    (Phase.IDLE, e.NoteEscrowed(1000), Phase.IDLE, []),
    (Phase.IDENTIFYING, e.AccountFound("S1", ACC), Phase.ACCOUNT, ["StartTimer"]),
    (Phase.IDENTIFYING, e.AccountNotFound("S1", "unknown_account"), Phase.IDENTIFYING, ["StartTimer"]),
    (Phase.IDENTIFYING, e.CancelPressed(), Phase.IDLE, ["CancelTimer"]),
    (Phase.IDENTIFYING, e.TimerExpired("idle"), Phase.IDLE, []),
    (Phase.ACCOUNT, e.ContinuePressed(), Phase.AMOUNT, ["CheckReadiness", "StartTimer"]),
    (Phase.ACCOUNT, e.TimerExpired("idle"), Phase.IDLE, []),
    (Phase.AMOUNT, e.AmountChosen(12000), Phase.INSERTING,
     ["CancelTimer", "JournalSessionStart", "EnableAcceptors", "StartTimer"]),
    (Phase.AMOUNT, e.AmountChosen(50), Phase.AMOUNT, ["StartTimer"]),
    (Phase.AMOUNT, e.AmountChosen(10_000_000), Phase.AMOUNT, ["StartTimer"]),
    (Phase.INSERTING, e.NoteEscrowed(10000), Phase.INSERTING, ["JournalEscrow", "StackNote"]),
    (Phase.INSERTING, e.NoteEscrowed(300), Phase.INSERTING, ["JournalEscrow", "ReturnNote"]),
    (Phase.INSERTING, e.NoteCredited(10000), Phase.INSERTING, ["JournalCredit", "StartTimer"]),
    (Phase.INSERTING, e.CoinCredited(100), Phase.INSERTING, ["JournalCredit", "StartTimer"]),
    (Phase.INSERTING, e.FinishPressed(), Phase.CANCELLED,
     ["DisableAcceptors", "CancelTimer", "JournalSessionEnd", "StartTimer"]),
    (Phase.INSERTING, e.NoteRejected("dirty note"), Phase.INSERTING, []),
    (Phase.COMMITTING, e.PaymentCommitted("S1", "S1", "R1"), Phase.RECEIPT, ["PrintReceipt", "StartTimer"]),
    (Phase.RECEIPT, e.ReceiptPrinted("S1"), Phase.RECEIPT, []),
    # answers for another session change nothing (a slow lookup for the resident before)
    (Phase.IDENTIFYING, e.AccountFound("S0", ACC), Phase.IDENTIFYING, []),
    (Phase.IDENTIFYING, e.AccountNotFound("S0", "unknown_account"), Phase.IDENTIFYING, []),
    (Phase.COMMITTING, e.PaymentCommitted("S0", "S0", "R0"), Phase.COMMITTING, []),
    (Phase.AMOUNT, e.ReadinessChanged("S0", False, False), Phase.AMOUNT, []),
    (Phase.RECEIPT, e.ContinuePressed(), Phase.RATING, ["StartTimer"]),
    (Phase.RATING, e.Rated(5), Phase.IDLE, ["CancelTimer"]),  # no txn_id in this row → no rating
    (Phase.RATING, e.TimerExpired("screen"), Phase.IDLE, []),
    (Phase.CANCELLED, e.TimerExpired("screen"), Phase.IDLE, ["CancelTimer"]),
    (Phase.IDLE, e.DeviceFaulted("bill_validator", "acceptor_jam", "jam"), Phase.OUT_OF_SERVICE,
     ["DisableAcceptors"]),
]


@pytest.mark.parametrize("phase,event,expected,cmds", TABLE, ids=lambda x: getattr(x, "value", None) or type(x).__name__)
def test_transition_table(phase, event, expected, cmds):
    s, out = advance(at(phase), event)
    assert s.phase == expected
    assert kinds(out) == cmds


def test_escrow_is_not_money_and_credit_is():
    s, _ = advance(at(Phase.INSERTING), e.NoteEscrowed(10000))
    assert s.credited_minor == 0 and s.escrow == (1, 10000)
    s, cmds = advance(s, e.NoteCredited(10000))
    assert s.credited_minor == 10000 and s.escrow is None
    assert cmds[0] == c.JournalCredit("S1", 1, "note", 10000)


def test_escrow_journaled_before_stack():
    _, cmds = advance(at(Phase.INSERTING), e.NoteEscrowed(5000))
    assert isinstance(cmds[0], c.JournalEscrow) and cmds[0].decision == "stack"
    assert isinstance(cmds[1], c.StackNote)


def test_finish_with_note_in_escrow_waits_then_commits():
    s, _ = advance(at(Phase.INSERTING), e.NoteCredited(10000))
    s, _ = advance(s, e.NoteEscrowed(2000))
    s, cmds = advance(s, e.FinishPressed())
    assert s.phase == Phase.INSERTING and kinds(cmds) == ["DisableAcceptors", "CancelTimer"]
    s, cmds = advance(s, e.NoteCredited(2000))
    assert s.phase == Phase.COMMITTING
    commit = cmds[-1]
    assert isinstance(commit, c.CommitPayment)
    assert commit.amount_minor == 12000 and commit.notes == ((2000, 1), (10000, 1))


def test_insert_timeout_commits_credited_money():
    s, _ = advance(at(Phase.INSERTING), e.NoteCredited(5000))
    s, cmds = advance(s, e.TimerExpired("insert"))
    assert s.phase == Phase.COMMITTING
    assert isinstance(cmds[-1], c.CommitPayment) and cmds[-1].amount_minor == 5000


def test_cancel_after_money_commits_no_change_given():
    s, _ = advance(at(Phase.INSERTING), e.NoteCredited(5000))
    s, cmds = advance(s, e.CancelPressed())
    assert s.phase == Phase.COMMITTING and cmds[-1].amount_minor == 5000


def test_surplus_is_credited_not_returned():
    s = at(Phase.INSERTING, target_minor=1000)
    s, cmds = advance(s, e.NoteEscrowed(10000))
    assert isinstance(cmds[1], c.StackNote)


def test_over_transaction_maximum_is_returned():
    cfg = FlowConfig(max_txn_minor=15000, offline_max_txn_minor=15000)
    s = at(Phase.INSERTING, config=cfg)
    s, _ = advance(s, e.NoteCredited(10000))
    s, cmds = advance(s, e.NoteEscrowed(10000))
    assert isinstance(cmds[1], c.ReturnNote) and cmds[0].reason == "over_transaction_maximum"


def test_offline_caps_refuse_new_cash_with_reason():
    cfg = FlowConfig(offline_max_pending_count=3)
    full = e.QueueState(online=False, pending_count=3)
    s = at(Phase.AMOUNT, config=cfg, queue=full)
    s, _ = advance(s, e.AmountChosen(5000))
    assert s.phase == Phase.AMOUNT and s.message == "offline_queue_full"
    s = at(Phase.INSERTING, config=cfg, queue=full)
    s, cmds = advance(s, e.NoteEscrowed(5000))
    assert isinstance(cmds[1], c.ReturnNote) and cmds[0].reason == "offline_queue_full"


@pytest.mark.parametrize("queue,reason", [
    (e.QueueState(False, pending_total_minor=1_999_000), "offline_total_reached"),
    (e.QueueState(False, oldest_pending_age_s=10**7), "offline_too_long"),
])
def test_other_offline_caps(queue, reason):
    s = at(Phase.INSERTING, queue=queue)
    _, cmds = advance(s, e.NoteEscrowed(5000))
    assert cmds[0].reason == reason


def test_offline_per_transaction_cap():
    s = at(Phase.INSERTING, queue=OFFLINE)
    s, _ = advance(s, e.NoteCredited(100_000))
    _, cmds = advance(s, e.NoteEscrowed(100))
    assert cmds[0].reason == "over_offline_maximum"


def test_offline_flag_travels_with_the_payment():
    s, _ = advance(at(Phase.INSERTING), e.ConnectivityChanged(online=False))
    assert s.offline
    s, _ = advance(s, e.NoteCredited(1000))
    _, cmds = advance(s, e.FinishPressed())
    assert cmds[-1].offline is True


def test_printer_unavailable_asks_for_on_screen_receipt():
    s = at(Phase.AMOUNT, printer_can_print=False)
    s, cmds = advance(s, e.AmountChosen(12000))
    assert s.phase == Phase.AMOUNT and s.message == "printer_unavailable_accept_screen_receipt"
    s, cmds = advance(s, e.OnScreenReceiptAccepted())
    assert s.phase == Phase.INSERTING
    s, _ = advance(s, e.NoteCredited(5000))
    s, _ = advance(s, e.FinishPressed())
    s, cmds = advance(s, e.PaymentCommitted("S1", "S1", "R1"))
    assert s.phase == Phase.RECEIPT and s.printed is False
    assert "PrintReceipt" not in kinds(cmds)


def test_validator_fault_blocks_insertion():
    s = at(Phase.AMOUNT, validator_ok=False)
    s, _ = advance(s, e.AmountChosen(5000))
    assert s.phase == Phase.AMOUNT and s.message == "validator_unavailable"


def test_jam_during_insertion_commits_credit_then_out_of_service():
    s, _ = advance(at(Phase.INSERTING), e.NoteCredited(5000))
    s, _ = advance(s, e.NoteEscrowed(1000))
    s, cmds = advance(s, e.DeviceFaulted("bill_validator", "acceptor_jam", "jam"))
    assert s.phase == Phase.COMMITTING and isinstance(cmds[-1], c.CommitPayment)
    assert cmds[-1].amount_minor == 5000
    s, _ = advance(s, e.PaymentCommitted("S1", "S1", "R1"))
    s, _ = advance(s, e.ContinuePressed())
    s, _ = advance(s, e.Rated(None))
    assert s.phase == Phase.OUT_OF_SERVICE
    s, _ = advance(s, e.DeviceCleared("bill_validator", "acceptor_jam"))
    assert s.phase == Phase.IDLE


def test_jam_with_nothing_credited_keeps_session_open():
    s, _ = advance(at(Phase.INSERTING), e.NoteEscrowed(1000))
    s, cmds = advance(s, e.DeviceFaulted("bill_validator", "acceptor_jam", "jam"))
    assert s.phase == Phase.OUT_OF_SERVICE
    assert "JournalSessionEnd" not in kinds(cmds)
    # the device later says the jammed note was stacked and credited: it is money, paid in
    s, cmds = advance(s, e.NoteCredited(1000))
    assert kinds(cmds) == ["JournalCredit", "CommitPayment"] and cmds[1].amount_minor == 1000


def test_credit_with_no_session_is_recorded_for_the_operator():
    s, cmds = advance(Session(), e.NoteCredited(1000))
    assert cmds == [c.JournalCredit("", 1, "note", 1000)]


def test_rating_queued_after_paid_session():
    s = at(Phase.RATING, txn_id="S1")
    s, cmds = advance(s, e.Rated(4))
    assert cmds[0] == c.QueueRating("S1", 4) and s.phase == Phase.IDLE
    assert s.account is None and s.credits == ()


def test_duplicate_payment_guard_is_carried_to_the_screen():
    s, _ = advance(at(Phase.IDENTIFYING), e.AccountFound("S1", ACC, recently_paid=True))
    assert s.recently_paid is True


def test_malformed_account_gives_reason_without_lookup():
    s, cmds = advance(Session(), e.AccountEntered("12345", "S9"))
    assert s.message == "malformed_account:wrong_length"
    assert not any(isinstance(x, c.LookupAccount) for x in cmds)


def test_a_stale_answer_never_shows_another_residents_account():
    a_account = e.AccountInfo("1000000016", "张*明", "幸福*区", 12000, 0)
    s, cmds = advance(Session(), e.CardTapped("AAAAAAAAAA", "A"))
    assert cmds[0] == c.LookupCard("A", "AAAAAAAAAA")
    s, _ = advance(s, e.CancelPressed())
    s, cmds = advance(s, e.CardTapped("BBBBBBBBBB", "B"))
    assert cmds[0] == c.LookupCard("B", "BBBBBBBBBB")
    s, _ = advance(s, e.AccountFound("A", a_account))  # A's slow answer arrives now
    assert s.phase == Phase.IDENTIFYING and s.account is None
    s, _ = advance(s, e.AccountNotFound("A", "unknown_card"))
    assert s.message == ""


def test_a_second_tap_while_looking_up_asks_a_new_question():
    s, _ = advance(Session(), e.AccountEntered("1000000016", "A"))
    s, cmds = advance(s, e.AccountEntered("1000000024", "A2"))
    assert s.session_id == "A2" and cmds[0] == c.LookupAccount("A2", "1000000024")
    s, _ = advance(s, e.AccountFound("A", ACC))
    assert s.phase == Phase.IDENTIFYING


def test_a_reprint_of_another_receipt_does_not_touch_this_one():
    s = at(Phase.RECEIPT, txn_id="S1", receipt_no="R1")
    s, _ = advance(s, e.ReceiptFailed("OTHER", "paper out"))
    assert s.printed is None and s.message == ""
    s, _ = advance(s, e.ReceiptPrinted("S1"))
    assert s.printed is True


def test_a_failed_journal_write_locks_and_hands_back_the_note_in_escrow():
    s, _ = advance(at(Phase.INSERTING), e.NoteEscrowed(1000))
    s, cmds = advance(s, e.JournalFailed("OperationalError: database or disk is full"))
    assert s.phase == Phase.OUT_OF_SERVICE and ("journal", "write_failed") in s.faults
    assert "ReturnNote" in kinds(cmds) and "DisableAcceptors" in kinds(cmds)
    # nothing new starts while the journal cannot record
    s, cmds = advance(s, e.CardTapped("0A1B2C3D4E", "S2"))
    assert s.phase == Phase.OUT_OF_SERVICE and cmds == []


# ---- Hypothesis: money invariants over random device event sequences
device_events = st.one_of(
    st.builds(e.NoteEscrowed, st.sampled_from([100, 300, 500, 1000, 2000, 5000, 10000])),
    st.builds(e.NoteCredited, st.sampled_from([100, 500, 1000, 2000, 5000, 10000])),
    st.builds(e.NoteReturned, st.sampled_from([100, 1000]), st.just("x")),
    st.builds(e.CoinCredited, st.sampled_from([10, 50, 100])),
    st.just(e.FinishPressed()),
    st.just(e.TimerExpired("insert")),
    st.just(e.CancelPressed()),
    st.builds(e.DeviceFaulted, st.just("bill_validator"), st.just("jam"), st.just("jam")),
    st.just(e.PaymentCommitted("S1", "S1", "R1")),
    st.just(e.JournalFailed("disk full")),
    st.builds(e.QueueChanged, st.builds(e.QueueState, st.booleans())),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(device_events, max_size=40))
def test_credited_total_equals_sum_of_safe_events(events):
    s = at(Phase.INSERTING)
    safe = 0
    journaled = 0
    committed = 0
    for ev in events:
        if isinstance(ev, (e.NoteCredited, e.CoinCredited)):
            safe += ev.value_minor
        s, cmds = advance(s, ev)
        for cmd in cmds:
            if isinstance(cmd, c.JournalCredit):
                journaled += cmd.value_minor
            if isinstance(cmd, c.CommitPayment):
                committed += cmd.amount_minor
                assert cmd.amount_minor == sum(v * n for v, n in cmd.notes + cmd.coins)
        # escrow is never counted as money
        assert s.credited_minor == sum(cr.value_minor for cr in s.credits)
    # every safe event is journaled exactly once, whatever the phase
    assert journaled == safe
    # and nothing is committed twice: commits never exceed what was credited
    assert committed <= safe
