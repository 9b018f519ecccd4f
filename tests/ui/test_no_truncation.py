"""No label is cut, shortened or spilled at any supported size (1280×800, 1920×1080, portrait
1080×1920) in standard and large text: every label of every resident screen state is walked."""

from __future__ import annotations

import pytest

from tests.ui import screen_checks as checks
from tests.ui.test_screens import states

pytestmark = pytest.mark.ui


@pytest.mark.slow  # every state at three sizes in two text sizes
def test_no_truncated_label_at_any_size(kiosk):
    problems = checks.walk_every_screen(kiosk, states(kiosk.app.kiosk_config.limits))
    assert kiosk.window.size == checks.SIZES[0]
    assert not problems, "\n".join(problems)


def test_the_check_finds_a_label_that_does_not_fit(kiosk):
    from kivy.uix.label import Label

    screen = kiosk.app.manager.current_screen
    cut = Label(text="缴费成功，谢谢！" * 20, size_hint=(None, None), size=(200, 40),
                text_size=(200, 40), shorten=True)
    screen.add_widget(cut)
    try:
        kiosk.frame(2)
        found = checks.truncated(screen, kiosk.window)
        assert any("shortened" in p for p in found), found
    finally:
        screen.remove_widget(cut)
