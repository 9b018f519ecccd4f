"""Widgets every screen shares: buttons, the keypad, the step indicator, the on-screen QR code and
the screen base class. Their look lives in ``assets/kv/common.kv``; sizes and colours come from the
theme, so no screen carries its own magic numbers."""

from __future__ import annotations

import logging
import re
from typing import Any

from kivy.app import App
from kivy.graphics import Color, Rectangle
from kivy.graphics.texture import Texture
from kivy.properties import BooleanProperty, NumericProperty, OptionProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from kiosk.ui import qr
from kiosk.ui.linebreak import wrap

log = logging.getLogger(__name__)
#: Chinese text: the runs kinsoku line breaking applies to (kiosk/ui/linebreak.py)
_HAN = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


class Kinsoku:
    """Breaks a wrapping label's Chinese text where kinsoku allows before Kivy lays it out.
    ``text`` stays as bound (tests and the screens read it); only the drawn lines change."""

    def texture_update(self, *largs: Any) -> None:
        core = self._label
        width = (self.text_size[0] or 0) - self.padding[0] - self.padding[2]
        if width > 0 and not self.markup and _HAN.search(self.text):
            core.text = wrap(self.text, lambda line: core.get_extents(line)[0] <= width - 1)
        super().texture_update(*largs)


class KinsokuLabel(Kinsoku, Label):
    """The label every text role builds on (``KLabel`` in assets/kv/common.kv)."""


class KButton(Kinsoku, Button):
    """A touch target of at least the theme's minimum size. ``kind``: primary, secondary, plain."""

    kind = OptionProperty("secondary", options=("primary", "secondary", "plain"))
    shown = BooleanProperty(True)
    enabled = BooleanProperty(True)
    wrap = BooleanProperty(True)  # False: the button sizes itself to its text (one line)
    font_role = StringProperty("button")  # a theme font: sizes come from the theme only
    height_scale = NumericProperty(1.0)
    intent = StringProperty("")  # a name tests and the demo can find the button by

    def on_touch_down(self, touch: Any) -> bool:
        if not self.shown:
            return False
        return super().on_touch_down(touch)


class Keypad(GridLayout):
    """Digits, Delete and Clear; posts ``on_key`` with "0"–"9", "del" or "clear"."""

    __events__ = ("on_key",)
    max_len = NumericProperty(10)

    def on_key(self, key: str) -> None:
        pass

    def edit(self, current: str, key: str) -> str:
        if key == "del":
            return current[:-1]
        if key == "clear":
            return ""
        if key.isdigit() and len(current) < self.max_len:
            return current + key
        return current


class StepItem(Widget):
    index = NumericProperty(1)


class QRCodeView(Widget):
    """Draws ``data`` as a QR code (one texture, nearest-neighbour scaled: crisp at any size)."""

    data = StringProperty("")
    modules = NumericProperty(0)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._texture: Texture | None = None
        self.fbind("data", self._make)
        self.fbind("pos", self._draw)
        self.fbind("size", self._draw)

    def _make(self, *_: Any) -> None:
        self._texture = None
        self.modules = 0
        if self.data:
            matrix = qr.modules(self.data)  # built already, off this thread, when it is a receipt
            if matrix:
                n = len(matrix)
                black, white = b"\x00\x00\x00\xff", b"\xff\xff\xff\xff"
                rows = [b"".join(black if dark else white for dark in row)
                        for row in reversed(matrix)]  # textures start at the bottom row
                tex = Texture.create(size=(n, n), colorfmt="rgba")
                tex.mag_filter = tex.min_filter = "nearest"
                tex.blit_buffer(b"".join(rows), colorfmt="rgba", bufferfmt="ubyte")
                self._texture, self.modules = tex, n
        self._draw()

    def _draw(self, *_: Any) -> None:
        self.canvas.clear()
        if self._texture is None:
            return
        side = min(self.width, self.height)
        with self.canvas:
            Color(1, 1, 1, 1)
            Rectangle(texture=self._texture, size=(side, side),
                      pos=(self.center_x - side / 2, self.center_y - side / 2))


class _PortraitRows(BoxLayout):
    """A bar laid out in one row in landscape; in portrait (``app.theme.portrait``) in two rows
    of equal height: ``_on_top`` children across the upper row, the rest in the lower, where
    each keeps its place, left or right (docs/architecture.md: Screen sizes)."""

    #: the upper row's height in portrait; 0: the two rows share the height equally
    top_h = NumericProperty(0)

    def _on_top(self, child: Widget) -> bool:
        raise NotImplementedError

    def do_layout(self, *args: Any) -> None:
        app = App.get_running_app()
        if app is None or not getattr(app.theme, "portrait", False):
            super().do_layout(*args)
            return
        left, top, right, bottom = self.padding
        gap = self.spacing
        inner = self.height - top - bottom - gap
        upper = self.top_h or inner / 2
        width = self.width - left - right
        rows = ([c for c in reversed(self.children) if self._on_top(c)],
                [c for c in reversed(self.children) if not self._on_top(c)])
        for row_y, row, row_h in zip((self.y + bottom + inner - upper + gap, self.y + bottom), rows,
                                     (upper, inner - upper)):
            fixed = sum(c.width for c in row if c.size_hint_x is None)
            shares = sum(c.size_hint_x for c in row if c.size_hint_x is not None) or 1
            free = max(0.0, width - fixed - gap * (len(row) - 1))
            x = self.x + left
            for c in row:
                if c.size_hint_x is not None:
                    c.width = free * c.size_hint_x / shares
                c.height = row_h if c.size_hint_y is not None else min(c.height, row_h)
                c.pos = (x, row_y + (row_h - c.height) / 2)
                x += c.width + gap


class BottomBar(_PortraitRows):
    """Back/Cancel at the left, the primary action at the right, the terminal ID and phone
    between them; in portrait the footer takes the upper row and the buttons keep the corners."""

    def _on_top(self, child: Widget) -> bool:
        return type(child).__name__ == "Footer"


class Header(_PortraitRows):
    """The step indicator and the language and text-size switches; in portrait the switches take
    the upper row (right-aligned) and the steps the whole width below them."""

    def _on_top(self, child: Widget) -> bool:
        return getattr(child, "intent", "") in ("language", "accessible") or \
            type(child).__name__ == "HeaderSpacer"


class IdleOverlay(FloatLayout):
    """The idle warning (common.kv): while it shows, touches reach only its own button."""

    text = StringProperty("")

    def on_touch_down(self, touch: Any) -> bool:
        if not self.text:
            return False
        super().on_touch_down(touch)
        return True

    def on_touch_move(self, touch: Any) -> bool:
        if not self.text:
            return False
        super().on_touch_move(touch)
        return True

    def on_touch_up(self, touch: Any) -> bool:
        if not self.text:
            return False
        super().on_touch_up(touch)
        return True


class KioskScreen(Screen):
    """Base of every resident screen. ``reset()`` clears local input when the screen is left.
    The idle countdown is laid over the bottom of the screen, so no layout has to make room."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from kivy.factory import Factory

        self.add_widget(Factory.IdleOverlay())

    def on_leave(self, *args: Any) -> None:
        self.reset()

    def reset(self) -> None:
        pass

    @property
    def app(self) -> Any:
        return App.get_running_app()
