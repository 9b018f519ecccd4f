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
CRASH_EXIT_CODE = 86


def crash_point(name: str) -> None:
    if os.environ.get("KIOSK_CRASH_AT") == name:
        os._exit(CRASH_EXIT_CODE)
