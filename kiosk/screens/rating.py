"""Rating: 1–5 or Skip; the rating is queued like a payment (never blocks the resident)."""

from __future__ import annotations

from kiosk.screens.common import KioskScreen


class RatingScreen(KioskScreen):
    pass
