"""Cash collection: the cash box removal closes the batch, the operator counts blind, the variance
is computed against the journal and the validator's counters, the receipt is printed, and the
batch is journaled and delivered to the reference billing server through the outbox."""

from __future__ import annotations

import json

import pytest

from billing_server.seed import DEMO_ACCOUNTS
from kiosk.staff import audit as a
from kiosk.staff.errors import CollectionError
from offline_queue.outbox import Outbox
from offline_queue.sync import SyncWorker
from tests.billing_server.conftest import sign_as_test_kiosk
from tests.staff.conftest import OP_PIN

ACCT = DEMO_ACCOUNTS[0].account_no


class Counters:
    """The validator's non-volatile stacked-note counters (cumulative since manufacture)."""

    def __init__(self) -> None:
        self.stacked = {"10000": 40, "5000": 12}  # notes from long before this terminal's books

    def __call__(self):
        return dict(self.stacked)

    def stack(self, value: int) -> None:
        self.stacked[str(value)] = self.stacked.get(str(value), 0) + 1


@pytest.fixture
def counters(console):
    c = Counters()
    console.collections.counters = c
    console.collections.ensure_open()  # the terminal opens the first batch at start
    return c


def pay(journal, counters, sid: str, *notes: int) -> None:
    journal.session_start(sid, ACCT, sum(notes))
    for seq, value in enumerate(notes, start=1):
        journal.escrow(sid, seq, value, "stack")
        journal.credit(sid, seq, "note", value)
        counters.stack(value)
    tally: dict[int, int] = {}
    for v in notes:
        tally[v] = tally.get(v, 0) + 1
    journal.commit_payment(sid, ACCT, tally, {}, sum(notes), offline=False)


def test_collection_with_variance_end_to_end(console, journal, counters, printer, clock,
                                             billing_server):
    pay(journal, counters, "S1", 10000, 5000)
    clock.advance(60)
    pay(journal, counters, "S2", 10000, 1000, 1000, 1000)
    # A note the validator stacked that no session credited (flagged, not journaled as credit).
    counters.stack(2000)
    op = console.login("op1", OP_PIN)
    assert console.awaiting_count(op) == []
    with pytest.raises(CollectionError, match="still open"):
        console.submit_count(op, "KIOSK-T1-COL-00001", {10000: 2})

    clock.advance(600)
    batch = console.cashbox_removed()  # the validator reported the stacker open
    assert batch is not None and batch.state == "CLOSED"
    op = console.login("op1", OP_PIN)  # the earlier session ended while idle
    # Blind: nothing expected is shown before the count.
    shown = json.dumps([b.as_dict() for b in console.awaiting_count(op)])
    shown += json.dumps(console.collections.batches())
    assert "expected" not in shown and "28000" not in shown and "30000" not in shown
    with pytest.raises(CollectionError, match="not counted"):
        console.collections.result(batch.batch_id)

    # The operator counted one ¥10 note short, and found the unjournaled ¥20 note.
    result, printed = console.submit_count(op, batch.batch_id,
                                           {10000: 2, 5000: 1, 1000: 2, 2000: 1})
    assert result.expected == {10000: 2, 5000: 1, 1000: 3}
    assert result.device == {10000: 2, 5000: 1, 1000: 3, 2000: 1}  # counters' change, not totals
    assert result.variance_minor == 29000 - 28000
    assert result.device_variance_minor == 29000 - 30000
    assert printed.ok
    receipt = "\n".join(printer.jobs[-1].lines)
    assert batch.batch_id in receipt and "¥10.00" in receipt and "-¥10.00" in receipt
    assert "op1" in receipt

    # Journaled, queued, audited.
    row = console.db.execute("SELECT value_minor, data FROM journal WHERE kind = 'collection'"
                             " AND session_id = ?", (batch.batch_id,)).fetchone()
    assert row[0] == 29000 and json.loads(row[1])["variance_minor"] == 1000
    assert [e.action for e in console.audit.entries(action=a.COLLECTION)] == [a.COLLECTION]
    assert console.audit.verify().ok

    # Delivered to the billing API exactly as the contract says, once.
    worker = sign_as_test_kiosk(SyncWorker(Outbox(console.db), billing_server.url,
                                           clock=clock.time))
    assert worker.run_once(ignore_backoff=True).delivered == 3  # two payments + the batch
    (col,) = billing_server.ledger.dump()["collections"]
    assert col["batch_id"] == batch.batch_id and col["variance_minor"] == 1000
    assert col["counted"] == {"1000": 2, "2000": 1, "5000": 1, "10000": 2}
    assert col["expected"] == {"1000": 3, "5000": 1, "10000": 2}

    with pytest.raises(CollectionError, match="counted already"):
        console.submit_count(op, batch.batch_id, {10000: 2})
    # The next batch is open; removing an empty box closes nothing.
    assert console.cashbox_removed() is None
    pay(journal, counters, "S3", 500 * 10)
    nxt = console.cashbox_removed()
    assert nxt is not None and nxt.batch_id.endswith("00002")


def test_receipt_not_printed_is_recorded_and_reprinted(console, journal, counters, printer):
    pay(journal, counters, "S1", 10000)
    batch = console.cashbox_removed()
    op = console.login("op1", OP_PIN)
    printer.fail = "paper out"
    result, printed = console.submit_count(op, batch.batch_id, {10000: 1})
    assert not printed.ok and "paper out" in printed.reason and result.variance_minor == 0
    printer.fail = None
    assert console.reprint_collection(op, batch.batch_id).ok
    assert len(printer.jobs) == 1
    assert console.audit.entries(action=a.REPRINT)[0].detail["batch_id"] == batch.batch_id


def test_without_device_counters_the_device_comparison_is_unavailable(console, journal, counters):
    console.collections.counters = None
    pay(journal, counters, "S1", 5000)
    batch = console.cashbox_removed()
    result, _ = console.submit_count(console.login("op1", OP_PIN), batch.batch_id, {5000: 1})
    assert result.device is None and result.device_variance_minor is None
    assert "n/a" in "\n".join(result.receipt_job("K").lines)


def test_counters_that_fail_to_read_do_not_stop_the_collection(console, journal, counters):
    pay(journal, counters, "S1", 5000)

    def broken():
        raise OSError("validator not answering")

    console.collections.counters = broken
    batch = console.cashbox_removed()
    assert batch is not None


@pytest.mark.parametrize("counted", [{300: 1}, {10000: -1}, {10000: True}, {"x": 1},
                                     {10000: 10**6}, {10000: 1.0}])
def test_bad_counts_are_refused(console, journal, counters, counted):
    pay(journal, counters, "S1", 10000)
    batch = console.cashbox_removed()
    with pytest.raises(CollectionError):
        console.submit_count(console.login("op1", OP_PIN), batch.batch_id, counted)
    assert console.collections.blind(batch.batch_id).state == "CLOSED"  # nothing recorded


def test_manual_close_by_operator_is_audited(console, journal, counters):
    pay(journal, counters, "S1", 1000)
    batch = console.close_batch(console.login("op1", OP_PIN))
    assert batch.state == "CLOSED"
    (entry,) = console.audit.entries(action=a.COLLECTION_CLOSED)
    assert entry.actor == "op1" and entry.detail["batch_id"] == batch.batch_id
