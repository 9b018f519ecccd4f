"""A scanned code → bill, payment code or unreadable (kiosk/flow/scan.py), and what the reducer
does with each: a bill identifies like a typed number, the rest leave a message and lose
nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings, strategies as st

from kiosk.flow import commands as c
from kiosk.flow import events as e
from kiosk.flow import scan
from kiosk.flow.account import make_account_number
from kiosk.flow.scan import ScanRules, classify, rules_from_table
from kiosk.flow.session import Phase, Session, advance

RULES = ScanRules()
ACCOUNT = make_account_number("310100001")
BILL = f"DF{ACCOUNT}202611"
ACC = e.AccountInfo(ACCOUNT, "张*明", "幸福*区", 12850, 0)


@pytest.mark.parametrize("text, expected", [
    (BILL, e.BillScanned(ACCOUNT, "S1")),
    ("134567890123456789", e.PaymentCodeScanned("134567890123456789")),  # WeChat: 18, 10-15
    ("101234567890123456", e.PaymentCodeScanned("101234567890123456")),
    ("2812345678901234", e.PaymentCodeScanned("2812345678901234")),  # Alipay: 16-24, 25-30
    ("301234567890123456789012", e.PaymentCodeScanned("301234567890123456789012")),
    ("161234567890123456", e.UnreadableScan("not_a_bill")),  # 16 is no wallet's
    ("1345678901234567890", e.UnreadableScan("not_a_bill")),  # 19 digits, WeChat prefix
    ("311234567890123456", e.UnreadableScan("not_a_bill")),
    ("2412345678901234", e.UnreadableScan("not_a_bill")),
    ("https://example.com/?a=1", e.UnreadableScan("not_a_bill")),
    (f"DF{ACCOUNT[:-1]}{(int(ACCOUNT[-1]) + 1) % 10}202611", e.UnreadableScan("bad_account")),
    (BILL + "9", e.UnreadableScan("not_a_bill")),  # the whole code must match
    ("", e.UnreadableScan("not_a_bill")),
])
def test_classify(text: str, expected: e.Event) -> None:
    assert classify(text, RULES, "S1") == expected


def test_a_utilitys_own_pattern() -> None:
    rules = ScanRules(bill_pattern=r"https://bill\.example\.cn/q\?acct=(?P<account>\d{10})&.*")
    assert classify(f"https://bill.example.cn/q?acct={ACCOUNT}&p=202611", rules) == \
        e.BillScanned(ACCOUNT)
    assert classify(BILL, rules) == e.UnreadableScan("not_a_bill")


@pytest.mark.parametrize("table, where", [
    ({"bill_pattern": "DF[0-9]{10}"}, "scanner.bill_pattern: needs a named group"),
    ({"bill_pattern": "DF(?P<account>"}, "scanner.bill_pattern: not a regular expression"),
    ({"payment_code_pattern": "("}, "scanner.payment_code_pattern: not a regular expression"),
    ({"payment_code_pattern": 18}, "scanner.payment_code_pattern: expected a regular expression"),
    ({"bill": "x"}, "scanner.bill: unknown key"),
])
def test_bad_rules_name_the_key(table: dict, where: str) -> None:
    with pytest.raises(ValueError, match=where.replace("(", r"\(").replace("?", r"\?")):
        rules_from_table(table)


def test_rules_from_table() -> None:
    assert rules_from_table({}) == RULES
    assert rules_from_table({"payment_code_pattern": "9{18}"}).payment_code_pattern == "9{18}"


# ------------------------------------------------------------------ the reducer
def at(phase: Phase, **kw) -> Session:
    return replace(Session(phase=phase, session_id="S1", account=ACC), **kw)


def test_a_bill_on_the_attract_screen_looks_the_account_up_like_a_typed_number() -> None:
    s, cmds = advance(Session(), e.BillScanned(ACCOUNT, "S2"))
    typed, typed_cmds = advance(Session(), e.AccountEntered(ACCOUNT, "S2"))
    assert (s, cmds) == (typed, typed_cmds)
    assert s.phase == Phase.IDENTIFYING and s.session_id == "S2"
    assert cmds[0] == c.LookupAccount("S2", ACCOUNT)


def test_a_bill_while_a_lookup_is_out_asks_again_with_its_own_id() -> None:
    s, cmds = advance(at(Phase.IDENTIFYING), e.BillScanned(ACCOUNT, "S3"))
    assert s.session_id == "S3" and c.LookupAccount("S3", ACCOUNT) in cmds
    s, _ = advance(s, e.AccountFound("S1", ACC))  # the older question's answer: dropped
    assert s.phase == Phase.IDENTIFYING
    s, _ = advance(s, e.AccountFound("S3", ACC))
    assert s.phase == Phase.ACCOUNT and s.account == ACC


def test_a_bill_after_a_cancelled_payment_starts_a_new_session() -> None:
    s, cmds = advance(at(Phase.CANCELLED), e.BillScanned(ACCOUNT, "S4"))
    assert s.phase == Phase.IDENTIFYING and s.session_id == "S4"


@pytest.mark.parametrize("ev, message", [
    (e.UnreadableScan("not_a_bill"), scan.NOT_A_BILL),
    (e.UnreadableScan("bad_account"), scan.BAD_BILL),
    (e.PaymentCodeScanned("134567890123456789"), scan.CODE_NOT_HERE),
])
def test_not_a_bill_on_the_attract_screen_opens_the_keypad_with_the_message(ev, message) -> None:
    s, cmds = advance(Session(), ev)
    assert s.phase == Phase.IDENTIFYING and s.message == message
    assert kinds(cmds) == ["StartTimer"]


@pytest.mark.parametrize("phase", [Phase.IDENTIFYING, Phase.ACCOUNT, Phase.AMOUNT])
@pytest.mark.parametrize("ev, message", [
    (e.UnreadableScan("not_a_bill"), scan.NOT_A_BILL),
    (e.PaymentCodeScanned("134567890123456789"), scan.CODE_NOT_HERE),
])
def test_a_scan_on_a_choosing_screen_is_a_message_and_loses_nothing(phase, ev, message) -> None:
    before = at(phase, target_minor=5000 if phase == Phase.AMOUNT else 0)
    s, cmds = advance(before, ev)
    assert s == replace(before, message=message)
    assert kinds(cmds) == ["StartTimer"]


@pytest.mark.parametrize("phase", [Phase.ACCOUNT, Phase.AMOUNT])
def test_a_bill_on_the_account_or_amount_screen_is_ignored_like_a_typed_number(phase) -> None:
    before = at(phase)
    assert advance(before, e.BillScanned(ACCOUNT, "S9")) == (before, [])


@pytest.mark.parametrize("phase", [Phase.INSERTING, Phase.COMMITTING, Phase.RECEIPT,
                                   Phase.RATING, Phase.OUT_OF_SERVICE])
@pytest.mark.parametrize("ev", [e.UnreadableScan("not_a_bill"), e.PaymentCodeScanned("1" * 18),
                                e.BillScanned(ACCOUNT, "S9")])
def test_scans_while_money_moves_change_nothing(phase, ev) -> None:
    before = at(phase, target_minor=5000)
    assert advance(before, ev) == (before, [])


def kinds(cmds):
    return [type(x).__name__ for x in cmds]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_text_is_one_of_the_three(text: str) -> None:
    ev = classify(text, RULES, "S1")
    assert isinstance(ev, (e.BillScanned, e.PaymentCodeScanned, e.UnreadableScan))
    if isinstance(ev, e.BillScanned):
        assert ev.account_no == text[2:12] and ev.session_id == "S1"
