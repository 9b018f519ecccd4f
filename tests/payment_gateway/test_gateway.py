"""The reference payment gateway over HTTP, through the kiosk's own client: charge, replay,
conflict, decline, confirmation on the phone, reversal, settlement, signatures, and the client's
refusal to believe an answer that does not echo its question."""

from __future__ import annotations

import json
from datetime import date

import pytest
import requests

from offline_queue.code_gateway import check_answer
from payment_gateway.faults import Fault, parse_fault
from tests.payment_gateway.conftest import CODE, MERCHANT, client_for

TODAY = date.today().isoformat()


def test_a_charge_is_paid_once_and_a_replay_is_the_same_charge(payment_gateway, gateway_client):
    first = gateway_client.charge("S1.C1", 12_345, CODE)
    again = gateway_client.charge("S1.C1", 12_345, CODE)
    assert first.status == "paid" and first.gateway_ref
    assert again == first  # the same transaction, not a second one
    assert payment_gateway.settlement(MERCHANT, TODAY) == (1, 12_345)


def test_the_same_order_id_for_another_amount_is_a_conflict(payment_gateway, gateway_client):
    gateway_client.charge("S1.C1", 5_000, CODE)
    other = gateway_client.charge("S1.C1", 6_000, CODE)
    assert other.status == "unknown" and other.reason == "http_409"
    assert payment_gateway.settlement(MERCHANT, TODAY) == (1, 5_000)


def test_a_declined_code_charges_nothing(payment_gateway, gateway_client):
    payment_gateway.set_fault("decline", count=1)
    declined = gateway_client.charge("S1.C1", 5_000, CODE)
    assert (declined.status, declined.reason) == ("failed", "declined")
    assert gateway_client.charge("S1.C2", 5_000, CODE).status == "paid"  # count=1 only
    assert payment_gateway.settlement(MERCHANT, TODAY) == (1, 5_000)


def test_user_paying_turns_paid_after_the_polls(payment_gateway, gateway_client):
    payment_gateway.set_fault("user_paying", polls=2)
    assert gateway_client.charge("S1.C1", 5_000, CODE).status == "user_paying"
    assert gateway_client.query("S1.C1", 5_000).status == "user_paying"
    paid = gateway_client.query("S1.C1", 5_000)
    assert paid.status == "paid" and paid.gateway_ref


def test_a_reversed_order_settles_nothing_and_a_late_charge_is_refused(payment_gateway,
                                                                      gateway_client):
    gateway_client.charge("S1.C1", 5_000, CODE)
    assert gateway_client.reverse("S1.C1", 5_000).status == "reversed"
    # never seen: closed now, so the charge still on its way is not taken
    assert gateway_client.reverse("S2.C1", 7_000).status == "reversed"
    late = gateway_client.charge("S2.C1", 7_000, CODE)
    assert (late.status, late.reason) == ("failed", "order_closed")
    assert payment_gateway.settlement(MERCHANT, TODAY) == (0, 0)


def test_a_timeout_after_charging_is_found_by_the_query(payment_gateway, gateway_client):
    payment_gateway.set_fault("timeout", count=1)
    lost = gateway_client.charge("S1.C1", 5_000, CODE)
    assert lost.status == "unknown"
    assert gateway_client.query("S1.C1", 5_000).status == "paid"
    assert gateway_client.query("S9.C1", 5_000).status == "not_found"


def test_a_duplicate_delivery_is_one_charge(payment_gateway, gateway_client):
    payment_gateway.set_fault("duplicate")
    for n in range(3):
        assert gateway_client.charge(f"S{n}.C1", 1_000, CODE).status == "paid"
    assert payment_gateway.settlement(MERCHANT, TODAY) == (3, 3_000)


def test_a_kiosk_sees_only_its_own_orders(payment_gateway, gateway_client, tmp_path):
    gateway_client.charge("S1.C1", 5_000, CODE)
    other = client_for(payment_gateway, tmp_path, "KIOSK-0002")
    assert other.query("S1.C1", 5_000).status == "not_found"
    assert other.reverse("S1.C1", 5_000).status == "unknown"  # 404: not its order
    assert payment_gateway.settlement(MERCHANT, TODAY) == (1, 5_000)


def test_unsigned_requests_are_refused(payment_gateway):
    body = {"merchant_id": MERCHANT, "kiosk_id": "KIOSK-0001", "order_id": "S1.C1",
            "amount_minor": 100, "currency": "CNY", "auth_code": CODE}
    resp = requests.post(payment_gateway.url + "/v1/charges", json=body, timeout=5)
    assert resp.status_code == 401 and resp.json()["error"] == "unsigned"
    resp = requests.put(payment_gateway.url + "/v1/charges", json=body, timeout=5)
    assert resp.status_code == 405 and resp.headers["Allow"] == "POST"


@pytest.mark.parametrize("answer", [
    {"order_id": "OTHER.C1", "amount_minor": 500, "currency": "CNY", "status": "paid",
     "transaction_id": "GW1"},
    {"order_id": "S1.C1", "amount_minor": 50_000, "currency": "CNY", "status": "paid",
     "transaction_id": "GW1"},
    {"order_id": "S1.C1", "amount_minor": 500.0, "currency": "CNY", "status": "paid",
     "transaction_id": "GW1"},
    {"order_id": "S1.C1", "amount_minor": 500, "currency": "CNY", "status": "paid"},
    {"order_id": "S1.C1", "amount_minor": 500, "currency": "CNY", "status": "settled"},
    {"order_id": "S1.C1", "amount_minor": 500, "currency": "USD", "status": "paid",
     "transaction_id": "GW1"},
])
def test_an_answer_that_does_not_echo_the_question_is_not_believed(answer):
    assert check_answer(json.dumps(answer).encode(), "S1.C1", 500).status == "unknown"


def test_an_answer_that_echoes_the_question_is_believed():
    raw = json.dumps({"order_id": "S1.C1", "amount_minor": 500, "currency": "CNY",
                      "status": "paid", "transaction_id": "GW1"}).encode()
    assert check_answer(raw, "S1.C1", 500).gateway_ref == "GW1"


def test_fault_modes_parse_and_refuse_nonsense():
    assert parse_fault("user_paying:3") == Fault("user_paying", polls=3)
    assert parse_fault("decline:2") == Fault("decline", count=2)
    for bad in ("explode", "decline:x", "user_paying:0"):
        with pytest.raises(ValueError):
            parse_fault(bad)
