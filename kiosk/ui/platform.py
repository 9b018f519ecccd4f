"""Kivy set-up that must happen early: the CJK font (before any Label exists) and the kiosk
settings (before the window exists): fullscreen, no cursor, Escape and F1 disabled."""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
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
        # SDL's desktop fullscreen is a request to the window manager; on a bare X server (a
        # kiosk has none) the window stays at its configured size, 800×600 in the middle. So the
        # window is also made the size of the display at its top-left corner (docs/architecture.md:
        # Screen sizes).
        Config.set("graphics", "fullscreen", "auto")
        Config.set("graphics", "borderless", "1")
        Config.set("graphics", "resizable", "0")
        found = display_size()
        if found is not None:
            Config.set("graphics", "width", str(found[0]))
            Config.set("graphics", "height", str(found[1]))
            Config.set("graphics", "position", "custom")
            Config.set("graphics", "left", "0")
            Config.set("graphics", "top", "0")
    else:
        Config.set("graphics", "width", str(size[0]))
        Config.set("graphics", "height", str(size[1]))


class _DisplayMode(ctypes.Structure):
    _fields_ = [("format", ctypes.c_uint32), ("w", ctypes.c_int), ("h", ctypes.c_int),
                ("refresh_rate", ctypes.c_int), ("driverdata", ctypes.c_void_p)]


def _sdl_library() -> str | None:
    """The SDL2 Kivy uses: the copy bundled with its wheel, else the system's."""
    import kivy

    site = os.path.dirname(os.path.dirname(kivy.__file__))
    bundled = sorted(glob.glob(os.path.join(site, "Kivy.libs", "libSDL2-*.so*")))
    return bundled[0] if bundled else ctypes.util.find_library("SDL2")


def display_size() -> tuple[int, int] | None:
    """The first display's desktop size from SDL, before any window exists; None when SDL cannot
    tell (no library, no video device)."""
    path = _sdl_library()
    if not path:
        return None
    try:
        sdl = ctypes.CDLL(path)
    except OSError:
        return None
    video = 0x20  # SDL_INIT_VIDEO (SDL_init.h)
    if sdl.SDL_InitSubSystem(video) != 0:
        return None
    try:
        mode = _DisplayMode()
        if sdl.SDL_GetDesktopDisplayMode(0, ctypes.byref(mode)) != 0 or mode.w <= 0 or mode.h <= 0:
            return None
        return mode.w, mode.h
    finally:
        sdl.SDL_QuitSubSystem(video)


def say_once_running(line: str) -> None:
    """Print ``line`` once the main loop runs (the window is up): supervisors and tests wait
    for it. Here so that the command line needs no Kivy import of its own."""
    from kivy.clock import Clock

    Clock.schedule_once(lambda _dt: print(line, flush=True))
