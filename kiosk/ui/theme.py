"""Shared styles for every screen: sizes, colours and the accessible-mode switch.

kv files use ``app.theme.<name>`` and nothing else, so accessible mode or another screen size is
one switch here (docs/architecture.md). Sizes are pixels at 1280×800, scaled up on larger screens, never
below the minimum: body text ≥ 28 px (≥ 40 px accessible), touch targets ≥ 15 mm at the
screen's configured density (``KIVY_DPI``), contrast ≥ 4.5:1 (≥ 7:1 accessible).
"""

from __future__ import annotations

from typing import Sequence

from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty

BASE_W, BASE_H = 1280, 800
TOUCH_MM = 15.0
#: targets grow with a larger screen only this far: a finger does not grow with the glass, and
#: the rows of buttons a portrait screen stacks would take the room its text needs
#: (docs/architecture.md: Screen sizes); never below TOUCH_MM
TARGET_SCALE_MAX = 1.2


def hex_rgba(code: str) -> list[float]:
    code = code.lstrip("#")
    return [int(code[i:i + 2], 16) / 255 for i in (0, 2, 4)] + [1.0]


# name → (standard, accessible)
SIZES = {
    "font_small": (28, 40),
    "font_body": (30, 40),
    "font_button": (32, 42),
    "font_title": (42, 48),
    "font_money": (76, 84),
    "font_keypad": (44, 52),
    "pad": (24, 20),
    "gap": (16, 14),
    "min_target": (88, 104),  # also at least 15 mm: see touch_min
}
COLOURS = {
    "bg": ("#FFFFFF", "#FFFFFF"),
    "fg": ("#1A1A1A", "#000000"),
    "muted": ("#4D4D4D", "#1A1A1A"),
    "brand": ("#0B5CAD", "#003366"),
    "brand_fg": ("#FFFFFF", "#FFFFFF"),
    "brand_soft": ("#E8F0FA", "#FFFFFF"),
    "surface": ("#F1F3F6", "#EBEBEB"),
    "line": ("#8A94A3", "#000000"),
    "fault": ("#B00020", "#8B0000"),
    "fault_fg": ("#FFFFFF", "#FFFFFF"),
    "banner_bg": ("#FFF1C2", "#FFF1C2"),
    "banner_fg": ("#3B2F00", "#000000"),
    "disabled_bg": ("#D5D9DF", "#BFBFBF"),
    "disabled_fg": ("#4D4D4D", "#000000"),
}
#: (foreground, background) pairs that carry text; each must meet the contrast floor
TEXT_PAIRS = (
    ("fg", "bg"), ("muted", "bg"), ("fg", "surface"), ("muted", "surface"),
    ("brand", "bg"), ("brand", "brand_soft"), ("brand_fg", "brand"), ("fault", "bg"),
    ("fault_fg", "fault"), ("banner_fg", "banner_bg"), ("disabled_fg", "disabled_bg"),
)


def luminance(rgba: Sequence[float]) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgba[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: Sequence[float], b: Sequence[float]) -> float:
    """WCAG 2 contrast ratio."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


class Theme(EventDispatcher):
    accessible = BooleanProperty(False)
    #: taller than wide: containers stack what stands side by side in landscape (common.kv Split)
    portrait = BooleanProperty(False)
    scale = NumericProperty(1.0)
    dpi = NumericProperty(96.0)

    font_small = NumericProperty(0)
    font_body = NumericProperty(0)
    font_button = NumericProperty(0)
    font_title = NumericProperty(0)
    font_money = NumericProperty(0)
    font_keypad = NumericProperty(0)
    pad = NumericProperty(0)
    gap = NumericProperty(0)
    touch_min = NumericProperty(0)
    header_h = NumericProperty(0)
    bar_h = NumericProperty(0)
    #: the bottom bar's button row in portrait: narrow buttons wrap, two lines must fit
    bar_two_lines = NumericProperty(0)

    bg = ColorProperty()
    fg = ColorProperty()
    muted = ColorProperty()
    brand = ColorProperty()
    brand_fg = ColorProperty()
    brand_soft = ColorProperty()
    surface = ColorProperty()
    line = ColorProperty()
    fault = ColorProperty()
    fault_fg = ColorProperty()
    banner_bg = ColorProperty()
    banner_fg = ColorProperty()
    disabled_bg = ColorProperty()
    disabled_fg = ColorProperty()

    #: timers run this much longer in accessible mode
    timeout_factor = NumericProperty(1.0)
    #: bumped after every change: kv rules that look sizes up by role bind to it
    rev = NumericProperty(0)

    def __init__(self, dpi: float | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        if dpi is None:
            from kivy.metrics import Metrics

            dpi = float(Metrics.dpi)
        self.dpi = dpi
        self.fbind("accessible", self._apply)
        self.fbind("scale", self._apply)
        self.fbind("dpi", self._apply)
        self._apply()

    def fit(self, width: float, height: float) -> None:
        """Arrange and scale for the window: portrait when taller than wide, sized against
        800×1280 then (1080×1920 gets larger type, not the landscape sizes with empty space);
        never below the 1280×800 sizes."""
        self.portrait = height > width
        base_w, base_h = (BASE_H, BASE_W) if self.portrait else (BASE_W, BASE_H)
        self.scale = max(1.0, min(width / base_w, height / base_h))

    @property
    def mm(self) -> float:
        return self.dpi / 25.4

    def _apply(self, *_: object) -> None:
        i = 1 if self.accessible else 0
        for name, values in SIZES.items():
            if name != "min_target":
                setattr(self, name, round(values[i] * self.scale))
        at_least = round(SIZES["min_target"][i] * min(self.scale, TARGET_SCALE_MAX))
        self.touch_min = max(at_least, round(TOUCH_MM * self.mm + 0.5))
        self.header_h = self.touch_min + round(12 * self.scale)
        self.bar_h = self.touch_min + round(20 * self.scale)
        self.bar_two_lines = max(self.bar_h, round(self.font_button * 2.4) + 3 * self.gap)
        for name, values in COLOURS.items():
            setattr(self, name, hex_rgba(values[i]))
        self.timeout_factor = 2.0 if self.accessible else 1.0
        self.rev += 1

    def font(self, role: str, _rev: int = 0) -> float:
        """Font size by role (small, body, button, title, money, keypad); ``_rev`` is for kv."""
        return getattr(self, "font_" + role)

    def tint(self, role: str, _rev: int = 0) -> list[float]:
        """Colour by role (fg, muted, brand, fault, banner_fg…); ``_rev`` is for kv."""
        return list(getattr(self, role))

    def colour(self, name: str) -> list[float]:
        return list(getattr(self, name))

    def contrast_report(self) -> dict[tuple[str, str], float]:
        return {(f, b): contrast(self.colour(f), self.colour(b)) for f, b in TEXT_PAIRS}
