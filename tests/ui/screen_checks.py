"""Checks any screen must pass, read from the live widget tree: translated text only, sizes,
touch targets, button placement, nothing overlapping or overflowing, Chinese glyphs drawn."""

from __future__ import annotations

import re
from typing import Any

LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
BACK_INTENTS = {"back", "cancel", "skip"}


def visible(w: Any) -> bool:
    while w is not None:
        if getattr(w, "opacity", 1) <= 0:
            return False
        w = w.parent if w.parent is not w else None
    return True


def window_rect(w: Any) -> tuple[float, float, float, float]:
    x, y = w.to_window(w.x, w.y)
    return x, y, x + w.width, y + w.height


def text_widgets(screen: Any) -> list[Any]:
    from kivy.uix.label import Label

    return [w for w in screen.walk(restrict=True) if isinstance(w, Label) and w.text and visible(w)]


def untranslated(screen: Any, lang: str, allowed: set[str]) -> list[str]:
    """Visible text in the wrong script: English words on a Chinese screen or the reverse.
    Data from the billing system (DataLabel) and allowed tokens (terminal id…) are exempt."""
    bad = []
    for w in text_widgets(screen):
        if any(cls.__name__ == "DataLabel" for cls in type(w).__mro__):  # kv subclasses too
            continue
        text = w.text
        for token in allowed:
            text = text.replace(token, "")
        if lang == "zh_CN" and LATIN_WORD.search(text):
            bad.append(w.text)
        if lang == "en" and CJK.search(text):
            bad.append(w.text)
    return bad


def too_small_text(screen: Any, minimum: float) -> list[str]:
    return [f"{w.text[:30]!r}: {w.font_size}px" for w in text_widgets(screen) if w.font_size < minimum]


def small_targets(screen: Any, minimum_px: float) -> list[str]:
    from kiosk.screens.common import KButton

    return [f"{b.intent or b.text!r}: {b.width:.0f}x{b.height:.0f}" for b in screen.walk(restrict=True)
            if isinstance(b, KButton) and b.shown and visible(b) and min(b.size) < minimum_px - 0.5]


def misplaced_actions(screen: Any, window: Any, theme: Any) -> list[str]:
    """Primary action bottom-right, Back/Cancel/Skip bottom-left: the same place on every screen."""
    from kiosk.screens.common import KButton

    out = []
    for b in screen.walk(restrict=True):
        if not isinstance(b, KButton) or not b.shown or not visible(b):
            continue
        x0, y0, x1, _y1 = window_rect(b)
        in_bar = y0 < theme.bar_h
        # quick amounts and ticked options are filled like the primary action but are choices
        if b.kind == "primary" and b.intent not in ("quick1", "quick2", "quick3") \
                and not b.intent.startswith("option:"):
            if not (in_bar and x1 >= window.width - theme.pad - 2):
                out.append(f"primary {b.intent!r} at x={x0:.0f}..{x1:.0f}, y={y0:.0f}")
        if b.intent in BACK_INTENTS and not (in_bar and x0 <= theme.pad + 2):
            out.append(f"back {b.intent!r} at x={x0:.0f}, y={y0:.0f}")
    return out


def style_drift(screen: Any, theme: Any) -> list[str]:
    """Text whose size or colour is not what its role says (e.g. left over from a theme switch)."""
    out = []
    for w in text_widgets(screen):
        role = getattr(w, "font_role", None)
        if role is None:
            continue
        want = theme.font(role) * getattr(w, "font_scale", 1)
        if abs(w.font_size - want) > 0.5:
            out.append(f"{w.text[:30]!r}: font {w.font_size} but role {role!r} says {want}")
        colour = getattr(w, "color_role", None)
        if colour is not None and [round(c, 3) for c in w.color] != \
                [round(c, 3) for c in theme.tint(colour)]:
            out.append(f"{w.text[:30]!r}: colour is not the theme's {colour!r}")
    return out


def overlaps(screen: Any, window: Any) -> list[str]:
    """Text widgets that overlap each other, spill out of their box or out of the window."""
    from kivy.uix.button import Button

    out = []
    widgets = [w for w in text_widgets(screen) if w.width > 1 and w.height > 1]
    rects = {id(w): window_rect(w) for w in widgets}
    for w in widgets:
        x0, y0, x1, y1 = rects[id(w)]
        if x0 < -1 or y0 < -1 or x1 > window.width + 1 or y1 > window.height + 1:
            out.append(f"{w.text[:30]!r} outside the window")
        tw, th = w.texture_size
        if w.text_size[0] is not None and (th > w.height + 2 or tw > w.width + 2):
            out.append(f"{w.text[:30]!r} overflows its box ({tw}x{th} in {w.width:.0f}x{w.height:.0f})")
        if isinstance(w, Button) and (tw > w.width + 2 or th > w.height + 2):
            out.append(f"button {w.text[:30]!r} text larger than the button")
    flowing = [w for w in widgets if not _in_overlay(w)]  # the idle warning lies on top
    for i, a in enumerate(flowing):
        for b in flowing[i + 1:]:
            if _related(a, b):
                continue
            ra, rb = rects[id(a)], rects[id(b)]
            dx = min(ra[2], rb[2]) - max(ra[0], rb[0])
            dy = min(ra[3], rb[3]) - max(ra[1], rb[1])
            if dx > 2 and dy > 2:
                out.append(f"{a.text[:25]!r} overlaps {b.text[:25]!r}")
    return out


def _in_overlay(w: Any) -> bool:
    while w is not None and w.parent is not w:
        if type(w).__name__ == "IdleOverlay":
            return True
        w = w.parent
    return False


def _related(a: Any, b: Any) -> bool:
    def ancestors(w: Any) -> set[int]:
        seen = set()
        while w is not None and w.parent is not w:
            seen.add(id(w))
            w = w.parent
        return seen

    return id(a) in ancestors(b) or id(b) in ancestors(a)


def glyphs_distinct(text: str = "电费") -> bool:
    """With a font lacking CJK glyphs, every character is the same empty box."""
    from kivy.core.text import Label as CoreLabel

    images = []
    for ch in text:
        label = CoreLabel(text=ch, font_size=40)
        label.refresh()
        images.append(bytes(label.texture.pixels))
    return len(set(images)) == len(images)


def qr_too_small(qr: Any, window: Any, minimum_px: float) -> list[str]:
    """The on-screen QR may be the only receipt: it must be shown, whole, and big enough to scan."""
    if not visible(qr) or not getattr(qr, "data", ""):
        return ["QR code not shown"]
    side = min(qr.width, qr.height)
    x1, y1, x2, y2 = window_rect(qr)
    found = [] if side >= minimum_px else [f"QR code {side:.0f}px < {minimum_px:.0f}px (30 mm)"]
    if x1 < 0 or y1 < 0 or x2 > window.width or y2 > window.height:
        found.append("QR code outside the window")
    return found


# ------------------------------------------------------------------ text that does not fit
#: the window sizes the resident screens must work at (landscape 16:10, 16:9, portrait 9:16)
SIZES = ((1280, 800), (1920, 1080), (1080, 1920))


def truncated(screen: Any, window: Any) -> list[str]:
    """Every label (buttons too) whose text does not fit: shortened with "…" or cut to
    ``max_lines`` by Kivy, drawn larger than its box, outside the window, or under another text."""
    out = []
    for w in text_widgets(screen):
        if getattr(w, "is_shortened", False):
            out.append(f"{w.text[:30]!r} is shortened")
        if w.max_lines and w.texture_size[1] and len(w.text.split("\n")) >= w.max_lines:
            out.append(f"{w.text[:30]!r} may be cut to {w.max_lines} lines")
        tw, th = w.texture_size
        if w.width > 1 and w.height > 1 and (tw > w.width + 2 or th > w.height + 2):
            out.append(f"{w.text[:30]!r} larger than its box ({tw}x{th} in "
                       f"{w.width:.0f}x{w.height:.0f})")
    return sorted(set(out + overlaps(screen, window)))


def walk_every_screen(kiosk: Any, states: list, sizes: tuple = SIZES,
                      variants: tuple = (("zh_CN", False), ("zh_CN", True)),
                      check: Any = truncated) -> list[str]:
    """Show each of ``states`` — (name, screen, session, UiState fields, set-up) as in
    tests/ui/test_screens.py — at every size and language/text-size variant, and run ``check``
    (screen, window) on it. Returns the problems, each tagged with where it was seen."""
    app, window = kiosk.app, kiosk.window
    problems: list[str] = []
    try:
        for size in sizes:
            window.size = size
            kiosk.frame(2)
            for lang, accessible in variants:
                app.tr.switch(lang)
                app.theme.accessible = accessible
                for name, _screen, session, ui, setup in states:
                    app.preview(session, **ui)
                    if setup:
                        setup(kiosk)
                    kiosk.frame()  # Kivy settles bindings and layouts within the frame
                    screen = app.manager.current_screen
                    text = "large" if accessible else "standard"
                    tag = f"{name} {lang} {text} {size[0]}x{size[1]}"
                    problems += [f"{tag}: {p}" for p in check(screen, window)]
                    screen.reset()
    finally:
        app.preview(None)
        app.theme.accessible = False
        app.tr.switch("zh_CN")
        window.size = SIZES[0]
        kiosk.frame(2)
    return problems


def drawn_lines(w: Any) -> list[str]:
    """The lines Kivy actually laid out for a label (after any line breaking)."""
    return ["".join(word.text for word in line.words) for line in (w._label._cached_lines or [])]


def kinsoku_breaks(screen: Any) -> list[str]:
    """Chinese text drawn with a line starting with closing punctuation, ending with opening
    punctuation, or broken inside a number with its unit or a range (kiosk/ui/linebreak.py)."""
    from kiosk.ui.linebreak import CLOSING, OPENING, units

    out = []
    for w in text_widgets(screen):
        if not CJK.search(w.text):
            continue
        lines = [line for line in drawn_lines(w) if line]
        if len(lines) < 2:
            continue
        allowed, at = {0}, 0
        for unit in units(w.text.replace("\n", " ")):
            at += len(unit.replace(" ", ""))
            allowed.add(at)
        at = 0
        for i, line in enumerate(lines):
            if i and line[0] in CLOSING:
                out.append(f"{w.text[:30]!r}: a line starts with {line[0]!r}")
            if i < len(lines) - 1 and line[-1] in OPENING:
                out.append(f"{w.text[:30]!r}: a line ends with {line[-1]!r}")
            at += len(line.replace(" ", ""))
            if i < len(lines) - 1 and at not in allowed:
                out.append(f"{w.text[:30]!r}: broken inside a word or number at {line!r}")
    return out
