"""Out of service: a locking fault. Stays until staff or the device clear it (the flow decides)."""

from __future__ import annotations

from kiosk.screens.common import KioskScreen


class OutOfServiceScreen(KioskScreen):
    pass
