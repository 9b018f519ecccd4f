"""Done: the local reference at once, the utility's once delivered; a slip."""

from __future__ import annotations

from kiosk.screens.common import KioskScreen


class RequestDoneScreen(KioskScreen):
    pass
