"""The daily report (operator): a preview on screen; printing issues the numbered report."""

from __future__ import annotations

from kiosk.screens.staff.common import StaffScreen


class StaffReportScreen(StaffScreen):
    pass
