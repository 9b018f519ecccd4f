"""The pictures of where things go: the identify screen shows where to tap the card, the insert
screen where the notes and coins go; each arrow points the way ``[cabinet]`` says, in landscape
and portrait, pulses only while its screen is shown, and covers no text (the money least of all)."""

from __future__ import annotations

import dataclasses

import pytest

from kiosk.config_sections import CabinetSection
from tests.ui import screen_checks as checks
from tests.ui.conftest import make_config, running_kiosk
from tests.ui.test_screens import states

pytestmark = pytest.mark.ui

SIZES = ((1280, 800), (1080, 1920))


def _rects_meet(a, b) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > 1 and min(a[3], b[3]) - max(a[1], b[1]) > 1


def _points_to(drawing, side: str) -> bool:
    (tx, ty), (hx, hy) = drawing.tail, drawing.tip
    return {"left": hx < tx and hy == ty, "right": hx > tx and hy == ty,
            "below": hy < ty and hx == tx}[side]


def _check(kiosk, screen, picture_ids, money_ids, must_show: bool) -> list[str]:
    found = checks.overlaps(screen, kiosk.window)
    texts = [w for w in checks.text_widgets(screen)]
    for pid in picture_ids:
        picture = screen.ids[pid]
        drawing = picture.ids.drawing
        if not checks.visible(picture):
            # large text may take all the room: the picture then gives way, never the text
            if must_show:
                found.append(f"{pid} not shown")
            continue
        rect = checks.window_rect(drawing)
        x0, y0, x1, y1 = rect
        if x0 < -1 or y0 < -1 or x1 > kiosk.window.width + 1 or y1 > kiosk.window.height + 1:
            found.append(f"{pid} outside the window")
        for w in texts:
            if w is not picture.ids.caption and _rects_meet(rect, checks.window_rect(w)):
                found.append(f"{pid} covers {w.text[:25]!r}")
        for mid in money_ids:
            if _rects_meet(checks.window_rect(picture), checks.window_rect(screen.ids[mid])):
                found.append(f"{pid} covers the money ({mid})")
    return found


@pytest.mark.parametrize("side", ["left", "right", "below"])
def test_pictures_point_the_configured_way_and_cover_no_money(window, tmp_path, billing_server,
                                                               side):
    cfg = make_config(tmp_path, billing_server.url)
    cfg = dataclasses.replace(cfg, cabinet=CabinetSection(side, side, side))
    by_name = {s[0]: s for s in states(cfg.limits)}
    with running_kiosk(window, cfg, billing_server) as kiosk:
        app = kiosk.app
        problems: list[str] = []
        try:
            for size in SIZES:
                window.size = size
                kiosk.frame(2)
                for lang, accessible in (("zh_CN", False), ("en", False), ("zh_CN", True),
                                         ("en", True)):
                    app.tr.switch(lang)
                    app.theme.accessible = accessible
                    for name, pictures, money in (
                            ("identify", ("card_picture",), ("entered",)),
                            ("insert", ("note_picture", "coin_picture"),
                             ("target", "remaining", "inserted"))):
                        _n, expected, session, ui, setup = by_name[name]
                        app.preview(session, **ui)
                        if setup:
                            setup(kiosk)
                        kiosk.frame(3)
                        screen = app.manager.current_screen
                        tag = f"{name} {lang} {size[0]}x{size[1]}"
                        assert app.manager.current == expected
                        for pid in pictures:
                            picture = screen.ids[pid]
                            if not _points_to(picture.ids.drawing, side):
                                problems.append(f"{tag}: {pid} does not point {side}")
                            kiosk.pump(lambda p=picture: p.running, 5, f"{pid} pulsing")
                        problems += [f"{tag}: {p}" for p in _check(kiosk, screen, pictures, money,
                                                                    not accessible)]
                        screen.reset()
                    want = {"zh_CN": ("在这里刷卡", "从这里放入钞票")}.get(lang)
                    if want:
                        assert app.manager.get_screen("identify").ids.card_picture.ids.caption.text == want[0]
                        assert app.manager.get_screen("insert").ids.note_picture.ids.caption.text == want[1]
            # leaving a screen stops its pulse: nothing animates out of sight
            app.preview(by_name["attract"][2])
            kiosk.frame(3)
            assert not app.manager.get_screen("identify").ids.card_picture.running
            assert not app.manager.get_screen("insert").ids.note_picture.running
        finally:
            app.preview(None)
            app.theme.accessible = False
            app.tr.switch("zh_CN")
            window.size = SIZES[0]
            kiosk.frame(2)
        assert not problems, "\n".join(problems)
