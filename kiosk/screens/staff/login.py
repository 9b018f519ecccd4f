"""Staff sign-in: the staff ID on a small letter keyboard, then the PIN on large keys, masked.
The PIN is checked on the staff worker thread (it takes a noticeable moment on purpose)."""

from __future__ import annotations

from typing import Any

from kivy.factory import Factory
from kivy.properties import OptionProperty, StringProperty
from kivy.uix.widget import Widget

from kiosk.screens.staff.common import StaffScreen

MAX_ID, MAX_PIN = 32, 12


class StaffLoginScreen(StaffScreen):
    mode = OptionProperty("id", options=("id", "pin"))
    user_id = StringProperty("")
    pin = StringProperty("")

    def on_kv_post(self, _base_widget: Any) -> None:
        self._keys = {"id": Factory.AlphaKeys(), "pin": Factory.Keypad(max_len=MAX_PIN)}
        self._keys["id"].bind(on_key=lambda _w, k: self.key(k))
        self._keys["pin"].bind(on_key=lambda _w, k: self.key(k))
        self.fbind("mode", self._swap)
        self.staff.fbind("message", self._on_message)
        self._swap()

    def on_pre_enter(self, *_: Any) -> None:
        """Opened by a staff card: its user is known, only the PIN is asked (card + PIN)."""
        if self.staff.card_user:
            self.user_id, self.pin, self.mode = self.staff.card_user, "", "pin"

    def _swap(self, *_: Any) -> None:
        area = self.ids.keyboard
        keys = self._keys[self.mode]
        if keys.parent is not area:
            area.clear_widgets()
            area.add_widget(keys)
            area.add_widget(Widget())  # the keys stay at the top

    def _on_message(self, _staff: Any, text: str) -> None:
        if text and self.mode == "pin":
            self.pin = ""  # a refused PIN is typed again from the start

    def key(self, key: str) -> None:
        if self.mode == "id":
            self.user_id = self._edit(self.user_id, key, MAX_ID)
        else:
            self.pin = self._edit(self.pin, key, MAX_PIN)

    @staticmethod
    def _edit(current: str, key: str, max_len: int) -> str:
        if key == "del":
            return current[:-1]
        if key == "clear":
            return ""
        return current + key if len(key) == 1 and len(current) < max_len else current

    def back(self) -> None:
        if self.mode == "pin":
            self.mode, self.pin = "id", ""
        else:
            self.staff.back()

    def primary(self) -> None:
        if self.mode == "id":
            if self.user_id:
                self.mode = "pin"
        else:
            self.staff.login(self.user_id, self.pin)

    def reset(self) -> None:
        self.mode, self.user_id, self.pin = "id", "", ""
