"""Locking faults: what keeps the terminal out of service, with Clear where the role may clear
it (the back-end refuses while the device still reports the fault)."""

from __future__ import annotations

from kiosk.screens.staff.common import StaffScreen


class StaffFaultsScreen(StaffScreen):
    pass
