"""Payments by the phone's payment code (tender code, docs/billing-api.yaml): accepted with the
gateway's transaction reference and no cash, refused otherwise; one gateway transaction pays
once; a v6 ledger holding payments migrates to v7."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from billing_server.ledger import SCHEMA_VERSION, Ledger
from tests.billing_server.conftest import post


def code_payment(payment_body, **kw):
    body = payment_body(tender="code", notes={}, gateway_ref="GW0123456789ABCDEF", **kw)
    body.pop("coins")
    return body


def test_a_code_payment_is_booked_with_its_gateway_reference(http, billing_server, payment_body):
    body = code_payment(payment_body)
    resp = post(http, billing_server, body)
    assert resp.status_code == 201, resp.text
    with closing(sqlite3.connect(billing_server.db_path)) as c:
        assert c.execute("SELECT p.tender, g.gateway_ref FROM payments p JOIN"
                         " payment_gateway_refs g USING (txn_id)").fetchall() == [
            ("code", "GW0123456789ABCDEF")]
    replay = post(http, billing_server, body)
    assert replay.status_code == 201 and replay.headers.get("Idempotent-Replayed") == "true"


def test_one_gateway_transaction_pays_once(http, billing_server, payment_body):
    assert post(http, billing_server, code_payment(payment_body)).status_code == 201
    again = post(http, billing_server, code_payment(payment_body, txn_id="T-0002"))
    assert again.status_code == 422 and again.json()["error"] == "already_counted"


@pytest.mark.parametrize("change", [
    {"notes": {"10000": 1}},  # cash inside a code payment
    {"gateway_ref": None},  # no gateway transaction
    {"gateway_ref": "not a ref!"},
    {"tender": "card"},
])
def test_a_code_payment_that_does_not_add_up_is_refused(http, billing_server, payment_body,
                                                        change):
    body = code_payment(payment_body)
    for key, value in change.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    assert post(http, billing_server, body).status_code == 400


def test_cash_naming_a_gateway_transaction_is_refused(http, billing_server, payment_body):
    body = payment_body(gateway_ref="GW1")
    assert post(http, billing_server, body).status_code == 400


def test_a_v7_ledger_with_payments_migrates_to_v8(tmp_path):
    path = tmp_path / "ledger.db"
    Ledger(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TABLE payment_gateway_refs")
    conn.execute("INSERT INTO accounts VALUES ('1234567897', 'a', 'b', 0, 0, 'now', 0)")
    conn.execute("INSERT INTO payments VALUES (1, 'PAY-1', 'K1', 'T1', '1234567897', 100, 'CNY',"
                 " 'cash', '{}', '{}', 'now', 'day', 0, 0, 100, 'R1', 'now')")
    conn.execute("PRAGMA user_version = 7")
    conn.close()
    ledger = Ledger(path)
    assert [p["txn_id"] for p in ledger.payments()] == ["T1"]
    ledger.close()
    with closing(sqlite3.connect(path)) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
        c.execute("INSERT INTO payment_gateway_refs VALUES ('T1', 'GW1')")
