"""Attract: the idle screen. Notices rotate (the app fetches and caches them); a card tap or the
"Enter account number" button starts a session."""

from __future__ import annotations

from kiosk.screens.common import KioskScreen


class AttractScreen(KioskScreen):
    pass
