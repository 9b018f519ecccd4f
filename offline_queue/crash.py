"""Named crash points for crash tests: ``KIOSK_CRASH_AT=<point>`` ends the process abruptly
(``os._exit``, no cleanup, like a power cut) the first time that point is reached."""

from __future__ import annotations

import os

POINTS = frozenset(
    {
        "after_escrow_journaled",
        "after_stack_sent",
        "after_credit_committed",
        "after_payment_committed",
        "after_post_sent",
        "after_delivered_marked",
        "after_receipt_printed",
    }
)
#: around a charge of the phone's payment code (kiosk/services/code_pay.py): a restart resolves
#: every order to a payment recorded once or a charge reversed (docs/payment-gateway.yaml)
CODE_POINTS = frozenset({"after_charge_sent", "after_paid", "before_payment_committed"})
CRASH_EXIT_CODE = 86


def crash_point(name: str) -> None:
    if os.environ.get("KIOSK_CRASH_AT") == name:
        os._exit(CRASH_EXIT_CODE)
