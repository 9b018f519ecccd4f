"""What the new resident screens say (kiosk/voice/steps.py): paying by phone, the services menu
and its errands, the scanner's messages, and the start screens with a scanner configured.
Pure: settled sessions through ``listen``, the prompt ids out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kiosk.flow import code_tender as ct
from kiosk.flow import scan
from kiosk.flow import services_menu as sm
from kiosk.flow.events import AccountInfo
from kiosk.flow.session import Phase, Session
from kiosk.voice.cues import Heard, entry, listen
from kiosk.voice.prompts import LANGS, prompt
from kiosk.voice.steps import HURRY_S, sentence

ACC = AccountInfo("1234567890", arrears_minor=12_850)


def walk(steps, lang="zh_CN", scanner=False):
    """(session, screen) pairs through ``listen``: the prompt ids of each, and whether it cut."""
    heard, said = Heard(), []
    for s, screen in steps:
        cue = listen(heard, s, screen, lang, scanner=scanner)
        heard = cue.heard
        said.append(([p.id for p in cue.prompts], cue.cut))
    return said


def code_session(**code) -> Session:
    state = replace(ct.start(12_850, ACC.account_no), **code)
    phase = {"scan": Phase.CODE_SCAN, "failed": Phase.CODE_FAILED}.get(state.step, Phase.CODE_WAIT)
    return Session(phase=phase, session_id="s1", account=ACC, code=state, message=state.message)


def test_code_pay_user_paying_then_paid():
    confirming = dict(step="confirming", order_id="s1.C1", message="code_confirm_on_phone")
    steps = [(code_session(), "code_pay"),
             (code_session(step="charging", order_id="s1.C1"), "code_pay"),
             (code_session(**confirming, left_s=ct.CONFIRM_S), "code_pay"),
             (code_session(**confirming, left_s=ct.CONFIRM_S - ct.POLL_S), "code_pay"),
             (code_session(**confirming, left_s=HURRY_S + 2), "code_pay"),
             (code_session(**confirming, left_s=HURRY_S), "code_pay"),
             (code_session(**confirming, left_s=HURRY_S - 2), "code_pay"),
             (replace(code_session(step="paid", order_id="s1.C1"), phase=Phase.COMMITTING),
              "processing")]
    assert walk(steps) == [
        (["screen.code_pay"], True), (["say.code_read"], True), (["say.code_confirm"], True),
        ([], False), ([], False),  # the countdown is not spoken every poll …
        (["say.code_hurry"], False), ([], False),  # … only once, when time runs low
        (["say.code_paid", "screen.processing"], True)]
    done = replace(steps[-1][0], phase=Phase.RECEIPT, receipt_no="R1")
    (paid, *_) = entry(done, "done", "zh_CN")  # the phone's amount: no notes were credited
    assert paid.clips == ("part.paid", "num.1", "num.hundred", "num.2", "num.ten", "num.8",
                          "unit.yuan", "num.5", "unit.jiao")


@pytest.mark.parametrize(("message", "said"), [
    ("code_failed:declined", ["say.code_declined", "say.code_retry"]),
    ("code_failed:insufficient", ["say.code_failed", "say.code_retry"]),
    ("code_not_charged", ["say.code_failed", "say.code_retry"]),
    ("code_timed_out", ["say.code_timed_out", "say.code_retry"]),
    ("code_cancelled", ["say.code_cancelled", "say.code_retry"]),
    ("code_reversed", ["say.code_reversed", "say.code_retry"]),
    ("code_unresolved", ["say.code_unresolved"]),  # no retry: the order is not known settled
])
def test_code_pay_failures_say_what_happened_and_what_to_do(message, said):
    charging = code_session(step="charging", order_id="s1.C1")
    failed = code_session(step="failed", order_id="s1.C1", message=message)
    assert walk([(charging, "code_pay"), (failed, "code_pay")])[1] == (said, True)


def test_code_pay_unknown_is_checked_then_undone():
    charging = code_session(step="charging", order_id="s1.C1")
    checking = code_session(step="querying", order_id="s1.C1", message="code_checking")
    undoing = code_session(step="reversing", order_id="s1.C1", message="code_undoing")
    reversed_ = code_session(step="failed", order_id="s1.C1", message="code_reversed")
    assert [ids for ids, _cut in walk([(charging, "code_pay"), (checking, "code_pay"),
                                       (undoing, "code_pay"), (reversed_, "code_pay")])] == [
        ["say.code_read"], ["say.code_checking"], ["say.code_undoing"],
        ["say.code_reversed", "say.code_retry"]]


def test_a_scan_that_is_not_a_payment_code_on_the_code_screen():
    s = code_session()
    unreadable = replace(s, code=replace(s.code, message="code_unreadable"),
                         message="code_unreadable")
    assert walk([(s, "code_pay"), (unreadable, "code_pay")])[1] == (["say.code_unreadable"], True)


def errand_session(kind: str, step: str, **fields) -> Session:
    return Session(phase=Phase.ERRAND, session_id="s1", account=ACC,
                   errand=replace(sm.start(kind), step=step, **fields))


def test_a_request_menu_to_reference_number():
    menu = Session(phase=Phase.SERVICES, session_id="s1", account=ACC)
    done = errand_session("fault", "done", local_ref="K3F0A9B1")
    said = walk([(menu, "choice"), (errand_session("fault", "category"), "choice"),
                 (errand_session("fault", "phone"), "phone"),
                 (replace(errand_session("fault", "phone"), message="phone_invalid"), "phone"),
                 (errand_session("fault", "confirm"), "request_confirm"),
                 (done, "request_done"), (replace(done, errand=replace(done.errand, printed=True)),
                                          "request_done")])
    assert said == [(["screen.choice"], True), (["screen.choice.fault"], True),
                    (["screen.phone"], True), (["say.phone_invalid"], False),
                    (["screen.request_confirm"], True),
                    (["screen.request_done", "say.reference"], True),
                    (["say.take_receipt"], False)]


@pytest.mark.parametrize("lang", LANGS)
def test_the_reference_number_is_read_digit_by_digit(lang):
    (_, ref) = entry(errand_session("fault", "done", local_ref="K3F0A9B1"), "request_done", lang)
    assert ref.clips == ("part.reference", "letter.K", "num.3", "letter.F", "num.0", "letter.A",
                         "num.9", "letter.B", "num.1")


def test_the_reasons_step_and_too_many_reasons_on_the_same_choice_screen():
    category = errand_session("complaint", "category")
    reasons = errand_session("complaint", "reasons", category="billing")
    too_many = replace(reasons, message="too_many_reasons")
    assert walk([(category, "choice"), (reasons, "choice"), (too_many, "choice")]) == [
        (["screen.choice.complaint"], True), (["screen.choice.reasons"], True),
        (["say.too_many_reasons"], False)]
    assert sentence(errand_session("ebill", "ebill_what"), "choice") == "screen.choice.ebill_what"


def test_history_says_the_months_are_there_without_reading_the_numbers():
    looking = errand_session("history", "history")
    shown = replace(looking, errand=replace(looking.errand, history=sm.History(
        ACC.account_no, (sm.Month("2026-11", 210, 11_550, 11_550, "kiosk"),), (),
        "2026-12-01T09:00")))
    failed = replace(looking, errand=replace(looking.errand, history_failed="offline"))
    assert walk([(looking, "history"), (shown, "history")]) == [
        (["say.looking_up"], True), (["screen.history"], True)]
    (said,) = entry(shown, "history", "en")
    assert said.clips == ("screen.history",)  # no table of numbers read out
    assert [p.id for p in entry(failed, "history", "zh_CN")] == ["say.history_unavailable"]
    printed = replace(shown, errand=replace(shown.errand, printed=False))
    assert walk([(shown, "history"), (printed, "history")])[1] == (["say.slip_failed"], False)


@pytest.mark.parametrize(("message", "said"), [(scan.NOT_A_BILL, "say.scan_not_a_bill"),
                                               (scan.BAD_BILL, "say.scan_bad_bill"),
                                               (scan.CODE_NOT_HERE, "say.scan_code_not_here")])
def test_the_scanners_messages_are_said_when_they_appear(message, said):
    # on the attract screen a code that is not a bill opens the keypad, saying why
    keypad = Session(phase=Phase.IDENTIFYING, message=message)
    assert walk([(Session(), "attract"), (keypad, "identify")], scanner=True) == [
        (["screen.attract.scan"], True), ([said, "screen.identify.scan"], True)]
    # on a screen already shown, the message alone
    amount = Session(phase=Phase.AMOUNT, session_id="s1", account=ACC)
    assert walk([(amount, "amount"), (replace(amount, message=message), "amount")])[1] == (
        [said], False)


def test_the_start_screens_mention_the_scanner_only_when_there_is_one():
    assert walk([(Session(), "attract"), (Session(phase=Phase.IDENTIFYING), "identify")]) == [
        (["screen.attract"], True), (["screen.identify"], True)]
    assert sentence(Session(), "identify", scanner=True) == "screen.identify.scan"


def test_phone_payment_offer_refused_on_the_amount_screen():
    amount = Session(phase=Phase.AMOUNT, session_id="s1", account=ACC)
    assert walk([(amount, "amount"), (replace(amount, message="code_offline"), "amount")])[1] \
        == (["say.code_offline"], False)


@pytest.mark.parametrize("lang", LANGS)
def test_every_step_screen_sentence_is_a_clip(lang):
    for s, screen in [(code_session(), "code_pay"), (errand_session("fault", "category"), "choice"),
                      (errand_session("suggestion", "category"), "choice"),
                      (errand_session("outage", "category"), "choice"),
                      (errand_session("complaint", "reasons"), "choice")]:
        assert prompt(sentence(s, screen), lang).clips


def test_the_start_screens_text_offers_the_scan_only_with_a_scanner():
    from kiosk.ui.present import UiState, present

    def texts(scanner: bool, keypad: bool) -> tuple[str, str]:
        d = present(Session(), lambda t: t, UiState(keypad_open=keypad, scanner=scanner))
        return d.start_how_text, d.account_hint_text

    assert all("scan" in t for t in texts(True, False) + texts(True, True))
    assert not any("scan" in t for t in texts(False, False) + texts(False, True))
