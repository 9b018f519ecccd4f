"""Paying with the phone's payment code, by touch through the real app and the reference payment
gateway: user_paying (confirm on the phone, with a countdown) then paid; a declined code then
cash; offline the offer is gone and the screen says why. Screenshots of each code screen in
both languages (artifacts/screenshots/code-*)."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from datetime import date

import pytest

from kiosk.flow import code_tender as ct
from kiosk.flow import events as e
from kiosk.flow.session import Phase, Session
from payment_gateway.server import PaymentGateway
from tests.billing_server.conftest import TEST_TOKEN
from tests.payment_gateway.conftest import CODE, MERCHANT
from tests.ui.conftest import make_config, running_kiosk
from tests.ui.test_payment_journeys import CARD, CARD_ACC, insert_note, screen_texts

pytestmark = pytest.mark.ui


@pytest.fixture
def gateway(tmp_path):
    gw = PaymentGateway("127.0.0.1", 0, tmp_path / "gateway.db", enrol_token=TEST_TOKEN).start()
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def code_kiosk(window, tmp_path, billing_server, gateway):
    cfg = make_config(tmp_path, billing_server.url)
    cfg = dataclasses.replace(cfg, gateway=dataclasses.replace(
        cfg.gateway, url=gateway.url, merchant=MERCHANT, enrol_token=TEST_TOKEN,
        connect_timeout_s=0.5, read_timeout_s=2.0))
    with running_kiosk(window, cfg, billing_server) as k:
        yield k


def to_amount(kiosk) -> None:
    reader = kiosk.hub.get("card-reader")
    reader.present(CARD)
    kiosk.wait_screen("account")
    reader.remove()
    kiosk.press("continue")
    kiosk.wait_screen("amount")


def to_code_scan(kiosk) -> None:
    """Account → amount → "pay with phone" → pay what is owed → the scan screen."""
    to_amount(kiosk)
    kiosk.press("pay_by_phone")
    kiosk.press("pay")
    kiosk.pump(lambda: kiosk.session.phase == Phase.CODE_SCAN, 10, "scan screen")


def show_code(kiosk) -> None:
    """The scanner reads the phone (another part's driver posts this event)."""
    kiosk.term.events.post(e.PaymentCodeScanned(CODE))


def test_pay_by_code_user_paying_then_paid(code_kiosk, gateway):
    kiosk = code_kiosk
    gateway.set_fault("user_paying", polls=2)
    to_code_scan(kiosk)
    assert kiosk.screen == "code_pay" and "请扫描手机上的付款码" in screen_texts(kiosk)
    show_code(kiosk)
    kiosk.pump(lambda: kiosk.app.view.code_countdown_text, 10, "confirm on the phone")
    assert "请在手机上确认付款" in screen_texts(kiosk)
    assert f"{ct.CONFIRM_S}" in kiosk.app.view.code_countdown_text
    while kiosk.session.phase == Phase.CODE_WAIT:
        kiosk.skip(ct.POLL_S)  # the countdown runs on the app's clock: each step is a poll
        kiosk.frame(5)
    kiosk.pump(lambda: "done" in kiosk.app.shown, 10, "the receipt screen")
    (paid,) = kiosk.pump(lambda: kiosk.server.ledger.payments(), 15, "payment delivered")
    assert (paid["tender"], paid["amount_minor"]) == ("code", CARD_ACC.arrears_minor)
    assert gateway.settlement(MERCHANT, date.today().isoformat()) == (1, CARD_ACC.arrears_minor)


def test_a_declined_code_then_cash(code_kiosk, gateway):
    kiosk = code_kiosk
    gateway.set_fault("decline", count=1)
    to_code_scan(kiosk)
    show_code(kiosk)
    kiosk.pump(lambda: kiosk.session.phase == Phase.CODE_FAILED, 10, "declined")
    assert "您的钱包拒绝了本次付款，没有扣款。" in screen_texts(kiosk)
    kiosk.press("pay_cash")
    kiosk.wait_screen("insert")
    insert_note(kiosk, 10_000)
    insert_note(kiosk, 5_000)
    kiosk.press("finish")
    kiosk.wait_screen("done")
    (paid,) = kiosk.pump(lambda: kiosk.server.ledger.payments(), 15, "payment delivered")
    assert (paid["tender"], paid["amount_minor"]) == ("cash", 15_000)
    assert gateway.settlement(MERCHANT, date.today().isoformat()) == (0, 0)


def test_offline_the_code_tender_is_not_offered_and_the_screen_says_why(code_kiosk):
    kiosk = code_kiosk
    to_amount(kiosk)
    assert kiosk.button("pay_by_phone")
    # the network really goes (the sync thread's health probe would undo a pretended outage)
    kiosk.server.set_fault("reset", paths="/v1")
    try:
        kiosk.term.call_soon(lambda: kiosk.term.runner.post_queue_state(online=False))
        kiosk.pump(lambda: kiosk.app.view.offline, 10, "offline")
        offer = kiosk.button("pay_by_phone")
        kiosk.pump(lambda: offer.disabled, 5, "the offer withdrawn")
        assert offer.text == "手机付款需要网络"
    finally:
        kiosk.server.set_fault("none")


def test_code_screens_in_both_languages(code_kiosk):
    """Each state of the code screens previewed, in Chinese and English: screenshots and the
    rules every screen keeps."""
    from tests.ui import screen_checks as checks

    kiosk = code_kiosk
    app = kiosk.app
    base = Session(config=app.kiosk_config.limits, session_id="S-SHOT", code_enabled=True,
                   account=e.AccountInfo(CARD_ACC.account_no, "张*明", "幸福*区", 12850, 0),
                   target_minor=12850, printer_can_print=True)
    code = ct.CodeState(12850, CARD_ACC.account_no, attempt=1, order_id="S-SHOT.C1")
    states = {
        "amount": replace(base, phase=Phase.AMOUNT),
        "scan": replace(base, phase=Phase.CODE_SCAN, code=code),
        "confirm": replace(base, phase=Phase.CODE_WAIT, message="code_confirm_on_phone",
                           code=replace(code, step="confirming", left_s=42,
                                        message="code_confirm_on_phone")),
        "declined": replace(base, phase=Phase.CODE_FAILED, message="code_failed:declined",
                            code=replace(code, step="failed", message="code_failed:declined")),
        "unresolved": replace(base, phase=Phase.CODE_FAILED, message="code_unresolved",
                              code=replace(code, step="failed", message="code_unresolved")),
    }
    problems: list[str] = []
    from kiosk.ui.i18n import LANG_NAMES

    allowed = {app.view.kiosk_id, LANG_NAMES["en"], LANG_NAMES["zh_CN"], "S-SHOT.C1"}
    try:
        for lang in ("zh_CN", "en"):
            app.tr.switch(lang)
            for name, session in states.items():
                app.preview(session)
                kiosk.frame(4)
                kiosk.snap(f"code-{name}-{'zh' if lang == 'zh_CN' else 'en'}")
                screen = app.manager.current_screen
                found = checks.untranslated(screen, lang, allowed)
                found += checks.overlaps(screen, kiosk.window)
                problems += [f"{name}/{lang}: {p}" for p in found]
    finally:
        app.tr.switch("zh_CN")
        app.preview(None)
    assert not problems, problems
