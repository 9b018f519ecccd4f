"""The shell around the pure flow: answers belong to their session, a connection belongs to its
thread, a journal that cannot write locks the terminal, a stale timer means nothing, and the
balance shown while payments are still queued is net of them."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from billing_server.seed import DEMO_ACCOUNTS
from kiosk.flow import events as e
from kiosk.flow.session import JOURNAL_FAULT, Phase
from kiosk.services.events_bridge import ThreadTimers
from tests.services.test_terminal import ACC, insert, terminal, to_inserting  # noqa: F401
from tests.billing_server.conftest import billing_server  # noqa: F401

A, B = DEMO_ACCOUNTS[1], DEMO_ACCOUNTS[2]


def test_a_slow_answer_for_the_last_resident_never_reaches_the_next(terminal, billing_server,
                                                                    caplog):
    caplog.set_level("INFO", logger="kiosk.services.runner")
    # both lookups are slow; A's, asked first, comes back while B's is still out
    billing_server.set_fault("delay", seconds=1.5, count=2, paths="/v1/accounts/")
    terminal.runner.enter_account(A.account_no)  # resident A, on a slow network…
    assert terminal.pump(lambda s: s.phase == Phase.IDENTIFYING, 5)
    terminal.events.post(e.CancelPressed())  # …gives up
    assert terminal.pump(lambda s: s.phase == Phase.IDLE, 5)
    terminal.runner.enter_account(B.account_no)  # resident B
    assert terminal.pump(lambda s: s.phase == Phase.ACCOUNT, 10)
    assert terminal.pump(lambda s: "dropped a lookup answer" in caplog.text, 10)
    terminal.pump(timeout=0.2)
    s = terminal.runner.session
    assert s.phase == Phase.ACCOUNT and s.account.account_no == B.account_no


def test_a_connection_serves_only_the_thread_that_opened_it(terminal):
    errors: list[BaseException] = []

    def use() -> None:
        try:
            terminal.db.execute("SELECT count(*) FROM journal").fetchone()
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=use)
    t.start()
    t.join(10)
    assert len(errors) == 1 and isinstance(errors[0], sqlite3.ProgrammingError)


def fill_until_full(db) -> None:
    """A real SQLITE_FULL without root: cap the file at its size, then fill what space is left
    with rows of shrinking size, so the next journal row needs a page it cannot have."""
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    fillers = ("INSERT INTO cache (kind, key, value, fetched_at) VALUES"
               " ('filler', lower(hex(randomblob(8))), ?, '')",
               # the journal's own pages too (no session: reconciliation ignores these rows)
               "INSERT INTO journal (session_id, kind, data, at) VALUES ('-', 'filler', ?, '')")
    for sql in fillers:
        for size in (2000, 200, 20, 1):
            while True:
                try:
                    db.execute(sql, ("x" * size,))
                except sqlite3.OperationalError as exc:
                    assert "full" in str(exc)
                    break


def test_a_full_disk_locks_the_terminal_and_shows_nothing_unrecorded(terminal, billing_server):
    to_inserting(terminal)
    fill_until_full(terminal.db)
    validator = terminal.hub.get("bill-validator")
    assert terminal.pump(lambda s: validator.ready_for_note, 5)
    validator.insert_note(10_000)
    assert terminal.pump(lambda s: s.phase == Phase.OUT_OF_SERVICE, 10)
    s = terminal.runner.session
    assert JOURNAL_FAULT in s.faults and s.message == "journal_failed"
    assert s.credited_minor == 0 and s.receipt_no == ""
    # the escrow decision was not recorded, so the note was never stacked: it came back
    assert terminal.pump(lambda s: validator.counters()["returned"] == 1, 10)
    assert validator.counters()["stacked"] == {}
    assert terminal.journal.payments() == []
    # and nothing new starts until staff have looked
    terminal.runner.enter_account(B.account_no)
    terminal.pump(timeout=0.5)
    assert terminal.runner.session.phase == Phase.OUT_OF_SERVICE


def test_a_stale_timer_expiry_is_refused():
    posted: list = []
    timers = ThreadTimers(posted.append)
    timers.start("idle", 0.01)
    assert _wait(lambda: posted)
    (first,) = posted
    timers.start("idle", 60)  # restarted after it fired, before the deciding thread saw it
    assert timers.claim(first.name, first.token) is False
    timers.cancel_all()


def test_a_current_timer_expiry_is_claimed_once():
    posted: list = []
    timers = ThreadTimers(posted.append)
    timers.start("insert", 0.01)
    assert _wait(lambda: posted)
    assert timers.claim("insert", posted[0].token) is True
    assert timers.claim("insert", posted[0].token) is False


def _wait(predicate, timeout: float = 10.0) -> bool:
    done = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return True
        done.wait(0.01)
    return bool(predicate())


@pytest.mark.parametrize("offline", [False, True], ids=["online", "offline"])
def test_the_balance_shown_is_net_of_payments_still_queued(terminal, billing_server, offline):
    billing_server.set_fault("500")  # payments stay queued on this terminal
    to_inserting(terminal)
    insert(terminal, 10_000)
    insert(terminal, 5_000)
    terminal.events.post(e.FinishPressed())
    assert terminal.pump(lambda s: s.phase == Phase.RECEIPT, 10)
    terminal.events.post(e.CancelPressed())
    terminal.events.post(e.ContinuePressed())
    assert terminal.pump(lambda s: s.phase == Phase.RATING, 10)
    terminal.events.post(e.Rated(None))
    assert terminal.pump(lambda s: s.phase == Phase.IDLE, 10)
    if offline:
        billing_server.set_fault("reset", paths="/v1/accounts")
    terminal.runner.enter_account(ACC.account_no)
    assert terminal.pump(lambda s: s.phase == Phase.ACCOUNT, 10)
    account = terminal.runner.session.account
    assert account.from_cache is offline
    paid = 15_000
    assert account.arrears_minor == max(0, ACC.arrears_minor - paid)
    assert account.balance_minor == ACC.balance_minor + max(0, paid - ACC.arrears_minor)
    assert account.netted_minor == paid


def test_money_is_written_durably_and_only_delivery_marks_are_not(terminal):
    """The deciding thread's connection (journal, payments, outbox rows) syncs every commit
    (synchronous=FULL = 2); a delivery-bookkeeping connection, as the sync worker opens it and
    whose marks a replay restores, does not (NORMAL = 1)."""
    from offline_queue.schema import connect

    assert terminal.db.execute("PRAGMA synchronous").fetchone()[0] == 2
    delivery = connect(terminal.config.kiosk.db, durable=False)
    try:
        assert delivery.execute("PRAGMA synchronous").fetchone()[0] == 1
    finally:
        delivery.conn.close()
    assert terminal.sync_worker.outbox.db is not terminal.db
