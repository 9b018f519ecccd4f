"""Ended: cancelled or timed out without money; says that no money was taken."""

from __future__ import annotations

from kiosk.screens.common import KioskScreen


class EndedScreen(KioskScreen):
    pass
