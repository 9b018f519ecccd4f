"""The voice's widgets: the volume and repeat buttons (drawn icons: no reading needed), and the
help overlay over every screen. Their look is in ``assets/kv/voice.kv``; their state is
``app.voice`` (kiosk/ui/voice.py)."""

from __future__ import annotations

from typing import Any

from kivy.properties import OptionProperty
from kivy.uix.floatlayout import FloatLayout

from kiosk.screens.common import KButton


class VoiceButton(KButton):
    """A header button drawn as an icon: ``volume`` (a speaker with one arc per level, a cross
    when off) or ``repeat`` (a circling arrow)."""

    icon = OptionProperty("volume", options=("volume", "repeat"))


class HelpOverlay(FloatLayout):
    """One sentence of what to do here, in large text, over the whole screen while
    ``app.voice.help_open``; touches do not reach the screen below, only its close button."""

    def on_touch_down(self, touch: Any) -> bool:
        if not self._open():
            return False
        super().on_touch_down(touch)
        return True

    def on_touch_move(self, touch: Any) -> bool:
        return self._open() and (super().on_touch_move(touch) or True)

    def on_touch_up(self, touch: Any) -> bool:
        return self._open() and (super().on_touch_up(touch) or True)

    def _open(self) -> bool:
        from kivy.app import App

        app = App.get_running_app()
        return bool(app is not None and app.voice.help_open)
