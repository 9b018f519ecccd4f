"""Identify: the account-number keypad. Digits stay on this screen until "Look up"; the flow
checks the number (length, check digit) before any lookup and says what is wrong."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, StringProperty

from kiosk.flow.account import ACCOUNT_LENGTH
from kiosk.screens.common import KioskScreen
from kiosk.screens.pictures import DevicePicture  # noqa: F401  (the kv rule's class)


def group_digits(digits: str) -> str:
    """``3101000015`` → ``3101 000 015``: easier to compare with the bill."""
    parts = [digits[:4], digits[4:7], digits[7:]]
    return " ".join(p for p in parts if p)


class IdentifyScreen(KioskScreen):
    entered = StringProperty("")
    display = StringProperty("")
    #: a card reader is configured: the picture shows where to tap the card
    shows_card = BooleanProperty(True)

    def on_pre_enter(self, *_: Any) -> None:
        self.shows_card = "card_reader" in self.app.kiosk_config.devices

    def on_enter(self, *_: Any) -> None:
        if self.shows_card:
            self.ids.card_picture.start()

    def on_pre_leave(self, *_: Any) -> None:
        self.ids.card_picture.stop()

    def key(self, key: str) -> None:
        self.entered = self.ids.keypad.edit(self.entered, key)
        self.app.touched()

    def on_entered(self, _instance: object, value: str) -> None:
        self.display = group_digits(value)

    def on_kv_post(self, _base_widget: object) -> None:
        self.ids.keypad.max_len = ACCOUNT_LENGTH + 2  # room to type one too many: the check says so

    def reset(self) -> None:
        self.entered = ""
