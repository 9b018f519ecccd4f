"""Power-up reconciliation (docs/promises.md): before any new money is accepted, sessions the
journal saw open are resolved from the journal and the validator's power-up status. Nothing is
dropped: an unresolved note is credited (the resident's favour), flagged for the operator, and
a fault slip is printed for it (retried at the next start while the printer cannot print)."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from drivers.interfaces import PrintJob
from kiosk.flow.money import format_minor
from offline_queue.journal import Journal, tally

log = logging.getLogger(__name__)

#: flag kinds reconciliation raises: each gets a printed fault slip
POWER_UP_FLAGS = frozenset({"credited_at_power_up"})


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
            elif power_up == "bill_in_stacker":
                # A return was journaled but the device holds a note past escrow: the reset
                # sends it to the cash box. Credit it; the operator checks at collection.
                if journal.credit(s.session_id, seq, "note", value):
                    credits.append((seq, "note", value))
                journal.flag(s.session_id, "credited_at_power_up",
                             f"note of {value}: return journaled, device reports it in the "
                             "stacker; credited at power-up", value)
                actions.append(f"{s.session_id}: note {value} credited at power-up (in stacker)")
            else:
                journal.returned(s.session_id, seq, value, "return_commanded")
                actions.append(f"{s.session_id}: note {value} had been returned")
        total = sum(v for _, _, v in credits)
        if total > 0 and not s.paid:
            notes = tally(Counter(v for _, t, v in credits if t == "note"))
            coins = tally(Counter(v for _, t, v in credits if t == "coin"))
            rec = journal.commit_payment(s.session_id, s.account_no, notes, coins,
                                         total, offline, recovered=True)
            actions.append(f"{s.session_id}: payment {rec.receipt_no} of {total} committed at power-up")
        elif not s.paid:
            journal.session_end(s.session_id, "cancelled_at_power_up")
            actions.append(f"{s.session_id}: closed, no money")
        else:
            journal.session_end(s.session_id, "paid")
            actions.append(f"{s.session_id}: already paid, closed")
    for a in actions:
        log.warning("power-up reconciliation: %s", a)
    return actions


def fault_slip(flag: dict[str, Any], kiosk_id: str, service_phone: str) -> PrintJob:
    """The slip an unresolved session leaves for the operator (kept with the cash box)."""
    value = flag.get("value_minor")
    return PrintJob(title="故障单 Fault slip", lines=(
        f"终端 Terminal: {kiosk_id}",
        f"会话 Session: {flag['session_id']}",
        f"金额 Amount: {format_minor(value) if value is not None else '-'}",
        f"情况 What: {flag['detail']}",
        f"时间 Time: {flag['at']}",
        "请核对钱箱并在清点时确认 Check at cash collection",
        f"服务电话 Service: {service_phone}",
    ))


def print_fault_slips(journal: Journal, printer: Any, kiosk_id: str, service_phone: str) -> int:
    """Print a slip for every reconciliation flag that has none yet; returns how many were
    printed. A slip that cannot be printed now stays due (the flag itself is never lost)."""
    due = list(journal.db.query(
        "SELECT * FROM flags WHERE kind IN ({}) AND resolved_at IS NULL AND id NOT IN"
        " (SELECT flag_id FROM flag_slips) ORDER BY id".format(",".join("?" * len(POWER_UP_FLAGS))),
        sorted(POWER_UP_FLAGS)))
    printed = 0
    for flag in due:
        if printer is None:
            log.warning("fault slip for %s not printed: no printer", flag["session_id"])
            break
        try:
            printer.print_job(fault_slip(flag, kiosk_id, service_phone))
        except Exception as exc:  # PrinterError: paper out, cover open; retried at next start
            log.warning("fault slip for %s not printed: %s", flag["session_id"], exc)
            break
        journal.db.execute("INSERT OR IGNORE INTO flag_slips (flag_id, printed_at) VALUES (?, ?)",
                           (flag["id"], journal.clock().isoformat(timespec="seconds")))
        printed += 1
    return printed
