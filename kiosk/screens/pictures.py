"""Pictures of where things go on the cabinet: the card reader on the identify screen, the note
and coin slots on the insert screen, each drawn on the canvas with an arrow that pulses towards
where the device is (``[cabinet]`` in the configuration, README.md Configuration). A resident who
cannot read well sees where to act; the short label says it too, so colour carries no meaning
alone (docs/architecture.md, Screen sizes). Sizes and colours come from the theme (pictures.kv)."""

from __future__ import annotations

from typing import Any

from kivy.animation import Animation
from kivy.graphics import Color, Line, Rectangle, RoundedRectangle, Triangle
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty, OptionProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

#: unit vector of each side, screen coordinates (y up)
DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "below": (0, -1)}


class DeviceDrawing(Widget):
    """The device as a plain shape at the ``side`` edge of the box, an arrow pointing at it
    from the centre; ``phase`` (0..1) moves the arrow ``travel`` pixels towards the device."""

    device = OptionProperty("card_reader", options=("card_reader", "note_slot", "coin_slot"))
    side = OptionProperty("right", options=tuple(DIRECTIONS))
    phase = NumericProperty(0.0)
    travel = NumericProperty(0)
    stroke = NumericProperty(2)
    ink = ColorProperty([0, 0, 0, 1])
    body = ColorProperty([1, 1, 1, 1])
    arrow = ColorProperty([0, 0, 1, 1])

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: the arrow's tail and tip (window coordinates are what tests compare)
        self.tail: tuple[float, float] = (0.0, 0.0)
        self.tip: tuple[float, float] = (0.0, 0.0)
        self.device_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
        for name in ("pos", "size", "device", "side", "phase", "travel", "stroke", "ink", "body",
                     "arrow"):
            self.fbind(name, self._draw)

    @property
    def direction(self) -> tuple[int, int]:
        return DIRECTIONS[self.side]

    def _draw(self, *_: object) -> None:
        dx, dy = self.direction
        w, h = self.size
        # the device sits against the edge it points to: a third of the box along that axis
        if dx:
            dw, dh = w / 3, h * 0.8
            x = self.right - dw if dx > 0 else self.x
            y = self.center_y - dh / 2
        else:
            dw, dh = w * 0.5, h / 3
            x, y = self.center_x - dw / 2, self.y
        self.device_box = (x, y, dw, dh)
        # the arrow runs from the centre of what is left to just short of the device
        span = (w - dw if dx else h - dh) / 2
        size = min(w, h) / 4
        cx, cy = self.center_x - dx * dw / 2, self.center_y + (dh / 2 if dy else 0)
        shift = self.phase * self.travel
        tail = (cx - dx * span * 0.6 + dx * shift, cy - dy * span * 0.6 + dy * shift)
        tip = (cx + dx * span * 0.6 + dx * shift, cy + dy * span * 0.6 + dy * shift)
        self.tail, self.tip = tail, tip
        nx, ny = -dy, dx  # normal to the arrow
        base = (tip[0] - dx * size, tip[1] - dy * size)
        self.canvas.clear()
        with self.canvas:
            Color(rgba=self.body)
            RoundedRectangle(pos=(x, y), size=(dw, dh), radius=[self.stroke * 3])
            Color(rgba=self.ink)
            Line(rounded_rectangle=(x, y, dw, dh, self.stroke * 3), width=self.stroke)
            self._device_mark(x, y, dw, dh)
            Color(rgba=self.arrow)
            Line(points=[*tail, *base], width=self.stroke * 2)
            Triangle(points=[tip[0], tip[1], base[0] + nx * size / 2, base[1] + ny * size / 2,
                             base[0] - nx * size / 2, base[1] - ny * size / 2])

    def _device_mark(self, x: float, y: float, dw: float, dh: float) -> None:
        """What tells the three apart without words: a card on the reader, a long slot for
        notes, a short one for coins."""
        s = self.stroke
        if self.device == "card_reader":
            cw, ch = dw * 0.6, dh * 0.35
            Line(rectangle=(x + (dw - cw) / 2, y + (dh - ch) / 2, cw, ch), width=s)
            for k in (1, 2, 3):  # the contactless waves
                Line(circle=(x + dw / 2, y + dh / 2, min(cw, ch) * k / 3, 30, 150), width=s)
        else:
            long_slot = self.device == "note_slot"
            sw, sh = dw * (0.7 if long_slot else 0.25), s * 3
            Rectangle(pos=(x + (dw - sw) / 2, y + (dh - sh) / 2), size=(sw, sh))


class DevicePicture(BoxLayout):
    """A drawing and its short label; ``start()`` and ``stop()`` run the pulse (the screen's
    on_enter and on_pre_leave: no animation runs on a screen nobody sees)."""

    device = OptionProperty("card_reader", options=("card_reader", "note_slot", "coin_slot"))
    side = OptionProperty("right", options=tuple(DIRECTIONS))
    label = StringProperty("")
    #: this cabinet has the device (no coin acceptor: no coin slot pictured)
    shown = BooleanProperty(True)
    #: one way of the pulse, seconds
    pulse_s = NumericProperty(0.7)

    _anim: Animation | None = None

    def start(self) -> None:
        self.stop()
        drawing = self.ids.drawing
        drawing.phase = 0
        anim = (Animation(phase=1, duration=self.pulse_s, t="in_out_sine")
                + Animation(phase=0, duration=self.pulse_s, t="in_out_sine"))
        anim.repeat = True
        anim.start(drawing)  # on the Kivy clock: the UI thread
        self._anim = anim

    def stop(self) -> None:
        if self._anim is not None:
            self._anim.cancel(self.ids.drawing)
            self._anim = None
        self.ids.drawing.phase = 0

    @property
    def running(self) -> bool:
        return self._anim is not None
