"""The demo's developer panel: buttons for every simulated-world action, shown with F12.

Developer-facing, so English only and not part of the resident's translated screens. The
actions and the object that runs them are handed in by whoever wires the demo (``kiosk demo``):
a screen never imports the demo."""

from __future__ import annotations

from typing import Any, Mapping

from kivy.graphics import Color, Rectangle
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label

KEY_F12 = 293


class DevPanel(BoxLayout):
    controls = ObjectProperty(None)
    open = BooleanProperty(False)
    status = StringProperty("")

    def __init__(self, actions: Mapping[str, tuple[str, str]], **kwargs: Any) -> None:
        """``actions``: action → (hotkey, label), one button each; a press calls
        ``controls.do(action)`` and ``controls.listeners`` hear each result's text."""
        super().__init__(orientation="vertical", size_hint=(None, 1), width=300,
                         pos_hint={"top": 1}, padding=6, spacing=4, **kwargs)
        for action, (key, label) in actions.items():
            btn = Button(text=f"[{key}] {label}", font_size=16, halign="left")
            btn.bind(on_release=lambda _b, a=action: self.controls.do(a))
            self.add_widget(btn)
        self.status_label = Label(text="", font_size=14, size_hint_y=None, height=60,
                                  text_size=(288, None))
        self.add_widget(self.status_label)
        with self.canvas.before:
            Color(0.1, 0.1, 0.12, 0.92)
            self._bg = Rectangle(pos=self.pos, size=self.size)
        self.fbind("pos", self._sync_bg)
        self.fbind("size", self._sync_bg)
        self.controls.listeners.append(self._on_result)
        from kivy.core.window import Window

        Window.fbind("on_keyboard", self._on_key)
        self._apply()

    def _sync_bg(self, *_: Any) -> None:
        self._bg.pos, self._bg.size = self.pos, self.size

    def _on_result(self, text: str) -> None:
        from kivy.clock import Clock

        Clock.schedule_once(lambda _dt: setattr(self.status_label, "text", text), 0)

    def _on_key(self, _window: Any, key: int, *args: Any, **kwargs: Any) -> bool:
        if key == KEY_F12:
            self.open = not self.open
            return True
        return False

    def on_open(self, *_: Any) -> None:
        self._apply()

    def _apply(self) -> None:
        self.opacity = 1 if self.open else 0
        self.disabled = not self.open
        self.x = self.parent.right - self.width if (self.open and self.parent) else 10_000
