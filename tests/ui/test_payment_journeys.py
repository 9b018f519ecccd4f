"""Whole payments driven by touch through the real app: a card payment in Chinese and a keypad
payment in English. Each checks the screens shown, the receipt the printer simulator decoded,
and the reference billing server's ledger."""

from __future__ import annotations

import pytest

from billing_server.seed import DEMO_ACCOUNTS, DEMO_CARDS, UNSEEDED_ACCOUNT
from kiosk.flow.money import format_minor
from kiosk.flow.session import Phase

pytestmark = pytest.mark.ui

CARD_ACC = DEMO_ACCOUNTS[0]  # ¥128.50 owed, has a card
CARD = next(uid for uid, acct in DEMO_CARDS.items() if acct == CARD_ACC.account_no)
KEYPAD_ACC = DEMO_ACCOUNTS[8]  # ¥77.20 owed, no card: reached through the keypad


def insert_note(kiosk, value_minor: int) -> None:
    """A resident feeds one note once the previous one has gone in. The total on screen grows
    on the validator's safe event only: while the note is in escrow it still shows the old one."""
    validator = kiosk.hub.get("bill-validator")
    kiosk.pump(lambda: validator.state.get("note") is None, 10, "validator free")
    before = kiosk.session.credited_minor
    during_escrow: list[str] = []

    def watch(_view, text: str) -> None:
        if text:
            during_escrow.append(kiosk.current_screen().ids.inserted.text)

    kiosk.app.view.bind(escrow_text=watch)
    try:
        validator.insert_note(value_minor)
        kiosk.pump(lambda: kiosk.session.credited_minor > before, 10, f"note {value_minor} credited")
    finally:
        kiosk.app.view.unbind(escrow_text=watch)
    assert during_escrow and set(during_escrow) == {format_minor(before)}, during_escrow
    shown = kiosk.current_screen().ids.inserted.text
    assert shown == format_minor(before + value_minor), shown


def delivered(kiosk, n: int = 1) -> list[dict]:
    kiosk.pump(lambda: len(kiosk.server.ledger.payments()) >= n, 15, "payment delivered")
    return kiosk.server.ledger.payments()


def screen_texts(kiosk) -> str:
    return "\n".join(label.text for label in kiosk.labels())


def test_card_payment_in_chinese(kiosk):
    assert kiosk.screen == "attract" and kiosk.app.tr.lang == "zh_CN"
    reader = kiosk.hub.get("card-reader")
    reader.present(CARD)
    kiosk.wait_screen("account")
    reader.remove()
    texts = screen_texts(kiosk)
    assert "请核对您的账户信息" in texts and CARD_ACC.holder_masked in texts
    assert format_minor(CARD_ACC.arrears_minor) in texts and CARD_ACC.account_no not in texts
    kiosk.snap("journey-zh-account")

    kiosk.press("continue")
    kiosk.wait_screen("amount")
    assert "本机不找零" in screen_texts(kiosk)  # the no-change rule before any money goes in
    pay = kiosk.button("pay")
    assert pay.text == "缴清欠费 ¥128.50"
    kiosk.tap(pay)
    kiosk.wait_screen("insert")
    insert_note(kiosk, 10_000)
    insert_note(kiosk, 5_000)
    kiosk.snap("journey-zh-insert")
    kiosk.press("finish")

    kiosk.wait_screen("done")
    kiosk.pump(lambda: kiosk.session.printed is True, 10, "receipt printed")
    session = kiosk.session
    receipt = kiosk.hub.get("printer").wait_receipt(1, 5)
    text = "\n".join(receipt["lines"]).replace("￥", "¥")  # GB18030 prints the full-width sign
    assert "电费缴费凭证" in text and "实收金额：¥150.00" in text
    assert session.receipt_no in text and "******" + CARD_ACC.account_no[-4:] in text
    # the signed verify URL names the payment (its fields upper-cased to fit the QR's
    # alphanumeric mode)
    assert receipt["qr"] and session.txn_id.upper() in receipt["qr"][0]
    texts = screen_texts(kiosk)
    assert "¥150.00" in texts and "请取走打印好的小票" in texts
    # cleared or not, a short number to read out (the day's sequence), a visible countdown
    assert "欠费已经缴清。多缴的¥21.50存为预付电费。" in texts
    short = kiosk.current_screen().ids.short_no
    assert short.text == session.receipt_no.rsplit("-", 1)[1] and short.font_size > 40
    kiosk.pump(lambda: "秒后本页自动关闭" in screen_texts(kiosk), 5, "receipt countdown")
    before = kiosk.app.view.leave_text
    kiosk.skip(3)
    kiosk.pump(lambda: kiosk.app.view.leave_text != before, 5, "countdown moves")
    assert kiosk.button("continue").text == "完成"
    kiosk.snap("journey-zh-done")

    kiosk.press("continue")
    kiosk.wait_screen("rating")
    kiosk.press("rate5")
    kiosk.wait_screen("attract")
    # the commit settles within the event that ends insertion: no "processing" flash
    assert kiosk.app.shown == ["attract", "identify", "account", "amount", "insert", "done",
                               "rating", "attract"]
    (paid,) = delivered(kiosk)
    assert paid["txn_id"] == session.txn_id and paid["amount_minor"] == 15_000
    assert paid["account_no"] == CARD_ACC.account_no
    rating = kiosk.journal.db.execute(
        "SELECT COUNT(*) FROM outbox WHERE kind = 'rating'").fetchone()[0]
    assert rating == 1


def test_keypad_payment_in_english(kiosk):
    kiosk.press("language")
    assert kiosk.app.tr.lang == "en" and "Pay your electricity bill here" in screen_texts(kiosk)
    kiosk.press("enter_account")
    kiosk.wait_screen("identify")
    kiosk.type_digits(KEYPAD_ACC.account_no[:9])  # one digit short: the check says so, no lookup
    kiosk.press("submit_account")
    kiosk.pump(lambda: kiosk.session.message, 5)
    assert "An account number has 10 digits" in screen_texts(kiosk)
    kiosk.snap("journey-en-identify-error")
    kiosk.type_digits(KEYPAD_ACC.account_no[9:])
    kiosk.press("submit_account")
    kiosk.wait_screen("account")
    assert format_minor(KEYPAD_ACC.arrears_minor) in screen_texts(kiosk)
    kiosk.press("continue")
    kiosk.wait_screen("amount")
    kiosk.press("other_amount")
    kiosk.type_digits("80")
    pay = kiosk.button("pay")
    assert pay.text == "Pay ¥80.00"
    kiosk.snap("journey-en-amount-custom")
    kiosk.tap(pay)
    kiosk.wait_screen("insert")
    for note in (5_000, 2_000, 1_000):
        insert_note(kiosk, note)
    assert "The money is enough" in screen_texts(kiosk)
    kiosk.press("finish")
    kiosk.wait_screen("done")
    kiosk.pump(lambda: kiosk.session.printed is True, 10, "receipt printed")
    receipt = kiosk.hub.get("printer").wait_receipt(1, 5)
    text = "\n".join(receipt["lines"]).replace("￥", "¥")  # GB18030 prints the full-width sign
    assert "Electricity payment receipt" in text and "Paid: ¥80.00" in text
    assert "¥50.00 notes x 1" in text and "¥20.00 notes x 1" in text and "¥10.00 notes x 1" in text
    txn = kiosk.session.txn_id
    kiosk.press("continue")
    kiosk.wait_screen("rating")
    kiosk.press("skip")
    kiosk.wait_screen("attract")
    assert kiosk.app.tr.lang == "zh_CN"  # the next resident starts in Chinese
    # the commit settles within the event that ends insertion: no "processing" flash
    assert kiosk.app.shown == ["attract", "identify", "account", "amount", "insert", "done",
                               "rating", "attract"]
    assert kiosk.term.runner.history[:7] == ["identifying", "account", "amount", "inserting",
                                             "committing", "receipt", "rating"]
    (paid,) = delivered(kiosk)
    assert paid["txn_id"] == txn and paid["amount_minor"] == 8_000
    assert paid["notes"] == {"5000": 1, "2000": 1, "1000": 1}


def test_unknown_account_says_so_and_leads_back(kiosk):
    kiosk.press("enter_account")
    kiosk.type_digits(UNSEEDED_ACCOUNT)
    kiosk.press("submit_account")
    kiosk.pump(lambda: kiosk.session.message == "unknown_account", 10)
    assert "没有找到这个户号" in screen_texts(kiosk) and kiosk.screen == "identify"
    kiosk.press("back")
    kiosk.wait_screen("attract")
    assert kiosk.session.phase == Phase.IDLE and not kiosk.session.session_id


def test_cancel_before_money_takes_nothing(kiosk):
    kiosk.hub.get("card-reader").present(CARD)
    kiosk.wait_screen("account")
    kiosk.hub.get("card-reader").remove()
    kiosk.press("continue")
    kiosk.wait_screen("amount")
    kiosk.press("quick1")  # ¥50 of ¥128.50 owed: asked once, yes
    kiosk.pump(lambda: kiosk.current_screen().mode == "ask", 5, "less than owed asked")
    kiosk.press("pay")
    kiosk.wait_screen("insert")
    kiosk.press("cancel")
    kiosk.wait_screen("ended")
    assert "机器没有收您的钱" in screen_texts(kiosk)
    kiosk.press("continue")
    kiosk.wait_screen("attract")
    assert kiosk.journal.payments() == []
