"""The end of a payment in plain facts: asked once when paying less than is owed, cleared or
still owed, stopped short by a fault — in the pure helpers and through the reducer."""

from __future__ import annotations

from dataclasses import replace

from kiosk.flow import events as e
from kiosk.flow.outcome import asks_first, settle, short_number, stopped_short
from kiosk.flow.session import Credit, Phase, Session, advance

ACC = e.AccountInfo("1000000016", "张*明", "幸福*区", 12_850, 0)


def amount_screen(**kw) -> Session:
    base = Session(phase=Phase.AMOUNT, session_id="S1", account=ACC, printer_can_print=True)
    return replace(base, **kw)


def test_asks_only_when_paying_less_than_is_owed():
    assert asks_first(5_000, 12_850, 0)
    assert not asks_first(12_850, 12_850, 0) and not asks_first(20_000, 12_850, 0)
    assert not asks_first(5_000, 0, 0) and not asks_first(5_000, None, 0)
    assert not asks_first(5_000, 12_850, 5_000)  # the same choice again is the answer
    assert asks_first(10_000, 12_850, 5_000)  # another amount under the arrears: asked anew


def test_less_than_owed_asks_once_then_starts():
    s, cmds = advance(amount_screen(), e.AmountChosen(5_000))
    assert s.phase == Phase.AMOUNT and s.short_asked == 5_000 and s.target_minor == 0
    assert [type(c).__name__ for c in cmds] == ["StartTimer"]
    s, cmds = advance(s, e.AmountChosen(5_000))
    assert s.phase == Phase.INSERTING and s.target_minor == 5_000 and s.short_asked == 0


def test_reconsidering_goes_back_to_choosing():
    s, _ = advance(amount_screen(), e.AmountChosen(5_000))
    s, _ = advance(s, e.AmountReconsidered())
    assert s.phase == Phase.AMOUNT and s.short_asked == 0
    s, _ = advance(s, e.AmountChosen(12_850))  # all that is owed: no question
    assert s.phase == Phase.INSERTING


def test_no_question_while_cash_cannot_be_taken():
    s, _ = advance(amount_screen(validator_ok=False), e.AmountChosen(5_000))
    assert s.message == "validator_unavailable" and s.short_asked == 0


def test_settlement_from_minor_units():
    assert settle(12_850, 12_850).cleared is True
    assert settle(12_850, 20_000) == settle(12_850, 20_000).__class__(True, 0, 7_150)
    short = settle(12_850, 5_000)
    assert short.still_owed_minor == 7_850 and short.cleared is False
    assert settle(None, 5_000).cleared is None
    assert settle(0, 5_000).prepaid_minor == 5_000


def test_a_fault_mid_payment_is_remembered_as_stopping_it_short():
    s = replace(amount_screen(), phase=Phase.INSERTING, target_minor=12_850,
                credits=(Credit(1, "note", 5_000),), next_seq=2)
    s, _ = advance(s, e.DeviceFaulted("bill_validator", "acceptor_jam", "jam"))
    assert s.phase == Phase.COMMITTING and s.interrupted == "acceptor_jam"
    assert stopped_short(s.interrupted, s.credited_minor, s.target_minor)
    assert not stopped_short("", 5_000, 12_850)
    assert not stopped_short("acceptor_jam", 12_850, 12_850)


def test_short_receipt_number_is_the_digits_it_ends_with():
    assert short_number("KIOSK-0001-20260301-00042") == "00042"
    assert short_number("KIOSK-0001-20260301-1234567") == "234567"
    assert short_number("R1") == "1" and short_number("ABC") == "ABC"
