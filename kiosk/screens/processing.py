"""Processing: shown while the payment is committed (or a last note is still being decided)."""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.graphics import Color, Ellipse
from kivy.properties import NumericProperty
from kivy.uix.widget import Widget

from kiosk.screens.common import KioskScreen


class ProgressDots(Widget):
    """Three dots, one lit at a time: the wait is visibly alive."""

    lit = NumericProperty(0)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ev = None
        for name in ("pos", "size", "lit"):
            self.fbind(name, self._draw)

    def start(self) -> None:
        if self._ev is None:
            self._ev = Clock.schedule_interval(self._step, 0.4)

    def stop(self) -> None:
        if self._ev is not None:
            self._ev.cancel()
            self._ev = None

    def _step(self, _dt: float) -> None:
        self.lit = (self.lit + 1) % 3

    def _draw(self, *_: Any) -> None:
        from kivy.app import App

        theme = App.get_running_app().theme
        r = min(self.height, 60) / 4
        self.canvas.clear()
        with self.canvas:
            for i in range(3):
                Color(*(theme.brand if i == self.lit else theme.disabled_bg))
                cx = self.center_x + (i - 1) * r * 3
                Ellipse(pos=(cx - r, self.center_y - r), size=(2 * r, 2 * r))


class ProcessingScreen(KioskScreen):
    def on_enter(self, *args: Any) -> None:
        for w in self.walk():
            if isinstance(w, ProgressDots):
                w.start()

    def reset(self) -> None:
        for w in self.walk():
            if isinstance(w, ProgressDots):
                w.stop()
