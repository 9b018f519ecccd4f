"""Kivy set-up that must happen early: the CJK font (before any Label exists) and the kiosk
settings (before the window exists): fullscreen, no cursor, Escape and F1 disabled."""

from __future__ import annotations

import os
from pathlib import Path

CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)


class FontMissing(RuntimeError):
    """No font with Chinese glyphs: every Chinese character would be an empty box."""


def find_cjk_font() -> str:
    """``KIOSK_CJK_FONT`` if set, else the first installed candidate."""
    override = os.environ.get("KIOSK_CJK_FONT")
    for path in ([override] if override else []) + list(CJK_FONTS):
        if path and Path(path).is_file():
            return path
    raise FontMissing("no Chinese font found (looked for " + ", ".join(CJK_FONTS) + "): "
                      "install fonts-wqy-microhei (make sysdeps) or set KIOSK_CJK_FONT to a "
                      ".ttc/.ttf file")


def register_cjk_font() -> str:
    """Make the CJK font Kivy's default (SDL2_ttf reads face 0 of a .ttc)."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    path = find_cjk_font()
    LabelBase.register(name=DEFAULT_FONT, fn_regular=path)
    return path


def configure_kivy(fullscreen: bool, lockdown: bool, size: tuple[int, int] = (1280, 800)) -> None:
    """Settings that only take effect before the window exists: call before importing Window."""
    from kivy.config import Config

    Config.set("kivy", "exit_on_escape", "0" if lockdown else "1")
    Config.set("kivy", "pause_on_minimize", "0")
    Config.set("graphics", "allow_screensaver", "0")
    if lockdown:
        Config.set("graphics", "show_cursor", "0")
        Config.set("input", "mouse", "mouse,disable_multitouch")
    if fullscreen:
        Config.set("graphics", "fullscreen", "auto")
        Config.set("graphics", "borderless", "1")
        Config.set("graphics", "resizable", "0")
    else:
        Config.set("graphics", "width", str(size[0]))
        Config.set("graphics", "height", str(size[1]))


def say_once_running(line: str) -> None:
    """Print ``line`` once the main loop runs (the window is up): supervisors and tests wait
    for it. Here so that the command line needs no Kivy import of its own."""
    from kivy.clock import Clock

    Clock.schedule_once(lambda _dt: print(line, flush=True))
