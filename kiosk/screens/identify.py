"""Identify: the account-number keypad. Digits stay on this screen until "Look up"; the flow
checks the number (length, check digit) before any lookup and says what is wrong."""

from __future__ import annotations

from kivy.properties import StringProperty

from kiosk.flow.account import ACCOUNT_LENGTH
from kiosk.screens.common import KioskScreen


def group_digits(digits: str) -> str:
    """``3101000015`` → ``3101 000 015``: easier to compare with the bill."""
    parts = [digits[:4], digits[4:7], digits[7:]]
    return " ".join(p for p in parts if p)


class IdentifyScreen(KioskScreen):
    entered = StringProperty("")
    display = StringProperty("")

    def key(self, key: str) -> None:
        self.entered = self.ids.keypad.edit(self.entered, key)
        self.app.touched()

    def on_entered(self, _instance: object, value: str) -> None:
        self.display = group_digits(value)

    def on_kv_post(self, _base_widget: object) -> None:
        self.ids.keypad.max_len = ACCOUNT_LENGTH + 2  # room to type one too many: the check says so

    def reset(self) -> None:
        self.entered = ""
