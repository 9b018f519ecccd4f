"""Out of service: a locking fault. Stays until staff or the device clear it (the flow decides);
staff reach their screens through the same hidden corner as on the attract screen."""

from __future__ import annotations

from kiosk.screens.common import KioskScreen
from kiosk.screens.staff.common import StaffCorner  # noqa: F401 - used in the kv rule


class OutOfServiceScreen(KioskScreen):
    pass
