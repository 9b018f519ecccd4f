"""The reference billing server over loopback HTTP: endpoints, validation, idempotency."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone

import pytest
import requests

from billing_server import server as bs
from billing_server.seed import DEMO_ACCOUNTS, DEMO_CARDS, UNSEEDED_ACCOUNT, UNSEEDED_CARD
from kiosk.flow.account import check_account_number
from tests.billing_server.conftest import (D1, D2, account_state, ledger_rows, post,
                                           signed_headers, signed_session)
from tests.billing_server.openapi_check import validate_response

ACCT = DEMO_ACCOUNTS[0]  # arrears 12_850, balance 0


# ---- seed data -------------------------------------------------------------------------------

def test_seed_constants_are_consistent():
    assert len(DEMO_ACCOUNTS) >= 8 and len(DEMO_CARDS) >= 6
    numbers = [a.account_no for a in DEMO_ACCOUNTS]
    assert len(set(numbers)) == len(numbers)
    assert all(check_account_number(n) == n for n in numbers + [UNSEEDED_ACCOUNT])
    assert UNSEEDED_ACCOUNT not in numbers and UNSEEDED_CARD not in DEMO_CARDS
    assert {a.arrears_minor == 0 for a in DEMO_ACCOUNTS} == {True, False}
    assert any(a.balance_minor > 0 for a in DEMO_ACCOUNTS)
    assert all("*" in a.holder_masked for a in DEMO_ACCOUNTS)
    assert all(len(uid) == 10 and uid == uid.upper() and int(uid, 16) >= 0 for uid in DEMO_CARDS)
    assert set(DEMO_CARDS.values()) <= set(numbers)


# ---- reads -----------------------------------------------------------------------------------

def test_account_lookup(billing_server, http):
    r = http.get(f"{billing_server.url}/v1/accounts/{ACCT.account_no}")
    assert r.status_code == 200
    body = r.json()
    validate_response("GET", "/v1/accounts/{account_no}", 200, body)
    assert body["holder_masked"] == ACCT.holder_masked
    assert body["arrears_minor"] == ACCT.arrears_minor
    assert body["balance_minor"] == ACCT.balance_minor
    assert body["currency"] == "CNY" and body["as_of"].endswith("Z")


@pytest.mark.parametrize("bad", ["3101000011", "310100001", "31010000100", "31O1000010", "abc"])
def test_account_malformed(billing_server, http, bad):
    r = http.get(f"{billing_server.url}/v1/accounts/{bad}")
    assert r.status_code == 400 and r.json()["error"] == "malformed_account"


def test_account_unknown(billing_server, http):
    r = http.get(f"{billing_server.url}/v1/accounts/{UNSEEDED_ACCOUNT}")
    assert r.status_code == 404 and r.json()["error"] == "unknown_account"


def test_card_lookup_is_case_insensitive(billing_server, http):
    uid, account_no = next(iter(DEMO_CARDS.items()))
    for asked in (uid, uid.lower()):
        r = http.get(f"{billing_server.url}/v1/cards/{asked}")
        assert r.status_code == 200
        assert r.json() == {"card_uid": uid, "account_no": account_no}


@pytest.mark.parametrize("bad,status,code", [
    ("0A1B2C3D4", 400, "malformed_card"), ("0A1B2C3D4EF", 400, "malformed_card"),
    ("0A1B2C3D4G", 400, "malformed_card"), (UNSEEDED_CARD, 404, "unknown_card"),
])
def test_card_errors(billing_server, http, bad, status, code):
    r = http.get(f"{billing_server.url}/v1/cards/{bad}")
    assert (r.status_code, r.json()["error"]) == (status, code)


def test_notices_both_languages(billing_server, http):
    zh = http.get(f"{billing_server.url}/v1/notices?lang=zh").json()["notices"]
    en = http.get(f"{billing_server.url}/v1/notices?lang=en").json()["notices"]
    default = http.get(f"{billing_server.url}/v1/notices").json()["notices"]
    assert default == zh
    assert [n["id"] for n in zh] == [n["id"] for n in en]
    assert {n["kind"] for n in zh} == {"outage", "tip", "tariff"}
    assert any("电" in n["title"] for n in zh) and all(n["title"].isascii() for n in en)
    r = http.get(f"{billing_server.url}/v1/notices?lang=fr")
    assert r.status_code == 400


def test_health_reports_server_time(billing_server, http):
    body = http.get(f"{billing_server.url}/v1/health").json()
    assert body["ok"] is True
    skew = datetime.now(timezone.utc) - datetime.fromisoformat(body["server_time"])
    assert abs(skew.total_seconds()) < 5


@pytest.mark.parametrize("query", ["?lang=", "?lang=zh&lang=en", "?lang=ZH"])
def test_notices_lang_must_be_one_known_language(billing_server, http, query):
    r = http.get(f"{billing_server.url}/v1/notices{query}")
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_created_at_may_be_slightly_ahead_but_not_more(tmp_path, payment_body):
    from billing_server.routes import BillingApi
    from billing_server.faults import FaultSwitch
    from billing_server.ledger import Ledger
    from billing_server.seed import DEMO_ACCOUNTS as ACCOUNTS
    from billing_server.seed import DEMO_CARDS, DEMO_NOTICES

    ledger = Ledger(tmp_path / "l.db")
    ledger.seed(ACCOUNTS, dict(DEMO_CARDS), DEMO_NOTICES)
    now = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
    api = BillingApi(ledger, FaultSwitch(), now=lambda: now)
    cases = [("2026-06-01T12:09:00Z", 201), ("2026-06-01T20:09:59+08:00", 201),
             ("2026-06-01T12:11:00Z", 400), ("2025-04-28T12:00:00Z", 201),
             ("2025-04-26T12:00:00Z", 400)]
    for i, (created_at, status) in enumerate(cases):
        body = payment_body(txn_id=f"T-{i}", created_at=created_at)
        raw = json.dumps(body).encode()
        headers = signed_headers(api, "POST", "/v1/payments", raw, {"Idempotency-Key": f"T-{i}"})
        resp, _ = api.handle("POST", "/v1/payments", "", headers, raw, "127.0.0.1")
        assert resp.status == status, (created_at, resp.body)
    ledger.close()


def test_unknown_path_and_method(billing_server, http):
    r = http.get(f"{billing_server.url}/v1/nothing")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = http.get(f"{billing_server.url}/v1/payments")
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
    r = http.delete(f"{billing_server.url}/v1/accounts/{ACCT.account_no}")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"


# ---- payments --------------------------------------------------------------------------------

def test_payment_pays_arrears_then_prepaid(billing_server, http, payment_body):
    r = post(http, billing_server, payment_body())
    assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    body = r.json()
    assert body["amount_minor"] == 15_150
    assert body["arrears_minor"] == 0
    assert body["balance_minor"] == 15_150 - ACCT.arrears_minor  # surplus kept, no change given
    assert account_state(billing_server, ACCT.account_no) == (0, 15_150 - ACCT.arrears_minor)
    # A partial payment only reduces arrears.
    big = DEMO_ACCOUNTS[4]
    r = post(http, billing_server, payment_body(txn_id="T-2", account_no=big.account_no,
                                                amount_minor=10_000, notes={"10000": 1}, coins={}))
    assert (r.json()["arrears_minor"], r.json()["balance_minor"]) == (big.arrears_minor - 10_000, 0)


def test_payment_without_coins_and_existing_prepaid(billing_server, http, payment_body):
    acct = DEMO_ACCOUNTS[3]  # no arrears, ¥50 prepaid
    body = payment_body(account_no=acct.account_no, amount_minor=2_000, notes={"2000": 1})
    del body["coins"]
    r = post(http, billing_server, body)
    assert r.status_code == 201
    assert (r.json()["arrears_minor"], r.json()["balance_minor"]) == (0, acct.balance_minor + 2_000)


def test_replay_returns_the_original_bytes(billing_server, http, payment_body):
    raw = json.dumps(payment_body()).encode()
    first = post(http, billing_server, None, key="T-0001", raw=raw)
    second = post(http, billing_server, None, key="T-0001", raw=raw)
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len(ledger_rows(billing_server)) == 1
    assert account_state(billing_server, ACCT.account_no)[1] == 15_150 - ACCT.arrears_minor


def test_replay_with_reordered_keys_is_the_same_request(billing_server, http, payment_body):
    body = payment_body()
    post(http, billing_server, body)
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2).encode()
    r = post(http, billing_server, None, key="T-0001", raw=reordered)
    assert r.status_code == 201 and r.headers.get("Idempotent-Replayed") == "true"


def test_same_key_different_body_conflicts(billing_server, http, payment_body):
    first = post(http, billing_server, payment_body())
    r = post(http, billing_server, payment_body(amount_minor=15_100, coins={"100": 1}))
    assert r.status_code == 409 and r.json()["error"] == "idempotency_conflict"
    validate_response("POST", "/v1/payments", 409, r.json())
    assert len(ledger_rows(billing_server)) == 1
    again = post(http, billing_server, payment_body())  # the original is still answered
    assert again.content == first.content


def test_a_txn_is_booked_once_under_any_kiosk_id(billing_server, http, payment_body):
    a = post(http, billing_server, payment_body())
    b = post(http, billing_server, payment_body(kiosk_id="KIOSK-002"))
    assert a.status_code == 201
    assert b.status_code == 409 and b.json()["error"] == "idempotency_conflict"
    assert ledger_rows(billing_server) == [("KIOSK-001", "T-0001", 15_150)]
    for path, body in (("/v1/kiosks/K2/collections", collection(kiosk_id="K2")),
                       ("/v1/feedback", feedback(kiosk_id="K2"))):
        post(http, billing_server, {**body, "kiosk_id": "K1"},
             path=path.replace("K2", "K1")).raise_for_status()
        assert post(http, billing_server, body, path=path).status_code == 409


def test_concurrent_same_key_makes_one_payment(billing_server, payment_body):
    raw = json.dumps(payment_body()).encode()
    barrier = threading.Barrier(8)
    results: list[requests.Response] = []
    lock = threading.Lock()

    def worker():
        with signed_session() as s:
            barrier.wait(5)
            r = post(s, billing_server, None, key="T-0001", raw=raw)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(results) == 8
    assert {r.status_code for r in results} == {201}
    assert len({r.content for r in results}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in results) == 7
    assert len(ledger_rows(billing_server)) == 1
    assert account_state(billing_server, ACCT.account_no) == (0, 15_150 - ACCT.arrears_minor)


def test_concurrent_distinct_payments_all_count(billing_server, payment_body):
    def worker(i):
        with signed_session() as s:
            body = payment_body(txn_id=f"T-{i}", amount_minor=1_000, notes={"1000": 1}, coins={})
            assert post(s, billing_server, body).status_code == 201

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(ledger_rows(billing_server)) == 8
    assert account_state(billing_server, ACCT.account_no) == (ACCT.arrears_minor - 8_000, 0)


BAD_PAYMENTS = [
    ("a 250 fen note", {"amount_minor": 250, "notes": {"250": 1}, "coins": {}}),
    ("a 1 fen note", {"amount_minor": 100, "notes": {"1": 100}, "coins": {}}),
    ("a 10000 fen coin", {"amount_minor": 10_000, "notes": {}, "coins": {"10000": 1}}),
    ("a 20 fen coin", {"amount_minor": 20, "notes": {}, "coins": {"20": 1}}),
    ("created_at in 1999", {"created_at": "1999-12-31T23:59:59+08:00"}),
    ("created_at next year", {"created_at": f"{int(D1[:4]) + 1}{D1[4:]}T09:30:00+08:00"}),
    ("float amount", {"amount_minor": 15150.0}),
    ("bool amount", {"amount_minor": True, "notes": {"1": 1}, "coins": {}}),
    ("string amount", {"amount_minor": "15150"}),
    ("negative amount", {"amount_minor": -100, "notes": {}, "coins": {}}),
    ("zero amount", {"amount_minor": 0, "notes": {}, "coins": {}}),
    ("notes do not add up", {"notes": {"10000": 1, "5000": 2}}),
    ("float count", {"notes": {"10000": 1.0, "5000": 1}}),
    ("negative count", {"notes": {"10000": 2, "5000": -1}}),
    ("leading-zero denomination", {"notes": {"010000": 1, "5000": 1}}),
    ("currency", {"currency": "USD"}),
    ("tender", {"tender": "card"}),
    ("created_at without offset", {"created_at": f"{D1}T09:30:00"}),
    ("created_at not a date", {"created_at": "2025-02-30T09:30:00+08:00"}),
    ("offline not bool", {"offline": "false"}),
    ("unknown field", {"change_minor": 0}),
    ("kiosk_id empty", {"kiosk_id": ""}),
    ("account_no int", {"account_no": 3101000010}),
]


@pytest.mark.parametrize("label,override", BAD_PAYMENTS, ids=[b[0] for b in BAD_PAYMENTS])
def test_bad_payments_are_refused_and_not_recorded(billing_server, http, payment_body, label,
                                                   override):
    r = post(http, billing_server, payment_body(**override), key="T-0001")
    assert r.status_code == 400, r.text
    assert r.json()["error"] in ("invalid_request", "malformed_account")
    validate_response("POST", "/v1/payments", 400, r.json())
    assert ledger_rows(billing_server) == []


@pytest.mark.parametrize("field", ["kiosk_id", "txn_id", "account_no", "amount_minor", "currency",
                                   "tender", "notes", "created_at", "offline"])
def test_missing_field(billing_server, http, payment_body, field):
    body = payment_body()
    del body[field]
    r = post(http, billing_server, body, key="T-0001")
    assert r.status_code == 400 and field in r.json()["message"]
    assert ledger_rows(billing_server) == []


@pytest.mark.parametrize("raw", [b"{", b"", b"\xff\xfe", b'{"a": NaN}', b'{"a":1,"a":2}',
                                 b"[1,2]", b"null"])
def test_not_json_or_not_an_object(billing_server, http, raw):
    r = post(http, billing_server, None, key="T-0001", raw=raw)
    assert r.status_code == 400
    assert r.json()["error"] in ("invalid_json", "invalid_request")


def test_idempotency_key_required_and_must_match(billing_server, http, payment_body):
    r = post(http, billing_server, payment_body(), key=None)
    assert (r.status_code, r.json()["error"]) == (400, "missing_idempotency_key")
    r = post(http, billing_server, payment_body(), key="T-9999")
    assert (r.status_code, r.json()["error"]) == (400, "idempotency_key_mismatch")
    assert ledger_rows(billing_server) == []


def test_malformed_and_unknown_account_in_payment(billing_server, http, payment_body):
    r = post(http, billing_server, payment_body(account_no="3101000011"))
    assert (r.status_code, r.json()["error"]) == (400, "malformed_account")
    r = post(http, billing_server, payment_body(account_no="3101 000010"))
    assert (r.status_code, r.json()["error"]) == (400, "malformed_account")
    r = post(http, billing_server, payment_body(account_no=UNSEEDED_ACCOUNT))
    assert (r.status_code, r.json()["error"]) == (422, "unknown_account")
    validate_response("POST", "/v1/payments", 422, r.json())
    assert ledger_rows(billing_server) == []


def test_oversized_or_chunked_body(billing_server, http, payment_body):
    r = post(http, billing_server, None, key="T-1", raw=b" " * (bs.MAX_BODY + 1))
    assert r.status_code == 413
    chunks = iter([json.dumps(payment_body()).encode()])  # a generator makes requests chunk it
    r = http.post(billing_server.url + "/v1/payments", data=chunks,
                  headers={"Idempotency-Key": "T-0001"}, timeout=5)
    assert (r.status_code, r.json()["error"]) == (411, "length_required")
    assert ledger_rows(billing_server) == []
    assert http.get(billing_server.url + "/v1/health", timeout=5).status_code == 200


# ---- settlement ------------------------------------------------------------------------------

def test_settlement_totals_by_kiosk_local_date(billing_server, http, payment_body):
    def pay(txn, kiosk, amount, created_at):
        body = payment_body(txn_id=txn, kiosk_id=kiosk, amount_minor=amount,
                            notes={"100": amount // 100}, coins={}, created_at=created_at)
        assert post(http, billing_server, body).status_code == 201

    pay("A", "K1", 1_000, f"{D1}T08:00:00+08:00")
    pay("B", "K1", 2_000, f"{D1}T23:59:59+08:00")
    pay("C", "K1", 5_000, f"{D2}T00:30:00+08:00")  # UTC is still 1 March: kiosk date counts
    pay("D", "K2", 7_000, f"{D1}T10:00:00+08:00")
    r = http.get(f"{billing_server.url}/v1/kiosks/K1/settlement", params={"date": f"{D1}"})
    body = r.json()
    validate_response("GET", "/v1/kiosks/{kiosk_id}/settlement", 200, body)
    assert (body["count"], body["total_minor"]) == (2, 3_000)
    assert [p["txn_id"] for p in body["payments"]] == ["A", "B"]
    assert body["payment_ids"] == [p["payment_id"] for p in body["payments"]]
    nxt = http.get(f"{billing_server.url}/v1/kiosks/K1/settlement?date={D2}").json()
    assert (nxt["count"], nxt["total_minor"]) == (1, 5_000)
    empty = http.get(f"{billing_server.url}/v1/kiosks/K9/settlement?date={D1}").json()
    assert (empty["count"], empty["total_minor"], empty["payments"]) == (0, 0, [])


@pytest.mark.parametrize("query", ["", "?date=", "?date=2025-02-30", "?date=20250301",
                                   "?date=2025-3-1"])
def test_settlement_bad_date(billing_server, http, query):
    r = http.get(f"{billing_server.url}/v1/kiosks/K1/settlement{query}")
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


# ---- heartbeat, collections, feedback --------------------------------------------------------

def heartbeat(kiosk="K1", **over):
    body = {"kiosk_id": kiosk, "software_version": "0.1.0", "queue_depth": 3,
            "oldest_pending_age_s": 42,
            "devices": {"bill_validator": {"status": "ok", "reason": None},
                        "printer": {"status": "fault", "reason": "paper out"}},
            "audit_head": "ab12"}
    body.update(over)
    return body


def test_heartbeat_keeps_the_latest(billing_server, http):
    url = f"{billing_server.url}/v1/kiosks/K1/heartbeat"
    assert http.post(url, json=heartbeat()).json()["ok"] is True
    r = http.post(url, json=heartbeat(queue_depth=0, oldest_pending_age_s=None))
    assert r.status_code == 200
    dump = http.get(f"{billing_server.url}/_admin/ledger").json()
    assert len(dump["heartbeats"]) == 1 and dump["heartbeats"][0]["queue_depth"] == 0


@pytest.mark.parametrize("over", [{"kiosk_id": "K2"}, {"queue_depth": -1}, {"queue_depth": 1.5},
                                  {"devices": {"x": {"reason": "no status"}}},
                                  {"devices": []}, {"oldest_pending_age_s": "5"},
                                  {"oldest_pending_age_s": 42.5}])
def test_heartbeat_refuses_bad_bodies(billing_server, http, over):
    r = http.post(f"{billing_server.url}/v1/kiosks/K1/heartbeat", json=heartbeat(**over))
    # Signed as K1 (the path): a body naming K2 is another kiosk's, refused before validation.
    assert r.status_code == (403 if over.get("kiosk_id") == "K2" else 400)


def collection(**over):
    body = {"kiosk_id": "K1", "batch_id": "B-1", "opened_at": f"{D1}T08:00:00+08:00",
            "closed_at": f"{D1}T18:00:00+08:00", "expected": {"10000": 3, "5000": 2},
            "counted": {"10000": 3, "5000": 1}, "variance_minor": -5_000,
            "created_at": f"{D1}T18:05:00+08:00"}
    body.update(over)
    return body


def feedback(**over):
    body = {"kiosk_id": "K1", "feedback_id": "F-1", "rating": 4,
            "created_at": f"{D1}T09:31:00+08:00"}
    body.update(over)
    return body


def test_collection_is_idempotent(billing_server, http):
    path = "/v1/kiosks/K1/collections"
    first = post(http, billing_server, collection(), path=path)
    assert first.status_code == 201 and first.json()["batch_id"] == "B-1"
    again = post(http, billing_server, collection(), path=path)
    assert again.content == first.content and again.headers["Idempotent-Replayed"] == "true"
    r = post(http, billing_server, collection(counted={"10000": 3, "5000": 2}, variance_minor=0),
             path=path)
    assert r.status_code == 409
    assert len(http.get(f"{billing_server.url}/_admin/ledger").json()["collections"]) == 1


@pytest.mark.parametrize("over,key", [
    ({"variance_minor": 0}, "B-1"), ({}, "B-2"), ({"kiosk_id": "K2"}, "B-1"),
    ({"variance_minor": -5000.0}, "B-1"), ({"counted": {"10000": "3"}}, "B-1"),
    ({"counted": {"10000": 3, "5000": 1, "250": 2}}, "B-1"),
    ({"opened_at": "1999-03-01T08:00:00+08:00"}, "B-1"),
])
def test_collection_refusals(billing_server, http, over, key):
    r = post(http, billing_server, collection(**over), key=key, path="/v1/kiosks/K1/collections")
    assert r.status_code == (403 if over.get("kiosk_id") == "K2" else 400)  # as for heartbeats


def test_feedback(billing_server, http):
    body = {"kiosk_id": "K1", "feedback_id": "F-1", "rating": 5, "comment": "很方便",
            "txn_id": "T-0001", "created_at": f"{D1}T09:31:00+08:00"}
    r = post(http, billing_server, body, path="/v1/feedback")
    assert r.status_code == 201 and r.json()["feedback_id"] == "F-1"
    assert post(http, billing_server, body, path="/v1/feedback").headers["Idempotent-Replayed"]
    for rating in (0, 6, 4.0, True):
        bad = {**body, "feedback_id": "F-2", "rating": rating}
        assert post(http, billing_server, bad, path="/v1/feedback").status_code == 400
    fb = http.get(f"{billing_server.url}/_admin/ledger").json()["feedback"]
    assert [f["comment"] for f in fb] == ["很方便"]
