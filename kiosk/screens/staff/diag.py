"""Diagnostics (maintenance): every device, the billing API, the send queue, the database, the
disk and the locking faults, each with its status and the reason; send the queue now."""

from __future__ import annotations

from kiosk.screens.staff.common import StaffScreen


class StaffDiagScreen(StaffScreen):
    pass
