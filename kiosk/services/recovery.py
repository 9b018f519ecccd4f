"""Power-up reconciliation (DESIGN §4 item 6): before any new money is accepted, sessions the
journal saw open are resolved from the journal and the validator's power-up status. Nothing is
dropped: an unresolved note is credited (the resident's favour) and flagged for the operator."""

from __future__ import annotations

import logging
from collections import Counter

from offline_queue.journal import Journal

log = logging.getLogger(__name__)


def reconcile(journal: Journal, power_up: str | None, offline: bool) -> list[str]:
    """``power_up``: the validator's condition at start (``normal``, ``bill_in_acceptor``,
    ``bill_in_stacker``) or None when it did not say. Returns what was done, for the log."""
    actions: list[str] = []
    for s in journal.open_sessions():
        credits = list(s.credits)
        for seq, value, decision in s.escrows:
            if decision == "stack" and power_up == "bill_in_acceptor":
                # The note never left the acceptor; the validator hands it back on reset.
                journal.returned(s.session_id, seq, value, "returned_at_power_up")
                actions.append(f"{s.session_id}: note {value} returned at power-up")
            elif decision == "stack":
                # Stack was commanded: the note is in the cash box (or was, as the device's
                # "bill in stacker" says). Credit it; the operator confirms at collection.
                if journal.credit(s.session_id, seq, "note", value):
                    credits.append((seq, "note", value))
                journal.flag(s.session_id, "credited_at_power_up",
                             f"note of {value} credited at power-up ({power_up or 'no status'})", value)
                actions.append(f"{s.session_id}: note {value} credited at power-up")
            else:
                journal.returned(s.session_id, seq, value, "return_commanded")
                actions.append(f"{s.session_id}: note {value} had been returned")
        total = sum(v for _, _, v in credits)
        if total > 0 and not s.paid:
            notes = Counter(v for _, t, v in credits if t == "note")
            coins = Counter(v for _, t, v in credits if t == "coin")
            rec = journal.commit_payment(s.session_id, s.account_no, dict(notes), dict(coins),
                                         total, offline, recovered=True)
            actions.append(f"{s.session_id}: payment {rec.receipt_no} of {total} committed at power-up")
        elif not s.paid:
            journal.session_end(s.session_id, "cancelled_at_power_up")
            actions.append(f"{s.session_id}: closed, no money")
        else:
            journal.session_end(s.session_id, "paid")
    for a in actions:
        log.warning("power-up reconciliation: %s", a)
    return actions
