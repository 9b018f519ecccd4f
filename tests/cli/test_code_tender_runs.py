"""``kiosk simulate --tender code|mixed --gateway URL``: residents pay by cash and by the phone's
payment code through the reference gateway. The billing server's settlement equals
``paid_minor`` (cash and code), the gateway's settled total equals ``paid_code_minor`` — also
with gateway faults, and after a crash at each point around a charge and a restart (which
resolves every order: recorded as a payment once, or reversed)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import date

import pytest

from offline_queue.crash import CODE_POINTS, CRASH_EXIT_CODE
from tests.billing_server.conftest import TEST_TOKEN
from tests.payment_gateway.conftest import MERCHANT, payment_gateway  # noqa: F401 - fixture


def simulate(run_kiosk, tmp_path, billing, gateway, sessions, tender, env=None, seed=1):
    return run_kiosk(
        "simulate", "--sessions", str(sessions), "--json", "--db", str(tmp_path / "kiosk.db"),
        "--state-dir", str(tmp_path / "devices"), "--api", billing.url, "--poll-ms", "20",
        "--enrol-token", TEST_TOKEN, "--tender", tender, "--gateway", gateway.url,
        "--merchant", MERCHANT, "--gateway-token", TEST_TOKEN, "--kiosk-id", "KIOSK-CODE",
        "--seed", str(seed), env=env, timeout=240)


def books(tmp_path, billing, gateway) -> dict[str, int]:
    """Every place the code tender's money is recorded, read after the fact."""
    with closing(sqlite3.connect(tmp_path / "kiosk.db")) as db:
        code, = db.execute("SELECT coalesce(sum(p.amount_minor), 0) FROM payments p"
                           " JOIN code_orders o ON o.txn_id = p.txn_id").fetchone()
        total, = db.execute("SELECT coalesce(sum(amount_minor), 0) FROM payments").fetchone()
        still_open, = db.execute("SELECT count(*) FROM code_orders WHERE state NOT IN"
                                 " ('recorded', 'failed', 'reversed')").fetchone()
        refs = {r for (r,) in db.execute("SELECT gateway_ref FROM code_orders"
                                         " WHERE state = 'recorded'")}
    ledger = billing.ledger.payments()
    with closing(sqlite3.connect(gateway.db_path)) as g:
        paid_refs = {r for (r,) in g.execute("SELECT transaction_id FROM orders"
                                             " WHERE status = 'paid'")}
    return {"journal_code": code, "journal_total": total, "open": still_open,
            "ledger_total": sum(p["amount_minor"] for p in ledger),
            "ledger_code": sum(p["amount_minor"] for p in ledger if p["tender"] == "code"),
            "gateway": gateway.settlement(MERCHANT, date.today().isoformat())[1],
            "refs_match": refs == paid_refs}


def assert_books_agree(b: dict[str, int]) -> None:
    assert b["open"] == 0, "an order left unresolved"
    assert b["refs_match"], "a gateway charge without a payment, or a payment without a charge"
    assert b["gateway"] == b["journal_code"] == b["ledger_code"]
    assert b["journal_total"] == b["ledger_total"]


@pytest.mark.parametrize("fault", [None, "decline:1", "user_paying:1", "timeout:1", "duplicate",
                                   "500:1"])
def test_mixed_tender_books_agree_with_gateway_faults(fault, run_kiosk, tmp_path, billing_server,
                                                      payment_gateway):
    if fault:
        mode, _, arg = fault.partition(":")
        kw = {"polls": int(arg)} if mode == "user_paying" else ({"count": int(arg)} if arg else {})
        payment_gateway.set_fault(mode, **kw)
    run = simulate(run_kiosk, tmp_path, billing_server, payment_gateway, 4, "mixed")
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    assert report["pending"] == 0 and report["paid"] >= 3
    b = books(tmp_path, billing_server, payment_gateway)
    assert_books_agree(b)
    assert report["paid_code_minor"] == b["gateway"] and report["paid_minor"] == b["ledger_total"]
    if fault in ("decline:1", "500:1"):
        assert report["code_failed"] == 1  # told, and paid cash instead
    else:
        assert report["paid_code_minor"] > 0


@pytest.mark.parametrize("point", sorted(CODE_POINTS))
def test_a_crash_around_a_charge_is_resolved_at_restart(point, run_kiosk, tmp_path,
                                                        billing_server, payment_gateway):
    crashed = simulate(run_kiosk, tmp_path, billing_server, payment_gateway, 2, "code",
                       env={"KIOSK_CRASH_AT": point})
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr[-3000:]
    with closing(sqlite3.connect(tmp_path / "kiosk.db")) as db:
        left = db.execute("SELECT count(*) FROM code_orders WHERE state != 'recorded'"
                          ).fetchone()[0]
    assert left == 1, "the crash left no open order to resolve"
    recovered = simulate(run_kiosk, tmp_path, billing_server, payment_gateway, 1, "code",
                         seed=2)
    assert recovered.returncode == 0, recovered.stderr[-3000:]
    b = books(tmp_path, billing_server, payment_gateway)
    assert_books_agree(b)
    assert b["journal_code"] > 0


def test_a_charge_never_confirmed_is_reversed_at_restart(run_kiosk, tmp_path, billing_server,
                                                         payment_gateway):
    payment_gateway.set_fault("user_paying", polls=50)  # the resident walked away
    crashed = simulate(run_kiosk, tmp_path, billing_server, payment_gateway, 1, "code",
                       env={"KIOSK_CRASH_AT": "after_charge_sent"})
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr[-3000:]
    payment_gateway.set_fault("none")
    recovered = simulate(run_kiosk, tmp_path, billing_server, payment_gateway, 0, "code")
    assert recovered.returncode == 0, recovered.stderr[-3000:]
    b = books(tmp_path, billing_server, payment_gateway)
    assert_books_agree(b)
    assert b["gateway"] == b["journal_code"] == 0
    with closing(sqlite3.connect(payment_gateway.db_path)) as g:
        assert g.execute("SELECT status FROM orders").fetchall() == [("reversed",)]


@pytest.mark.slow
def test_fifty_sessions_half_by_code(run_kiosk, tmp_path, billing_server, payment_gateway):
    run = simulate(run_kiosk, tmp_path, billing_server, payment_gateway, 50, "mixed")
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    b = books(tmp_path, billing_server, payment_gateway)
    assert_books_agree(b)
    assert report["paid_minor"] == b["ledger_total"] and report["paid_code_minor"] == b["gateway"]
    assert 0 < report["paid_code_minor"] < report["paid_minor"]


def test_a_code_tender_without_a_gateway_is_one_line_and_exit_2(run_kiosk, tmp_path):
    run = run_kiosk("simulate", "--sessions", "1", "--tender", "code", "--db",
                    str(tmp_path / "k.db"))
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "--tender code" in run.stderr
