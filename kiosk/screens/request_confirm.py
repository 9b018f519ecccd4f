"""Confirm: what the request says (the address from the account, the phone masked)."""

from __future__ import annotations

from kiosk.screens.common import KioskScreen


class RequestConfirmScreen(KioskScreen):
    pass
