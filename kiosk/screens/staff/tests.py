"""Self-tests (maintenance): printer test page, note reader, coin acceptor, card reader."""

from __future__ import annotations

from kiosk.screens.staff.common import StaffScreen


class StaffTestsScreen(StaffScreen):
    pass
