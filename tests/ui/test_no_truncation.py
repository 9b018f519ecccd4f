"""No label is cut, shortened or spilled at any supported size (1280×800, 1920×1080, portrait
1080×1920) in standard and large text: every label of every resident screen state is walked."""

from __future__ import annotations

import pytest

from tests.ui import screen_checks as checks
from tests.ui.more_states import more_states
from tests.ui.test_screens import states

pytestmark = pytest.mark.ui
#: (language, large text): English large is the longest text in portrait's narrow columns
VARIANTS = (("zh_CN", False), ("zh_CN", True), ("en", False), ("en", True))


@pytest.mark.slow  # every state at three sizes in two text sizes
def test_no_truncated_label_at_any_size(kiosk):
    limits = kiosk.app.kiosk_config.limits
    problems = checks.walk_every_screen(kiosk, states(limits) + more_states(limits),
                                        variants=VARIANTS)
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


def test_chinese_labels_break_lines_by_kinsoku_and_the_check_sees_a_plain_wrap(kiosk):
    from kivy.factory import Factory
    from kivy.uix.label import Label

    screen = kiosk.app.manager.current_screen
    text = "请取走您的小票。本月用电230度。"
    plain = Label(text=text, font_size=40, size_hint=(None, None), size=(300, 300))
    plain.text_size = (plain.font_size * 7 + 4, None)  # room for seven characters a line
    kinsoku = Factory.KinsokuLabel(text=text, font_size=40, size_hint=(None, None), size=(300, 300),
                                   text_size=plain.text_size)
    for w in (plain, kinsoku):
        screen.add_widget(w)
    try:
        kiosk.frame(2)
        assert checks.drawn_lines(plain)[1].startswith("。") or \
            any("230" in line and "度" not in line for line in checks.drawn_lines(plain))
        screen.remove_widget(kinsoku)
        assert checks.kinsoku_breaks(screen), checks.drawn_lines(plain)
        screen.remove_widget(plain)
        screen.add_widget(kinsoku)
        kiosk.frame(2)
        assert checks.drawn_lines(kinsoku) == ["请取走您的小", "票。本月用电", "230度。"]
        assert not checks.kinsoku_breaks(screen)
    finally:
        for w in (plain, kinsoku):
            if w.parent is not None:
                screen.remove_widget(w)
