"""The two outbox kinds beyond payments (offline_queue/gateway.py SERVICE_REQUEST, EBILL): where
each is delivered, and that only an answer echoing its key and kind (or account) counts."""

from __future__ import annotations

import json

import pytest

from offline_queue.answers import check_history, unproven
from offline_queue.errors import PermanentError
from offline_queue.gateway import EBILL, SERVICE_REQUEST, canonical_json
from offline_queue.http_gateway import delivery_path

REQUEST = {"kiosk_id": "K1", "request_id": "fault-S1", "kind": "fault", "category": "meter",
           "account_no": "3101000010", "reasons": [], "callback_phone": "13800138000",
           "created_at": "2026-11-20T10:00:00+08:00"}
EBILL_BODY = {"kiosk_id": "K1", "request_id": "ebill-S2", "account_no": "3101000010",
              "phone": "13800138000", "sms_bill": True, "reminder": False,
              "created_at": "2026-11-20T10:00:00+08:00"}


def test_paths():
    assert delivery_path(SERVICE_REQUEST, canonical_json(REQUEST)) == "/v1/service-requests"
    assert delivery_path(EBILL, canonical_json(EBILL_BODY)) == "/v1/accounts/3101000010/e-bill"
    with pytest.raises(PermanentError):
        delivery_path(EBILL, canonical_json({**EBILL_BODY, "account_no": "../x"}))


@pytest.mark.parametrize("answer, proof", [
    ({"request_id": "fault-S1", "kind": "fault", "reference_no": "SR1", "accepted_at": "z"}, True),
    ({"request_id": "fault-S1", "kind": "outage", "reference_no": "SR1"}, False),
    ({"request_id": "fault-S9", "kind": "fault", "reference_no": "SR1"}, False),
    ({"request_id": "fault-S1", "kind": "fault", "reference_no": ""}, False),
    ({"ok": True}, False),
])
def test_a_service_request_counts_only_with_its_echo(answer, proof):
    why = unproven(SERVICE_REQUEST, canonical_json(REQUEST), json.dumps(answer))
    assert (why is None) is proof, why


def test_an_ebill_answer_echoes_what_was_signed_up_for():
    ok = {"request_id": "ebill-S2", "account_no": "3101000010", "reference_no": "EB1",
          "sms_bill": True, "reminder": False}
    assert unproven(EBILL, canonical_json(EBILL_BODY), json.dumps(ok)) is None
    assert unproven(EBILL, canonical_json(EBILL_BODY), json.dumps({**ok, "reminder": True}))


def test_history_money_and_kwh_are_integers():
    good = {"account_no": "3101000010", "payments": [],
            "months": [{"period": "2026-10", "kwh": 210, "billed_minor": 11760,
                        "paid_minor": 11760, "channel": "kiosk"}]}
    assert check_history(good, "3101000010") is None
    assert check_history(good, "3101000028") == "history answer is about another account"
    good["months"][0]["kwh"] = 210.5
    assert "kwh" in check_history(good, "3101000010")
