"""Attract: the idle screen. Notices rotate (the app fetches and caches them); a card tap or the
"Enter account number" button starts a session. Holding the top-left corner for 3 s opens the
staff PIN pad (``StaffCorner``)."""

from __future__ import annotations

from kiosk.screens.common import KioskScreen
from kiosk.screens.staff.common import StaffCorner  # noqa: F401 - used in the kv rule


class AttractScreen(KioskScreen):
    pass
