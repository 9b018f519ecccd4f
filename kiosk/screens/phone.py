"""Phone: a callback or e-bill number on the large keypad; the flow checks it (11 digits,
1[3-9]…) and says what is wrong."""

from __future__ import annotations

from kivy.properties import StringProperty

from kiosk.screens.common import KioskScreen

PHONE_DIGITS = 11


def group_phone(digits: str) -> str:
    """``13812341234`` → ``138 1234 1234``, the way people read a number out."""
    return " ".join(p for p in (digits[:3], digits[3:7], digits[7:]) if p)


class PhoneScreen(KioskScreen):
    entered = StringProperty("")
    display = StringProperty("")

    def key(self, key: str) -> None:
        self.entered = self.ids.keypad.edit(self.entered, key)
        self.app.touched()

    def on_entered(self, _instance: object, value: str) -> None:
        self.display = group_phone(value)

    def on_kv_post(self, _base_widget: object) -> None:
        self.ids.keypad.max_len = PHONE_DIGITS

    def reset(self) -> None:
        self.entered = ""
