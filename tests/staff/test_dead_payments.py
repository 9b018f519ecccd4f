"""Dead payments resolved by people (docs/promises.md): re-addressed to a corrected account the
money reaches it once, through a new transaction naming the original, and the reference server
refuses to count it twice; a refund keeps the resident's phone, masked wherever it is shown; the
daily report lists both until settled."""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest

from billing_server.seed import DEMO_ACCOUNTS
from kiosk.config import Config, KioskSection
from kiosk.flow.account import make_account_number
from kiosk.staff.console import StaffConsole
from kiosk.staff.resolutions import ResolutionError
from offline_queue.journal import Journal
from offline_queue.outbox import Outbox
from offline_queue.schema import connect
from offline_queue.sync import SyncWorker
from tests.billing_server.conftest import sign_as_test_kiosk
from tests.staff.conftest import CHEAP

OP_PIN = "730164"
UNKNOWN = make_account_number("987650001")  # Luhn-valid, not an account of the utility
KNOWN = DEMO_ACCOUNTS[0].account_no


class Printer:
    def __init__(self) -> None:
        self.jobs = []

    def print_job(self, job) -> None:
        self.jobs.append(job)


@pytest.fixture
def books(tmp_path, billing_server):
    db = connect(tmp_path / "k.db")
    cfg = Config(kiosk=KioskSection(id="KIOSK-001", db=str(tmp_path / "k.db"),
                                    state_dir=str(tmp_path / "state")))
    journal = Journal(db, "KIOSK-001")
    console = StaffConsole(db, cfg, journal, params=CHEAP, printer=Printer())
    console.auth.add_user("op1", "operator", OP_PIN, "test")
    worker = sign_as_test_kiosk(SyncWorker(Outbox(db), billing_server.url))
    return db, journal, console, worker, billing_server


def states(db) -> dict[str, str]:
    return dict(db.execute("SELECT idem_key, state FROM outbox WHERE kind = 'payment'").fetchall())


def test_readdressed_payment_reaches_the_right_account_once(books):
    db, journal, console, worker, server = books
    journal.commit_payment("S1", UNKNOWN, {1000: 2}, {}, 2000, offline=True)
    worker.run_once(ignore_backoff=True)
    assert states(db) == {"S1": "DEAD"}  # 422: the utility has no such account

    session = console.login("op1", OP_PIN)
    done, printed = console.readdress_payment(session, "S1", KNOWN)
    assert done["new_txn_id"] == "S1.R1" and printed.ok
    assert KNOWN not in str(done) and UNKNOWN not in str(done)  # masked on the way out
    slip = "\n".join(console.printer.jobs[-1].lines)
    assert "S1.R1" in slip and KNOWN not in slip
    with pytest.raises(ResolutionError):
        console.readdress_payment(session, "S1", KNOWN)  # once per dead payment

    worker.run_once(ignore_backoff=True)
    assert states(db) == {"S1": "DEAD", "S1.R1": "DELIVERED"}
    booked = [(p["txn_id"], p["account_no"], p["amount_minor"], p["readdressed_from"])
              for p in server.ledger.payments()]
    assert booked == [("S1.R1", KNOWN, 2000, "S1")]

    # The original is never sent again by staff …
    assert console.requeue_dead() == 0 and console.requeue_dead("S1") == 0
    # … and if its bytes reached the server anyway, the money would not count twice.
    db.execute("UPDATE outbox SET state = 'PENDING' WHERE idem_key = 'S1'")
    worker.run_once(ignore_backoff=True)
    assert states(db)["S1"] == "DEAD"
    assert "already_counted" in db.execute(
        "SELECT response FROM outbox WHERE idem_key = 'S1'").fetchone()[0]
    assert len(server.ledger.payments()) == 1

    report, _ = console.daily_report(session, date.today().isoformat(), issue=False)
    assert {t["txn_id"]: t["state"] for t in report["transactions"]} == {
        "S1": "READDRESSED", "S1.R1": "DELIVERED"}
    assert (report["count"], report["total_minor"]) == (1, 2000)  # the money once
    assert [(r["txn_id"], r["new_txn_id"], r["settled"])
            for r in report["dead_payments"]["readdressed"]] == [("S1", "S1.R1", True)]
    assert report["dead_payments"]["dead"] == []
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY seq")]
    assert "payment_readdressed" in actions


def test_refund_pending_until_settled_phone_masked(books):
    db, journal, console, worker, _server = books
    journal.commit_payment("S2", UNKNOWN, {500: 1}, {}, 500, offline=True)
    worker.run_once(ignore_backoff=True)
    session = console.login("op1", OP_PIN)
    day = date.today().isoformat()
    report, _ = console.daily_report(session, day, issue=False)
    assert [d["txn_id"] for d in report["dead_payments"]["dead"]] == ["S2"]

    done, _ = console.refund_payment(session, "S2", "13800138000")
    assert done["phone"] == "138******00"
    report, _ = console.daily_report(session, day, issue=False)
    assert report["dead_payments"]["dead"] == []
    assert [(r["txn_id"], r["phone"]) for r in report["dead_payments"]["refund_pending"]] == [
        ("S2", "138******00")]
    logged = " ".join(r[0] for r in db.execute("SELECT detail FROM audit_log"))
    assert "13800138000" not in logged and "138******00" in logged
    assert console.requeue_dead() == 0  # a refund is not sent to the utility

    console.refunded(session, "S2")
    report, _ = console.daily_report(session, day, issue=False)
    assert report["dead_payments"]["refund_pending"] == []


def test_only_dead_payments_are_resolved(books):
    db, journal, console, worker, _server = books
    journal.commit_payment("S3", KNOWN, {1000: 1}, {}, 1000, offline=False)
    session = console.login("op1", OP_PIN)
    with pytest.raises(ResolutionError):
        console.readdress_payment(session, "S3", make_account_number("123456789"))
    with pytest.raises(ValueError):
        console.refund_payment(session, "S3", "not a phone")
    assert db.execute("SELECT count(*) FROM payment_resolutions").fetchone()[0] == 0
