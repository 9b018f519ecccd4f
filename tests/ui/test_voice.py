"""Voice guidance through the real app (docs/voice.md): a card → amount → notes → receipt
journey with the voice on says the exact prompts in Chinese and in English, through SDL's
dummy audio driver; paying by phone says each step once; a new screen cuts the prompt still
playing; volume, repeat and help."""

from __future__ import annotations

import pytest

from kiosk.flow import code_tender as ct
from kiosk.flow.session import Phase
from tests.ui.test_code_pay import code_kiosk, gateway, show_code, to_code_scan  # noqa: F401
from tests.ui.test_faults import to_insert
from tests.ui.test_payment_journeys import CARD, insert_note

pytestmark = pytest.mark.ui

#: what a resident hears paying ¥128.50 owed with ¥100 + ¥50 (the order of the prompt ids)
JOURNEY = [
    "say.card_read", "screen.account", "say.owed", "screen.amount", "screen.insert", "say.left",
    "say.checking_note", "say.credited", "say.checking_note", "say.enough",
    "say.paid", "say.take_receipt", "screen.rating", "screen.attract.scan",
]
#: the simulated terminal has a barcode scanner: the attract screen says a bill can be scanned
ATTRACT = "screen.attract.scan"


def said_ids(kiosk, since: int = 0) -> list[str]:
    return [pid for pid, _lang, _clips in kiosk.app.voice.player.said[since:]
            if pid != "screen.processing"]  # shown only when the commit is not instantaneous


def journey(kiosk) -> None:
    to_insert(kiosk)
    insert_note(kiosk, 10_000)
    insert_note(kiosk, 5_000)
    kiosk.press("finish")
    kiosk.wait_screen("done")
    kiosk.pump(lambda: kiosk.session.printed is True, 10, "receipt printed")
    kiosk.pump(lambda: "say.take_receipt" in said_ids(kiosk), 5, "receipt prompt")
    kiosk.press("continue")
    kiosk.wait_screen("rating")
    kiosk.press("rate5")
    kiosk.wait_screen("attract")


def spoken(kiosk, lang: str, pid: str) -> str:
    """The words of the last prompt ``pid`` said, from the manifest's texts."""
    m = kiosk.app.voice.manifests[lang]
    clips = next(c for p, lg, c in reversed(kiosk.app.voice.player.said) if p == pid and lg == lang)
    return ("" if lang == "zh_CN" else " ").join(m.text(c) for c in clips)


def test_a_journey_in_chinese_says_each_prompt(kiosk):
    voice = kiosk.app.voice
    assert voice.enabled and voice.player.bank.audio, "SDL's dummy driver plays the clips"
    assert said_ids(kiosk) == [ATTRACT]
    journey(kiosk)
    assert said_ids(kiosk, 1) == JOURNEY
    assert {lang for _p, lang, _c in voice.player.said} == {"zh_CN"}
    assert spoken(kiosk, "zh_CN", "say.owed") == "您欠费一百二十八元五角"
    assert spoken(kiosk, "zh_CN", "say.credited") == "已收一百元还差二十八元五角"
    assert spoken(kiosk, "zh_CN", "say.enough").startswith("已收一百五十元钱已经够了")
    assert voice.player.bank.wait(10)
    assert voice.player.started, "clips went to the audio device"


def test_a_journey_in_english_says_each_prompt(kiosk):
    kiosk.press("language")
    kiosk.pump(lambda: kiosk.app.tr.lang == "en", 5, "English")
    voice = kiosk.app.voice
    assert said_ids(kiosk) == [ATTRACT, ATTRACT]  # again, in English
    start = len(voice.player.said)
    journey(kiosk)
    assert said_ids(kiosk, start)[:-1] == JOURNEY[:-1]
    assert {lang for _p, lang, _c in voice.player.said[1:-1]} == {"en"}
    assert spoken(kiosk, "en", "say.owed") == "You owe one hundred twenty eight yuan fifty"
    assert spoken(kiosk, "en", "say.credited") == \
        "Received one hundred yuan twenty eight yuan fifty still to pay"
    # the next resident starts in Chinese, and hears it
    assert voice.player.said[-1][:2] == (ATTRACT, "zh_CN")


def test_a_new_screen_cuts_the_prompt(kiosk):
    voice = kiosk.app.voice
    assert voice.player.bank.wait(10)
    kiosk.press("repeat")  # the attract prompt, a long sentence, from the start
    kiosk.pump(lambda: voice.player._sound is not None, 5, "attract prompt playing")
    playing = voice.player._sound
    cuts = voice.player.cuts
    kiosk.hub.get("card-reader").present(CARD)
    kiosk.wait_screen("account")
    assert voice.player.cuts > cuts
    assert playing.state == "stop"  # stopped in the middle, not left to finish
    assert voice.player.said[-1][0] == "screen.account"
    kiosk.hub.get("card-reader").remove()


def test_repeat_help_and_volume(kiosk):
    voice = kiosk.app.voice
    kiosk.hub.get("card-reader").present(CARD)
    kiosk.wait_screen("account")
    kiosk.hub.get("card-reader").remove()
    kiosk.press("continue")
    kiosk.wait_screen("amount")
    n = len(voice.player.said)
    kiosk.press("repeat")
    assert [p for p, _l, _c in voice.player.said[n:]] == ["say.owed", "screen.amount"]

    kiosk.press("help")
    assert voice.help_open and voice.help_text == "请选择本次要缴多少钱。"
    assert voice.player.said[-1][0] == "screen.amount"
    assert kiosk.app.view.screen == "amount"
    # the overlay takes the touches: the amount button under it does nothing
    kiosk.tap(kiosk.button("pay"))
    kiosk.frame(3)
    assert kiosk.screen == "amount"
    close = next(w for w in kiosk.app.root.walk() if getattr(w, "intent", "") == "close_help")
    kiosk.tap(close)
    assert not voice.help_open

    levels = []
    for _ in range(4):
        kiosk.press("volume")
        levels.append(voice.volume)
    assert levels == [100, 0, 30, 60]
    assert voice.player.volume == 0.6
    kiosk.press("cancel")
    kiosk.pump(lambda: kiosk.screen in ("ended", "attract"), 5, "cancelled")
    kiosk.skip(60)
    kiosk.wait_screen("attract")
    assert voice.volume == kiosk.app.kiosk_config.voice.volume  # the next resident's default


#: said only when the app happens to show that state (the gateway's answer may come first)
TRANSIENT = ("say.code_read", "say.code_paid")


def test_paying_by_phone_says_each_step_once(code_kiosk, gateway):
    """Scan the code, confirm on the phone (user_paying, polled with a countdown), paid."""
    kiosk = code_kiosk
    voice = kiosk.app.voice
    gateway.set_fault("user_paying", polls=2)
    to_code_scan(kiosk)
    kiosk.pump(lambda: said_ids(kiosk)[-1:] == ["screen.code_pay"], 5, "scan prompt")
    kiosk.press("help")
    assert voice.help_text == "请打开手机上的付款码，把手机放在扫码器下面。"
    kiosk.tap(next(w for w in kiosk.app.root.walk() if getattr(w, "intent", "") == "close_help"))
    start = len(voice.player.said)
    show_code(kiosk)
    kiosk.pump(lambda: kiosk.app.view.code_countdown_text, 10, "confirm on the phone")
    polls = 0
    while kiosk.session.phase == Phase.CODE_WAIT:
        kiosk.skip(ct.POLL_S)  # each step of the countdown is a poll
        kiosk.frame(5)
        polls += 1
    kiosk.pump(lambda: "say.paid" in said_ids(kiosk, start), 15, "the receipt screen's prompt")
    assert polls >= 2, "the countdown ran while the resident confirmed"
    heard = [p for p in said_ids(kiosk, start) if p not in TRANSIENT]
    # then say.take_receipt once printed (the printer's pace: not waited for here)
    assert heard[:2] == ["say.code_confirm", "say.paid"]
    assert set(heard[2:]) <= {"say.take_receipt", "say.receipt_on_screen"}
    assert spoken(kiosk, "zh_CN", "say.paid") == "缴费成功，本次缴费一百二十八元五角"
