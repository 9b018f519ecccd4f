"""Account: holder and address (masked by the billing system), arrears, prepaid balance."""

from __future__ import annotations

from kiosk.screens.common import KioskScreen


class AccountScreen(KioskScreen):
    pass
