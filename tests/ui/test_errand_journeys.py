"""Beyond paying, by touch through the real app (kiosk/flow/services_menu.py): the history
screen, a fault report made while the billing API is down and delivered once it is back (the
reference server's ledger holds it once), and the SMS e-bill sign-up. Screenshots of every
screen in both languages go to ``artifacts/screenshots/``."""

from __future__ import annotations

import pytest

from billing_server.seed import DEMO_ACCOUNTS

pytestmark = pytest.mark.ui

ACC = DEMO_ACCOUNTS[8]  # reached through the keypad


def texts(kiosk) -> str:
    return "\n".join(label.text for label in kiosk.labels())


def rules_kept(kiosk, lang: str) -> list[str]:
    """What every screen keeps (tests/ui/screen_checks.py): translated, large enough, apart."""
    from kiosk.ui.i18n import LANG_NAMES
    from tests.ui import screen_checks as checks

    app, screen = kiosk.app, kiosk.current_screen()
    allowed = {app.view.kiosk_id, LANG_NAMES["en"], LANG_NAMES["zh_CN"],
               app.view.reference_text}  # a reference number is no word in either language
    return (checks.untranslated(screen, lang, allowed) + checks.too_small_text(screen, 28)
            + checks.small_targets(screen, app.theme.dpi / 25.4 * 15)
            + checks.misplaced_actions(screen, kiosk.window, app.theme)
            + checks.overlaps(screen, kiosk.window) + checks.style_drift(screen, app.theme))


def both_languages(kiosk, name: str, zh: str, en: str) -> None:
    """A screenshot in Chinese and in English, each checked for one sentence of its own and
    for the rules every screen keeps."""
    assert zh in texts(kiosk), texts(kiosk)
    kiosk.snap(f"errand-zh-{name}")
    problems = rules_kept(kiosk, "zh_CN")
    kiosk.press("language")
    kiosk.frame(2)
    assert en in texts(kiosk), texts(kiosk)
    kiosk.snap(f"errand-en-{name}")
    problems += rules_kept(kiosk, "en")
    kiosk.press("language")
    kiosk.frame(2)
    assert not problems, f"{name}: {problems}"


def to_services(kiosk) -> None:
    kiosk.press("enter_account")
    kiosk.wait_screen("identify")
    kiosk.type_digits(ACC.account_no)
    kiosk.press("submit_account")
    kiosk.wait_screen("account")
    kiosk.press("services")
    kiosk.wait_screen("choice")
    both_languages(kiosk, "menu", "您要办理什么业务", "What would you like to do")


def type_phone(kiosk, digits: str) -> None:
    kiosk.wait_screen("phone")
    kiosk.type_digits(digits)
    kiosk.press("submit_phone")


def test_history_screen(kiosk):
    to_services(kiosk)
    kiosk.press("option:history")
    kiosk.wait_screen("history")
    kiosk.pump(lambda: kiosk.app.view.history_rows, 10, "history shown")
    shown = texts(kiosk)
    months = kiosk.session.errand.history.months
    assert months[0].period in shown and str(months[0].kwh) in shown
    assert months[6].period not in shown  # the screen has the newest six; the slip all twelve
    both_languages(kiosk, "history", "最近几个月的用电和缴费", "payments of the last months")
    kiosk.press("print")
    kiosk.pump(lambda: kiosk.session.errand.printed is True, 10, "slip printed")
    slip = kiosk.hub.get("printer").wait_receipt(1, 5)
    assert months[11].period in "\n".join(slip["lines"])
    kiosk.press("continue")
    kiosk.wait_screen("choice")


def test_fault_report_offline_then_delivered(kiosk):
    kiosk.server.set_fault("500", paths="/v1/service-requests")
    to_services(kiosk)
    kiosk.press("option:fault")
    kiosk.wait_screen("choice")
    both_languages(kiosk, "fault-category", "出了什么问题", "What is wrong")
    kiosk.press("option:no_power")
    type_phone(kiosk, "12812341234")  # not a mobile number: said, and the keypad stays
    kiosk.pump(lambda: kiosk.session.message == "phone_invalid", 5, "phone refused")
    assert "这不是手机号码" in texts(kiosk)
    for _ in range(11):
        kiosk.press(text="删除")
    type_phone(kiosk, "13812341234")
    kiosk.wait_screen("request_confirm")
    shown = texts(kiosk)
    assert "138****1234" in shown and "13812341234" not in shown and ACC.address_masked in shown
    both_languages(kiosk, "fault-confirm", "请核对", "Please check")
    kiosk.press("confirm")
    kiosk.wait_screen("request_done")
    local = kiosk.session.errand.local_ref
    assert local in texts(kiosk) and "网络恢复后" in texts(kiosk)
    both_languages(kiosk, "fault-done-queued", "您的申请已受理", "Your request is recorded")
    assert kiosk.server.ledger.dump()["service_requests"] == []

    kiosk.server.set_fault("none")  # the network is back: the sync worker delivers it
    kiosk.pump(lambda: kiosk.session.errand.utility_ref, 20, "utility reference")
    (recorded,) = kiosk.server.ledger.dump()["service_requests"]
    assert recorded["kind"] == "fault" and recorded["callback_phone"] == "13812341234"
    assert recorded["reference_no"] in texts(kiosk)
    both_languages(kiosk, "fault-done-delivered", "供电公司受理编号", "The power company's reference")
    kiosk.press("print")
    kiosk.pump(lambda: kiosk.session.errand.printed is True, 10, "slip printed")
    lines = "\n".join(kiosk.hub.get("printer").wait_receipt(1, 5)["lines"])
    assert "138****1234" in lines and recorded["reference_no"] in lines
    kiosk.press("continue")
    kiosk.wait_screen("choice")
    assert len(kiosk.server.ledger.dump()["service_requests"]) == 1


def test_ebill_sign_up(kiosk):
    to_services(kiosk)
    kiosk.press("option:ebill")
    kiosk.wait_screen("choice")
    both_languages(kiosk, "ebill-what", "要给您的手机发送什么", "What should we send")
    kiosk.press("option:reminders")
    kiosk.wait_screen("phone")
    kiosk.type_digits("1991234567")
    assert kiosk.button("submit_phone").disabled  # ten digits: not yet
    kiosk.type_digits("8")
    both_languages(kiosk, "ebill-phone", "请输入您的手机号码", "Enter your mobile number")
    kiosk.press("submit_phone")
    kiosk.wait_screen("request_confirm")
    assert "缴费提醒" in texts(kiosk)
    kiosk.press("confirm")
    kiosk.wait_screen("request_done")
    kiosk.pump(lambda: kiosk.session.errand.utility_ref, 20, "utility reference")
    (signup,) = kiosk.server.ledger.dump()["ebill_signups"]
    assert signup["account_no"] == ACC.account_no
    assert (signup["sms_bill"], signup["reminder"]) == (0, 1)
    both_languages(kiosk, "ebill-done", "供电公司受理编号", "The power company's reference")
