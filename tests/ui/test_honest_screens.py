"""The resident screens say the truth plainly, through the real app: paying less than is owed is
asked once; a jam mid-payment ends on a screen that says so; the insert countdown says what the
timer really does; nothing owed offers prepaying; a note reader that is down turns the amount
buttons off and says why."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kiosk.flow.session import Phase, Session
from tests.ui.test_faults import to_amount, to_insert
from tests.ui.test_payment_journeys import insert_note, screen_texts
from tests.ui.test_screens import states

pytestmark = pytest.mark.ui


def test_paying_less_than_owed_asks_once(kiosk):
    to_amount(kiosk)
    screen = kiosk.current_screen()
    modes: list[str] = []

    def seen(_w, mode: str) -> None:
        modes.append(mode)

    screen.bind(mode=seen)
    fifty = kiosk.button("quick1")
    assert fifty.text == "50元" and fifty.kind == "secondary"
    kiosk.tap(fifty)
    kiosk.pump(lambda: screen.mode == "ask", 5, "the question")
    assert "还欠¥78.50，确定只缴50元吗？" in screen_texts(kiosk)
    assert kiosk.button("pay").text == "确定只缴50元" and kiosk.session.phase == Phase.AMOUNT
    kiosk.snap("honest-amount-asked-zh")
    kiosk.press("back")  # another amount after all
    kiosk.pump(lambda: screen.mode == "choose", 5, "choosing again")
    kiosk.press("quick1")
    kiosk.pump(lambda: screen.mode == "ask", 5, "the question again")
    kiosk.press("pay")  # yes, only ¥50
    kiosk.wait_screen("insert")
    assert kiosk.session.target_minor == 5_000
    assert modes.count("ask") == 2  # once per choice, never twice for one
    screen.unbind(mode=seen)


def test_all_owed_is_the_hero_and_asks_nothing(kiosk):
    to_amount(kiosk)
    screen = kiosk.current_screen()
    owed = screen._panels["choose"].ids.owed
    quick = kiosk.button("quick1")
    assert owed.text == "¥128.50" and owed.font_size > quick.font_size * 2
    pay = kiosk.button("pay")
    assert pay.text == "缴清欠费 ¥128.50" and pay.kind == "primary"
    kiosk.tap(pay)
    kiosk.wait_screen("insert")


def test_the_countdown_says_cancel_at_zero_and_finish_with_money_in(kiosk):
    to_insert(kiosk)
    kiosk.pump(lambda: "秒内不放钱，本次缴费将取消" in screen_texts(kiosk), 5, "countdown at ¥0")
    texts = screen_texts(kiosk)
    assert "自动完成缴费" not in texts and kiosk.button("cancel").shown
    assert "还需投入" in texts and kiosk.current_screen().ids.remaining.text == "¥128.50"
    insert_note(kiosk, 5_000)
    kiosk.pump(lambda: "秒内不再放钱，将自动完成缴费" in screen_texts(kiosk), 5, "countdown with money")
    texts = screen_texts(kiosk)
    assert "钱已经放进去了，所以不能取消" in texts  # why Cancel is gone
    assert not [b for b in kiosk.buttons() if b.intent == "cancel"]
    assert kiosk.current_screen().ids.remaining.text == "¥78.50"
    kiosk.snap("honest-insert-credited-zh")


def test_a_jam_mid_payment_shows_the_honest_ending(kiosk):
    to_insert(kiosk)
    insert_note(kiosk, 5_000)
    kiosk.hub.get("bill-validator").command("jam")
    kiosk.wait_screen("done")
    kiosk.pump(lambda: kiosk.session.printed is not None, 10, "receipt decided")
    texts = screen_texts(kiosk)
    assert "机器出了故障，本次缴费已停止。" in texts and "缴费成功" not in texts
    assert "机器收到了¥50.00，没有达到您要缴的¥128.50。请不要再放钱。" in texts
    assert "95598" in texts and "KIOSK-0001" in texts and "还欠¥78.50。" in texts
    kiosk.snap("honest-jam-ending-zh")
    kiosk.press("continue")
    kiosk.wait_screen("rating")
    kiosk.hub.get("bill-validator").command("clear")


def test_nothing_owed_offers_prepay_and_a_reader_down_turns_the_amounts_off(kiosk):
    app = kiosk.app
    by_name = {name: (session, ui) for name, _s, session, ui, _f in states(app.kiosk_config.limits)}
    session, ui = by_name["amount-nothing-owed"]
    app.preview(session, **ui)
    kiosk.frame(2)
    texts = screen_texts(kiosk)
    assert "您现在没有欠费。" in texts and "您可以预存电费" in texts
    assert not [b for b in kiosk.buttons() if b.intent == "pay"]  # nothing to clear
    assert not kiosk.button("quick1").disabled  # but prepaying is open
    session, ui = by_name["amount-reader-down"]
    app.preview(session, **ui)
    kiosk.frame(2)
    texts = screen_texts(kiosk)
    assert "收钞器出了故障，本机现在不能收钱。机器没有收您的钱。" in texts
    intents = ("quick1", "quick2", "quick3", "other_amount", "pay")
    assert all(kiosk.button(i).disabled for i in intents)
    session, ui = by_name["amount-paper-out"]
    app.preview(session, **ui)
    kiosk.frame(2)
    assert "打印机没有纸了" in screen_texts(kiosk)  # before any amount is chosen
    app.preview(None)


def test_the_fallback_error_says_money_and_whom_to_call(kiosk):
    app = kiosk.app
    amount = next(s for name, _x, s, _u, _f in states(app.kiosk_config.limits) if name == "amount")
    app.preview(replace(amount, message="something_new"))
    kiosk.frame(2)
    assert "机器出了点问题，没有收您的钱。请重试，或拨打95598（终端号KIOSK-0001）。" in screen_texts(kiosk)
    app.preview(None)
    assert isinstance(amount, Session)
