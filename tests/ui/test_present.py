"""What the screens say, without a display: every reason code has plain words in both languages,
money is formatted from integer minor units, the catalogs are complete and compiled."""

from __future__ import annotations

import gettext
import io
from dataclasses import replace

import pytest

from kiosk.flow.events import AccountInfo, QueueState
from kiosk.flow.rules import FlowConfig
from kiosk.flow.session import Credit, Phase, Session
from kiosk.ui import catalog
from kiosk.ui.i18n import Translator
from kiosk.ui.present import FAULTS, MESSAGES, RETURN_REASONS, UiState, present

ACC = AccountInfo("3101000010", "张*明", "幸福小区**室", 12_850, 0, "2026-03-01T09:30:00+08:00")
BASE = Session(config=FlowConfig())


@pytest.fixture(scope="module")
def tr():
    return Translator()


def test_catalogs_cover_every_used_string_and_mo_files_are_fresh():
    assert catalog.problems() == []


def test_a_missing_translation_is_reported_not_hidden(tr):
    assert tr._("No such sentence anywhere") == "No such sentence anywhere"
    assert ("zh_CN", "No such sentence anywhere") in tr.missing
    tr.missing.clear()


def test_mo_writer_round_trips_through_gettext():
    messages = {"": "Content-Type: text/plain; charset=UTF-8\n", "Pay": "缴费", "a\nb": "甲\n乙"}
    reader = gettext.GNUTranslations(io.BytesIO(catalog.mo_bytes(messages)))
    assert reader.gettext("Pay") == "缴费" and reader.gettext("a\nb") == "甲\n乙"


def test_po_reader_rejects_garbage(tmp_path):
    bad = tmp_path / "bad.po"
    bad.write_text('msgid "x"\nmsgstr unquoted\n', "utf-8")
    with pytest.raises(ValueError, match="cannot read"):
        catalog.read_po(bad)


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_reason_code_has_its_own_words(tr, lang):
    tr.switch(lang)
    generic = present(replace(BASE, phase=Phase.IDENTIFYING, session_id="s", message="?"), tr._,
                      UiState()).message
    for code in list(MESSAGES) + [f"malformed_account:{r}" for r in
                                  ("empty", "not_digits", "wrong_length", "bad_check_digit")]:
        d = present(replace(BASE, phase=Phase.IDENTIFYING, session_id="s", message=code), tr._, UiState())
        assert d.message and d.message != generic and "{" not in d.message, code
    for code in RETURN_REASONS:
        d = present(replace(BASE, phase=Phase.INSERTING, session_id="s", account=ACC, message="returned:host"),
                    tr._, UiState(last_refusal=code))
        assert "{" not in d.message and d.message != tr._(
            "Your note was given back. Please take it and try again."), code
    for code in FAULTS:
        d = present(replace(BASE, phase=Phase.OUT_OF_SERVICE, faults=frozenset({("v", code)})), tr._, UiState())
        assert d.fault_text == tr._(FAULTS[code])
    assert not tr.missing
    tr.switch("zh_CN")


def test_an_unknown_code_is_still_plain_words_about_money_and_whom_to_call(tr):
    ui = UiState(kiosk_id="KIOSK-0001", service_phone="95598")
    d = present(replace(BASE, phase=Phase.AMOUNT, account=ACC, message="something_new"), tr._, ui)
    assert d.message == "机器出了点问题，没有收您的钱。请重试，或拨打95598（终端号KIOSK-0001）。"
    assert d.message_error
    paid_in = replace(BASE, phase=Phase.INSERTING, account=ACC, message="something_new",
                      credits=(Credit(1, "note", 5_000),))
    d = present(paid_in, tr._, ui)
    assert "没有收您的钱" not in d.message and "¥50.00" in d.message and "95598" in d.message


def test_money_is_formatted_from_minor_units(tr):
    s = replace(BASE, phase=Phase.INSERTING, session_id="s", account=ACC, target_minor=12_850,
                credits=(Credit(1, "note", 10_000), Credit(2, "coin", 10)))
    d = present(s, tr._, UiState(insert_left_s=42.2))
    assert d.inserted_text == "¥100.10" and d.target_text == "¥128.50"
    assert (d.remaining_caption, d.remaining_amount) == ("还需投入", "¥28.40")
    assert d.countdown_text.startswith("43秒") and not d.countdown_urgent
    assert d.notes_text.endswith("1元、5元、10元、20元、50元、100元")
    assert d.can_finish and not d.can_cancel  # money in: only Finish
    with pytest.raises(TypeError):
        present(replace(s, target_minor=128.5), tr._, UiState())


def test_offline_account_from_cache_says_as_of_when(tr):
    cached = replace(ACC, from_cache=True, as_of="2026-03-01T01:30:00Z")
    offline = QueueState(online=False)
    d = present(replace(BASE, phase=Phase.ACCOUNT, account=cached, queue=offline), tr._, UiState())
    assert d.offline and "截至" in d.as_of_text and "2026-03-01" in d.as_of_text
    never_seen = AccountInfo("3101000028", from_cache=True)
    d = present(replace(BASE, phase=Phase.ACCOUNT, account=never_seen, queue=offline), tr._, UiState())
    assert not d.arrears_known and "暂时无法查询" in d.arrears_text and "仍可缴费" in d.as_of_text


def test_screens_follow_the_phase(tr):
    for phase, screen in ((Phase.IDLE, "attract"), (Phase.IDENTIFYING, "identify"),
                          (Phase.COMMITTING, "processing"), (Phase.CANCELLED, "ended"),
                          (Phase.OUT_OF_SERVICE, "out_of_service")):
        assert present(replace(BASE, phase=phase), tr._, UiState()).screen == screen
    assert present(BASE, tr._, UiState(keypad_open=True)).screen == "identify"
    assert present(BASE, tr._, UiState(keypad_open=True)).step == 1


def test_paper_out_asks_for_consent_once(tr):
    s = replace(BASE, phase=Phase.AMOUNT, account=ACC, message="printer_unavailable_accept_screen_receipt")
    assert present(s, tr._, UiState()).consent_needed
    assert not present(replace(s, on_screen_receipt=True), tr._, UiState()).consent_needed
