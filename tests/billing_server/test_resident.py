"""The reference server's history, service requests and e-bill sign-ups (billing_server/resident.py):
the ledger's v7 step over a v6 ledger holding data, seeded history, exactly-once recording."""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest

from billing_server import resident
from billing_server.contract import BadRequest
from billing_server.ledger import SCHEMA_VERSION, Ledger
from billing_server.seed import DEMO_ACCOUNTS, DEMO_CARDS, DEMO_NOTICES
from tests.billing_server.conftest import D1

ACCT = DEMO_ACCOUNTS[0].account_no


def _request(**kw):
    return {"kiosk_id": "K1", "request_id": "SR-1", "kind": "outage", "category": "street",
            "account_no": ACCT, "reasons": [], "callback_phone": "13812341234",
            "created_at": f"{D1}T09:00:00+08:00", **kw}


def test_a_v6_ledger_with_data_migrates_to_v7(tmp_path):
    path = tmp_path / "ledger.db"
    led = Ledger(path)
    led.seed(DEMO_ACCOUNTS, dict(DEMO_CARDS), DEMO_NOTICES)
    led.close()
    conn = sqlite3.connect(path, isolation_level=None)
    for table in ("usage_history", "service_requests", "ebill_signups", "payment_gateway_refs"):
        conn.execute(f"DROP TABLE {table}")
    conn.execute("INSERT INTO payments VALUES (1, 'PAY-1', 'K1', 'T1', ?, 100, 'CNY', 'cash',"
                 " '{}', '{}', 'now', 'day', 0, 0, 100, 'R1', 'now')", (ACCT,))
    conn.execute("PRAGMA user_version = 6")
    conn.close()
    led = Ledger(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
    assert [p["txn_id"] for p in led.payments()] == ["T1"]
    assert resident.history(led, ACCT)["months"] == []  # not seeded yet: the step adds tables only
    led.seed(DEMO_ACCOUNTS, dict(DEMO_CARDS), DEMO_NOTICES)
    h = resident.history(led, ACCT)
    assert len(h["months"]) == 12
    assert h["payments"][0] == {"paid_at": "now", "amount_minor": 100, "channel": "kiosk"}
    led.close()


def test_history_is_twelve_closed_months_newest_first_in_integers(tmp_path):
    led = Ledger(tmp_path / "l.db")
    led.seed(DEMO_ACCOUNTS, dict(DEMO_CARDS), DEMO_NOTICES)
    months = resident.history(led, ACCT)["months"]
    periods = [m["period"] for m in months]
    assert periods == sorted(periods, reverse=True) and len(set(periods)) == 12
    today = date.today()
    assert periods[0] < f"{today.year:04d}-{today.month:02d}"
    assert all(type(m[k]) is int for m in months for k in ("kwh", "billed_minor", "paid_minor"))
    assert resident.history(led, "9999000019") is None
    led.close()


def test_a_service_request_is_recorded_once(tmp_path):
    led = Ledger(tmp_path / "l.db")
    led.seed(DEMO_ACCOUNTS, dict(DEMO_CARDS), DEMO_NOTICES)
    req = resident.parse_service_request(_request())
    first = resident.record_service_request(led, req)
    again = resident.record_service_request(led, req)
    assert again.body == first.body and again.replayed
    assert len(resident.dump(led)["service_requests"]) == 1
    led.close()


@pytest.mark.parametrize("change", [
    {"category": "billing"},  # another kind's
    {"callback_phone": "12812341234"},
    {"reasons": ["since_today", "since_today"]},
    {"reasons": ["free text"]},
    {"kind": "praise"},
    {"kind": {}},  # unhashable: a 400, not a 500
    {"reasons": [{}]},
])
def test_service_request_refusals(change):
    with pytest.raises(BadRequest):
        resident.parse_service_request(_request(**change))


def test_an_outage_needs_a_callback_phone_a_suggestion_does_not():
    body = _request()
    del body["callback_phone"]
    with pytest.raises(BadRequest, match="callback_phone"):
        resident.parse_service_request(body)
    resident.parse_service_request({**body, "kind": "suggestion", "category": "hours"})
