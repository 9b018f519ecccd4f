"""Reprint a resident's receipt by its number (operator): the number's last digits for today,
or date and number; the latest receipts are listed to help."""

from __future__ import annotations

from kiosk.screens.staff.common import StaffScreen


class StaffReprintScreen(StaffScreen):
    def reset(self) -> None:
        if self.app is not None and not self.staff.active:
            self.staff.reprint_digits = ""
