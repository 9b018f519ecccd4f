"""Done: the receipt number, printed or on screen with a QR code; Reprint; on to the rating."""

from __future__ import annotations

from kiosk.screens.common import KioskScreen


class DoneScreen(KioskScreen):
    pass
