"""Pay by phone: scan the payment code, wait for the payment (with a countdown while the
resident confirms on the phone), or be told plainly it did not go through — then try again or
pay cash (kiosk/flow/code_tender.py). One screen, three modes bound to ``app.view.code_mode``."""

from __future__ import annotations

from kiosk.screens.common import KioskScreen


class CodePayScreen(KioskScreen):
    pass
