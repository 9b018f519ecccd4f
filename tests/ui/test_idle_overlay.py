"""The idle warning: a band over the bottom of the screen that never covers the money, and while
it shows, a stray touch presses nothing behind it (it still counts as "still here"); its own
button carries on."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kiosk.flow.session import Phase
from tests.ui import screen_checks as checks
from tests.ui.test_payment_journeys import CARD
from tests.ui.test_screens import states

pytestmark = pytest.mark.ui


def _overlay(screen):
    from kiosk.screens.common import IdleOverlay

    return next(w for w in screen.children if isinstance(w, IdleOverlay))


def _apart(a, b) -> bool:
    return a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_the_idle_warning_never_covers_the_money(kiosk):
    app = kiosk.app
    looked = 0
    for name, _expected, session, ui, _setup in states(app.kiosk_config.limits):
        for accessible in (False, True):
            app.theme.accessible = accessible
            app.preview(session, **{**ui, "idle_left_s": 12.0})
            kiosk.frame(3)
            screen = app.manager.current_screen
            band = checks.window_rect(_overlay(screen).ids.band)
            assert _overlay(screen).text, name
            for w in checks.text_widgets(screen):
                if getattr(w, "font_role", "") == "money":
                    looked += 1
                    assert _apart(band, checks.window_rect(w)), \
                        f"{name}: the idle warning covers {w.text!r}"
    app.theme.accessible = False
    app.preview(None)
    assert looked >= 5  # account, amount, insert, done… each show their money


def test_a_touch_during_the_idle_warning_presses_nothing_behind_it(kiosk, monkeypatch):
    app = kiosk.app
    cancelled, switched = [], []
    monkeypatch.setattr(app, "cancel", lambda *a: cancelled.append(a))
    monkeypatch.setattr(app, "toggle_language", lambda *a: switched.append(a))
    reader = kiosk.hub.get("card-reader")
    reader.present(CARD)
    kiosk.wait_screen("account")
    reader.remove()
    idle = app.kiosk_config.limits.idle_timeout_s
    kiosk.skip(idle - 10)
    kiosk.pump(lambda: app.view.idle_warning, 5, "idle warning")
    cancel, language = kiosk.button("cancel"), kiosk.button("language")
    kiosk.tap(cancel)  # covered by the band
    kiosk.tap(language)  # above the band: still not pressed while the warning shows
    assert not cancelled and not switched
    kiosk.pump(lambda: not app.view.idle_warning, 5, "warning gone")  # the touch woke it
    kiosk.skip(idle - 10)
    kiosk.pump(lambda: app.view.idle_warning, 5, "idle warning again")
    kiosk.press("still_here")
    kiosk.pump(lambda: not app.view.idle_warning, 5, "warning gone")
    assert kiosk.screen == "account" and kiosk.session.phase == Phase.ACCOUNT
    kiosk.tap(kiosk.button("cancel"))  # no warning: the screen's own buttons work again
    assert cancelled


def test_no_warning_no_band_in_the_way(kiosk):
    app = kiosk.app
    session, ui = next((s, u) for n, _e, s, u, _f in states(app.kiosk_config.limits) if n == "account")
    app.preview(replace(session), **ui)
    kiosk.frame(3)
    overlay = _overlay(app.manager.current_screen)
    assert not overlay.text and overlay.opacity == 0
    assert not any(b.intent == "still_here" for b in kiosk.buttons())
    app.preview(None)
