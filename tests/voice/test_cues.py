"""Which prompts the resident hears, from settled sessions (pure: no Kivy, no audio)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kiosk.flow.events import AccountInfo
from kiosk.flow.session import Credit, Phase, Session
from kiosk.voice.cues import Heard, entry, listen
from kiosk.voice.prompts import LANGS

ACC = AccountInfo("1234567890", arrears_minor=12_850)


def ids(cue) -> list[str]:
    return [p.id for p in cue.prompts]


def walk(steps, lang="zh_CN"):
    """Feeds (session, screen) pairs through ``listen``; the prompt ids of each, and cuts."""
    heard, said = Heard(), []
    for s, screen in steps:
        cue = listen(heard, s, screen, lang)
        heard = cue.heard
        said.append((ids(cue), cue.cut))
    return said


def test_a_journey_says_each_screen_and_each_event():
    base = Session(phase=Phase.IDENTIFYING, session_id="s1", card_uid="AB12")
    acct = replace(base, phase=Phase.ACCOUNT, account=ACC)
    amount = replace(acct, phase=Phase.AMOUNT)
    insert = replace(amount, phase=Phase.INSERTING, target_minor=12_850)
    escrow = replace(insert, escrow=(1, 5_000), next_seq=2)
    credited = replace(insert, credits=(Credit(1, "note", 5_000),), next_seq=2)
    enough = replace(credited, credits=credited.credits + (Credit(2, "note", 10_000),))
    done = replace(enough, phase=Phase.RECEIPT, receipt_no="R1", txn_id="T1")
    printed = replace(done, printed=True)
    said = walk([(Session(), "attract"), (base, "identify"), (acct, "account"),
                 (amount, "amount"), (insert, "insert"), (insert, "insert"), (escrow, "insert"),
                 (credited, "insert"), (enough, "insert"), (done, "done"), (printed, "done")])
    assert said == [
        (["screen.attract"], True), (["say.card_read"], True), (["screen.account"], True),
        (["say.owed", "screen.amount"], True), (["screen.insert", "say.left"], True),
        ([], False),  # the same session again says nothing
        (["say.checking_note"], False), (["say.credited"], False), (["say.enough"], False),
        (["say.paid"], True), (["say.take_receipt"], False),
    ]


def test_amounts_are_in_the_prompts():
    s = Session(phase=Phase.INSERTING, session_id="s", target_minor=12_850,
                credits=(Credit(1, "note", 5_000),))
    (_, credited) = entry(s, "insert", "zh_CN")
    assert credited.id == "say.credited"
    assert credited.clips == ("part.received", "num.5", "num.ten", "unit.yuan", "part.still_owed",
                              "num.7", "num.ten", "num.8", "unit.yuan", "num.5", "unit.jiao")
    (_, en) = entry(s, "insert", "en")
    assert en.clips[-1] == "part.still_to_pay" and "part.still_owed" not in en.clips


def test_nothing_owed_offers_prepay_and_unknown_arrears_says_neither():
    zero = Session(phase=Phase.AMOUNT, session_id="s", account=replace(ACC, arrears_minor=0))
    assert [p.id for p in entry(zero, "amount", "en")] == ["say.nothing_owed", "screen.amount"]
    offline = replace(zero, account=replace(ACC, arrears_minor=None))
    assert [p.id for p in entry(offline, "amount", "en")] == ["screen.amount"]


def test_a_new_language_says_the_screen_again_in_it():
    heard = listen(Heard(), Session(), "attract", "zh_CN").heard
    cue = listen(heard, Session(), "attract", "en")
    assert cue.cut and ids(cue) == ["screen.attract"]
    assert cue.prompts[0].clips == ("screen.attract",)


def test_a_returned_note_a_problem_and_the_idle_warning():
    s = Session(phase=Phase.INSERTING, session_id="s", target_minor=5_000)
    heard = listen(Heard(), s, "insert", "zh_CN").heard
    cue = listen(heard, replace(s, message="rejected:unreadable"), "insert", "zh_CN")
    assert ids(cue) == ["say.note_returned"]
    cue = listen(heard, replace(s, message="lookup_failed"), "insert", "zh_CN")
    assert ids(cue) == ["say.problem"]
    cue = listen(heard, s, "insert", "zh_CN", idle=True)
    assert ids(cue) == ["say.idle"]
    assert ids(listen(cue.heard, s, "insert", "zh_CN", idle=True)) == []


def test_a_jam_mid_payment_says_the_fault_first():
    s = Session(phase=Phase.INSERTING, session_id="s", target_minor=12_850,
                credits=(Credit(1, "note", 5_000),))
    heard = listen(Heard(), s, "insert", "zh_CN").heard
    jammed = replace(s, phase=Phase.COMMITTING, faults=frozenset({("bill_validator", "jam")}))
    cue = listen(heard, jammed, "processing", "zh_CN")
    assert cue.cut and ids(cue) == ["say.fault", "screen.processing"]


def test_the_printer_outcome_on_the_receipt_screen():
    s = Session(phase=Phase.RECEIPT, session_id="s", receipt_no="R", credits=(Credit(1, "note", 100),))
    heard = listen(Heard(), s, "done", "en").heard
    assert ids(listen(heard, replace(s, printed=False), "done", "en")) == ["say.receipt_on_screen"]


def test_staff_screens_are_silent_and_cut_the_resident_prompt():
    heard = listen(Heard(), Session(), "attract", "zh_CN").heard
    cue = listen(heard, Session(), "staff_home", "zh_CN")
    assert cue.cut and cue.prompts == ()


@pytest.mark.parametrize("lang", LANGS)
def test_every_resident_screen_has_its_own_prompt(lang):
    from kiosk.ui.present import SCREEN_FOR_PHASE

    for screen in set(SCREEN_FOR_PHASE.values()):
        said = entry(Session(session_id="s"), screen, lang)
        assert said, screen
