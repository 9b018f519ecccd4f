"""Power-up reconciliation with a session left open in each possible state, against each power-up
condition the validator can report; unresolved notes are credited, flagged and get a fault slip
(retried while the printer cannot print). Nothing is dropped, nothing is credited twice."""

from __future__ import annotations

import pytest

from kiosk.services.recovery import POWER_UP_FLAGS, print_fault_slips, reconcile

ACCT = "3100000010"
CONDITIONS = ("normal", "bill_in_acceptor", "bill_in_stacker", None)


def open_session(journal, sid: str, credits=(), escrow=None, paid=False) -> None:
    journal.session_start(sid, ACCT, 10000)
    seq = 0
    for seq, (tender, value) in enumerate(credits, start=1):
        if tender == "note":
            journal.escrow(sid, seq, value, "stack")
        journal.credit(sid, seq, tender, value)
    if escrow is not None:
        value, decision = escrow
        journal.escrow(sid, seq + 1, value, decision)
    if paid:
        # A late safe event after the commit is its own payment (".1"); the root stays open.
        journal.commit_payment(f"{sid}.1", ACCT, {5000: 1}, {}, 5000, offline=False)


def payment(journal, sid):
    return journal.payment_for_session(sid)


# (state, condition) → (amount paid at power-up or None, flagged?)
CASES = [
    ("nothing inserted", dict(), cond, None, False) for cond in CONDITIONS
] + [
    ("credits, not paid", dict(credits=[("note", 10000), ("coin", 100)]), cond, 10100, False)
    for cond in CONDITIONS
] + [
    ("paid, never ended", dict(paid=True), cond, None, False) for cond in CONDITIONS
] + [
    ("stack ordered, note in acceptor", dict(escrow=(2000, "stack")), "bill_in_acceptor", None, False),
    ("stack ordered, note in stacker", dict(escrow=(2000, "stack")), "bill_in_stacker", 2000, True),
    ("stack ordered, device normal", dict(escrow=(2000, "stack")), "normal", 2000, True),
    ("stack ordered, no status", dict(escrow=(2000, "stack")), None, 2000, True),
    ("return ordered, note in acceptor", dict(escrow=(2000, "return")), "bill_in_acceptor", None, False),
    ("return ordered, device normal", dict(escrow=(2000, "return")), "normal", None, False),
    ("return ordered, note in stacker", dict(escrow=(2000, "return")), "bill_in_stacker", 2000, True),
    ("credits and a stacked escrow", dict(credits=[("note", 5000)], escrow=(1000, "stack")),
     "bill_in_stacker", 6000, True),
    ("credits and a returned escrow", dict(credits=[("note", 5000)], escrow=(1000, "stack")),
     "bill_in_acceptor", 5000, False),
]


@pytest.mark.parametrize("state,setup,condition,paid,flagged", CASES,
                         ids=[f"{c[0]}/{c[2]}" for c in CASES])
def test_open_session_is_resolved(journal, printer, state, setup, condition, paid, flagged):
    open_session(journal, "S1", **setup)
    actions = reconcile(journal, condition, offline=False)
    assert actions, "an open session must be acted on"
    assert journal.open_sessions() == []  # resolved: nothing left open
    rec = payment(journal, "S1")
    assert (rec.amount_minor if rec else None) == paid
    if rec is not None:
        row = journal.db.execute("SELECT recovered FROM payments WHERE txn_id = ?",
                                 (rec.txn_id,)).fetchone()
        assert row[0] == 1
        queued = journal.db.execute("SELECT count(*) FROM outbox WHERE idem_key = ?",
                                    (rec.txn_id,)).fetchone()[0]
        assert queued == 1  # delivered to the billing API like any payment
    flags = [f for f in journal.open_flags() if f["kind"] in POWER_UP_FLAGS]
    assert bool(flags) == flagged
    assert print_fault_slips(journal, printer, "KIOSK-T1", "95598") == len(flags)
    if flagged:
        slip = printer.jobs[0]
        text = "\n".join(slip.lines)
        assert "S1" in text and "¥" in text and "95598" in text and "Fault slip" in slip.title
    # A second start finds nothing more to do and prints nothing again.
    assert reconcile(journal, condition, offline=False) == []
    assert print_fault_slips(journal, printer, "KIOSK-T1", "95598") == 0
    credited = journal.db.execute(
        "SELECT coalesce(sum(value_minor), 0) FROM journal WHERE kind = 'credit'"
        " AND session_id = 'S1'").fetchone()[0]
    assert credited == (paid or 0)  # every credit is paid in, none twice


def test_slip_not_printed_stays_due_until_the_printer_works(journal, printer):
    open_session(journal, "S2", escrow=(5000, "stack"))
    reconcile(journal, "bill_in_stacker", offline=True)
    printer.fail = "paper out"
    assert print_fault_slips(journal, printer, "KIOSK-T1", "95598") == 0
    assert print_fault_slips(journal, None, "KIOSK-T1", "95598") == 0
    printer.fail = None
    assert print_fault_slips(journal, printer, "KIOSK-T1", "95598") == 1
    assert print_fault_slips(journal, printer, "KIOSK-T1", "95598") == 0
    assert len(printer.jobs) == 1


def test_several_open_sessions_each_resolved(journal, printer):
    open_session(journal, "A", credits=[("note", 1000)])
    open_session(journal, "B")
    open_session(journal, "C", escrow=(10000, "stack"))
    reconcile(journal, None, offline=True)
    assert payment(journal, "A").amount_minor == 1000 and payment(journal, "B") is None
    assert payment(journal, "C").amount_minor == 10000 and payment(journal, "C").offline
    assert print_fault_slips(journal, printer, "KIOSK-T1", "95598") == 1
