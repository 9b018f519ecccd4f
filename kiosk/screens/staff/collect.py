"""Cash collection (operator): the batches closed by taking the cash box out, waiting to be
counted; closing the open batch by hand when the removal was not reported."""

from __future__ import annotations

from kiosk.screens.staff.common import StaffScreen


class StaffCollectScreen(StaffScreen):
    pass
