"""Terminal-wide rules of the touchscreen: lockdown keys, the language switch mid-session (and kv
rules unbinding), accessible mode, an idempotent reprint, the CJK font, contrast."""

from __future__ import annotations

import pytest

from kiosk.app import KEY_ESCAPE, KEY_F1, KEY_F4
from tests.ui.test_faults import to_insert
from tests.ui.test_payment_journeys import insert_note, screen_texts

pytestmark = pytest.mark.ui


def test_lockdown_swallows_escape_f1_and_alt_f4(kiosk):
    window = kiosk.window
    for key, modifiers in ((KEY_ESCAPE, []), (KEY_F1, []), (KEY_F4, ["alt"])):
        assert window.dispatch("on_keyboard", key, 0, None, modifiers) is True
    assert window.dispatch("on_request_close") is True  # window manager close is refused
    assert kiosk.app.open_settings() is False
    kiosk.frame(2)
    assert kiosk.screen == "attract" and kiosk.window.children


def test_language_switches_mid_session_and_kv_rules_unbind(kiosk):
    to_insert(kiosk)
    insert_note(kiosk, 2_000)
    assert "已放入" in screen_texts(kiosk)
    bound = kiosk.app.tr.bound_rules
    kiosk.press("language")
    texts = screen_texts(kiosk)
    assert "Put in" in texts and "Still to pay" in texts and "¥108.50" in texts and "已放入" not in texts
    assert kiosk.app.tr.bound_rules == bound  # switching binds nothing new
    assert kiosk.term.runner.lang == "en"  # the receipt follows the screen's language
    kiosk.press("finish")
    kiosk.wait_screen("done")
    receipt = kiosk.hub.get("printer").wait_receipt(1, 5)
    assert receipt["lines"][0] == "Electricity payment receipt"
    # widgets gone → their kv rules are unbound from the translator (no leak per screen build)
    manager = kiosk.app.manager
    screen = manager.get_screen("rating")
    manager.remove_widget(screen)
    screen.clear_widgets()
    del screen
    import gc

    gc.collect()
    kiosk.frame(2)
    assert kiosk.app.tr.bound_rules < bound


def test_accessible_mode_is_one_touch_larger_and_longer(kiosk):
    theme = kiosk.app.theme
    before = (theme.font_body, theme.touch_min)
    kiosk.press("accessible")
    assert theme.accessible and theme.font_body >= 40 and theme.font_body > before[0]
    assert theme.touch_min > before[1] and kiosk.term.timers.factor == 2.0
    for (fg, bg), ratio in theme.contrast_report().items():
        assert ratio >= 7, (fg, bg, ratio)
    kiosk.press("accessible")
    assert not theme.accessible and theme.font_body >= 28
    for (fg, bg), ratio in theme.contrast_report().items():
        assert ratio >= 4.5, (fg, bg, ratio)


def test_reprint_is_idempotent_and_the_next_payment_is_warned_of(kiosk):
    to_insert(kiosk)
    insert_note(kiosk, 5_000)
    kiosk.press("finish")
    kiosk.wait_screen("done")
    kiosk.pump(lambda: kiosk.session.printed is True, 10, "printed")
    printer = kiosk.hub.get("printer")
    first = printer.wait_receipt(1, 5)
    kiosk.press("reprint")
    second = printer.wait_receipt(2, 5)
    assert second["lines"][: len(first["lines"])] == first["lines"] and "补打" in second["lines"][-1]
    assert not kiosk.app.view.can_reprint  # not twice in a row
    assert len(kiosk.journal.payments()) == 1
    kiosk.press("continue")
    kiosk.wait_screen("rating")
    kiosk.press("skip")
    kiosk.wait_screen("attract")
    to_insert_amount_screen(kiosk)  # the same account again, minutes later
    assert "这个户号刚才在本机交过费" in screen_texts(kiosk)
    kiosk.term.drain()
    assert len(kiosk.server.ledger.payments()) == 1


def to_insert_amount_screen(kiosk):
    from tests.ui.test_payment_journeys import CARD

    kiosk.hub.get("card-reader").present(CARD)
    kiosk.wait_screen("account")
    kiosk.hub.get("card-reader").remove()
    kiosk.press("continue")
    kiosk.wait_screen("amount")


def test_a_missing_cjk_font_is_a_clear_error(monkeypatch):
    from kiosk.ui import platform

    monkeypatch.setattr(platform, "CJK_FONTS", ("/nonexistent/font.ttc",))
    monkeypatch.delenv("KIOSK_CJK_FONT", raising=False)
    with pytest.raises(platform.FontMissing, match="fonts-wqy-microhei"):
        platform.find_cjk_font()
    monkeypatch.setenv("KIOSK_CJK_FONT", "/nonexistent/other.ttf")
    with pytest.raises(platform.FontMissing):
        platform.find_cjk_font()


def test_notices_come_from_the_billing_api_and_rotate(kiosk):
    from billing_server.seed import DEMO_NOTICES

    notices = kiosk.app.notices
    titles_zh = {n.title_zh for n in DEMO_NOTICES}
    kiosk.pump(lambda: notices.title in titles_zh, 10, "notices fetched")
    first = notices.title
    kiosk.skip(8.5)
    assert notices.title != first and notices.title in titles_zh
    kiosk.press("language")
    assert notices.title in {n.title_en for n in DEMO_NOTICES}
    assert notices.heading in ("Power cut notice", "Safety tip", "Tariff")


def test_touch_targets_grow_with_the_screen_density():
    from kiosk.ui.theme import Theme

    assert Theme(dpi=96).touch_min >= 15 * 96 / 25.4
    dense = Theme(dpi=300)
    assert dense.touch_min >= 15 * 300 / 25.4 > Theme(dpi=96).touch_min


def test_a_terminal_that_cannot_start_shows_out_of_service(window, tmp_path):
    from kiosk.app import KioskApp, make_terminal
    from tests.ui.conftest import Kiosk, close_app, make_config

    cfg = make_config(tmp_path, "http://127.0.0.1:9")
    (tmp_path / "k.db").write_bytes(b"this is not a database" * 100)
    app = KioskApp(make_terminal(cfg))
    try:
        app._run_prepare()  # the terminal starts on a worker thread, as in production
        k = Kiosk(app, app.terminal, None, window)
        k.wait_screen("out_of_service")
        texts = screen_texts(k)
        assert "本机有部件需要维护" in texts and "KIOSK-0001" in texts and "95598" in texts
        k.press("language")  # still out of service after a language switch
        assert k.screen == "out_of_service" and "Terminal ID: KIOSK-0001" in screen_texts(k)
    finally:
        close_app(app, window)
