"""What the start screens say about the barcode scanner: with one configured (``[devices.scanner]``,
kiosk/config.py), a bill's barcode starts a payment like its account number typed
(kiosk/flow/scan.py), so the attract and identify screens say it can be scanned. Pure."""

from __future__ import annotations

from typing import Any, Callable


def fill(d: Any, scanner: bool, _: Callable[[str], str]) -> None:
    if scanner:
        d.start_how_text = _("or scan the barcode on your bill, or touch “Enter account number” "
                             "below.")
        d.account_hint_text = _("10 digits, printed on your electricity bill. Or scan the "
                                "bill's barcode.")
    else:
        d.start_how_text = _("or touch “Enter account number” below.")
        d.account_hint_text = _("10 digits, printed on your electricity bill.")
