"""After the count: the expected figures (journal and device), the variance, the receipt."""

from __future__ import annotations

from kiosk.screens.staff.common import StaffScreen


class StaffCountedScreen(StaffScreen):
    pass
