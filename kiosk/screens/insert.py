"""Insert cash: bound entirely to the session's preformatted text; Finish and Cancel are intents.
The pictures show where the notes (and coins) go, pulsing only while the screen is shown."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty

from kiosk.screens.common import KioskScreen
from kiosk.screens.pictures import DevicePicture  # noqa: F401  (the kv rule's class)


class InsertScreen(KioskScreen):
    #: a coin acceptor is configured: its slot is pictured too
    shows_coins = BooleanProperty(False)

    def on_pre_enter(self, *_: Any) -> None:
        self.shows_coins = "coin_acceptor" in self.app.kiosk_config.devices

    def on_enter(self, *_: Any) -> None:
        self.ids.note_picture.start()
        if self.shows_coins:
            self.ids.coin_picture.start()

    def on_pre_leave(self, *_: Any) -> None:
        self.ids.note_picture.stop()
        self.ids.coin_picture.stop()
