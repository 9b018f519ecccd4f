"""A bill's barcode through the real app: scanned on the attract screen or on the keypad it
opens that account; a code that is no bill shows what to do instead, in Chinese and English,
with screenshots (artifacts/screenshots/scan-*)."""

from __future__ import annotations

import pytest

from billing_server.seed import DEMO_ACCOUNTS, DEMO_BILLS
from kiosk.flow.money import format_minor
from tests.ui import screen_checks as checks

pytestmark = pytest.mark.ui

ACC = DEMO_ACCOUNTS[2]  # ¥46.30 owed, no card of its own needed: its bill finds it
OTHER = DEMO_ACCOUNTS[8]
NOT_A_BILL = {"zh_CN": "这不是本公司的电费单，请扫描电费单上的条码，或输入户号。",
              "en": "This is not a bill of this power company."}


def screen_texts(kiosk) -> str:
    return "\n".join(label.text for label in kiosk.labels())


def scan(kiosk, code: str) -> None:
    kiosk.hub.get("scanner").command(f"scan {code}")


def rules_kept(kiosk, lang: str) -> list[str]:
    from kiosk.ui.i18n import LANG_NAMES

    screen = kiosk.current_screen()
    allowed = {kiosk.app.view.kiosk_id, LANG_NAMES["en"], LANG_NAMES["zh_CN"]}
    return checks.untranslated(screen, lang, allowed) + checks.overlaps(screen, kiosk.window)


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_scan_a_bill_on_the_keypad_then_garbage(kiosk, lang):
    tag = "zh" if lang == "zh_CN" else "en"
    kiosk.app.tr.switch(lang)
    kiosk.frame(2)
    assert kiosk.screen == "attract"
    kiosk.press("enter_account")  # the resident touches the keypad button, then scans instead
    kiosk.wait_screen("identify")

    scan(kiosk, "6901234567892")  # a product's EAN-13: no bill of this utility
    kiosk.pump(lambda: NOT_A_BILL[lang] in screen_texts(kiosk), 10, "the not-a-bill message")
    assert kiosk.screen == "identify"
    assert rules_kept(kiosk, lang) == []
    kiosk.snap(f"scan-{tag}-not-a-bill")

    scan(kiosk, DEMO_BILLS[ACC.account_no])
    kiosk.wait_screen("account")
    texts = screen_texts(kiosk)
    assert ACC.holder_masked in texts and format_minor(ACC.arrears_minor) in texts
    assert NOT_A_BILL[lang] not in texts  # the message went with the lookup
    assert rules_kept(kiosk, lang) == []
    kiosk.snap(f"scan-{tag}-account")

    scan(kiosk, "134567890123456789")  # a phone's payment code before the payment step
    kiosk.pump(lambda: kiosk.session.message, 10, "the payment-code message")
    assert kiosk.screen == "account" and ACC.holder_masked in screen_texts(kiosk)
    kiosk.snap(f"scan-{tag}-payment-code-too-early")
    kiosk.press("cancel")
    kiosk.wait_screen("attract")
    kiosk.app.tr.switch("zh_CN")


def test_scan_a_bill_on_the_attract_screen(kiosk):
    scan(kiosk, DEMO_BILLS[OTHER.account_no])
    kiosk.wait_screen("account")
    assert OTHER.holder_masked in screen_texts(kiosk)
    kiosk.press("cancel")
    kiosk.wait_screen("attract")
    scan(kiosk, "hello")  # garbage on the attract screen: the keypad, with the message
    kiosk.wait_screen("identify")
    assert NOT_A_BILL["zh_CN"] in screen_texts(kiosk)
