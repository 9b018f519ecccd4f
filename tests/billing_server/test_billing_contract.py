"""docs/billing-api.yaml against the reference server: same routes, every documented answer seen
and matching its schema, and the server's request checks agreeing with the request schemas."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_server.routes import BillingApi
from billing_server.server import MAX_BODY
from billing_server.faults import FaultSwitch
from billing_server.ledger import Ledger
from billing_server.seed import DEMO_ACCOUNTS, DEMO_CARDS, DEMO_NOTICES, UNSEEDED_ACCOUNT
from billing_server.seed import DEMO_PREPAID_CARDS, UNSEEDED_CARD
from kiosk.flow.account import AccountNumberError, check_account_number
from billing_server.routes import UNSIGNED
from offline_queue import signing
from tests.billing_server.conftest import D1, TEST_TOKEN, make_payment, signed_headers
from tests.billing_server.openapi_check import (_check, documented_statuses, load_spec,
                                                validate_request, validate_response)

ACCT = DEMO_ACCOUNTS[0].account_no
CARD = next(iter(DEMO_CARDS))


def spec_operations() -> set[tuple[str, str]]:
    return {(m.upper(), p) for p, item in load_spec()["paths"].items() for m in item
            if m in ("get", "post", "put", "delete", "patch")}


def test_spec_is_valid_openapi_31():
    spec = load_spec()  # runs openapi_spec_validator
    assert spec["openapi"].startswith("3.1")
    admin = {p for p, item in spec["paths"].items()
             if any("x-admin" in op.get("tags", []) for op in item.values())}
    assert admin == {"/_admin/fault", "/_admin/ledger"}


def test_server_routes_equal_spec_operations(tmp_path):
    ledger = Ledger(tmp_path / "l.db")
    api = BillingApi(ledger, FaultSwitch())
    assert {(m, template) for m, _, template, _ in api.routes} == spec_operations()
    ledger.close()


def test_validator_refuses_float_money():
    body = make_payment(amount_minor=15150.0)
    with pytest.raises(AssertionError, match="integer"):
        validate_request("POST", "/v1/payments", body)
    with pytest.raises(AssertionError, match="not documented|does not document"):
        validate_response("GET", "/v1/health", 418, {})


class Recorder:
    """Sends a request, checks the answer against the spec, remembers what was covered."""

    def __init__(self, server, http: requests.Session) -> None:
        self.server, self.http = server, http
        self.seen: set[tuple[str, str, int]] = set()

    def __call__(self, method: str, template: str, path: str, expect: int, *, body: Any = None,
                 raw: bytes | None = None, key: str | None = None,
                 params: dict | None = None, chunked: bool = False) -> Any:
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Idempotency-Key"] = key
        if body is not None:
            validate_request_if_valid(method, template, body, expect)
            raw = json.dumps(body, ensure_ascii=False).encode()
        if chunked:  # an iterator makes requests send Transfer-Encoding: chunked
            raw = iter([raw])
        r = self.http.request(method, self.server.url + path, data=raw, headers=headers,
                              params=params, timeout=5)
        assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text}"
        parsed = r.json()
        validate_response(method, template, r.status_code, parsed)
        self.seen.add((method, template, r.status_code))
        return parsed


def validate_request_if_valid(method: str, template: str, body: Any, expect: int) -> None:
    if expect < 300:  # what the server accepts, the schema must accept
        validate_request(method, template, body)


def test_every_documented_answer_is_seen_and_matches(billing_server, http):
    call = Recorder(billing_server, http)
    pay = make_payment()
    acct, card = "/v1/accounts/{account_no}", "/v1/cards/{card_uid}"
    call("GET", acct, f"/v1/accounts/{ACCT}", 200)
    call("GET", acct, "/v1/accounts/3101000011", 400)
    call("GET", acct, f"/v1/accounts/{UNSEEDED_ACCOUNT}", 404)
    call("GET", card, f"/v1/cards/{CARD}", 200)
    call("GET", card, "/v1/cards/XYZ", 400)
    call("GET", card, f"/v1/cards/{UNSEEDED_CARD}", 404)

    p = "/v1/payments"
    first = call("POST", p, p, 201, body=pay, key=pay["txn_id"])
    assert call("POST", p, p, 201, body=pay, key=pay["txn_id"]) == first
    call("POST", p, p, 409, body={**pay, "offline": True}, key=pay["txn_id"])
    call("POST", p, p, 400, body={**pay, "amount_minor": 1.5}, key=pay["txn_id"])
    call("POST", p, p, 422, body={**pay, "txn_id": "T-2", "account_no": UNSEEDED_ACCOUNT},
         key="T-2")
    call("POST", p, p, 413, raw=b"0" * (MAX_BODY + 1), key="T-3")
    call("POST", p, p, 411, raw=json.dumps(pay).encode(), key=pay["txn_id"], chunked=True)
    billing_server.set_fault("500", count=1)
    call("POST", p, p, 500, body={**pay, "txn_id": "T-4"}, key="T-4")

    s = "/v1/kiosks/{kiosk_id}/settlement"
    day = call("GET", s, "/v1/kiosks/KIOSK-001/settlement", 200, params={"date": f"{D1}"})
    assert day["payment_ids"] == [first["payment_id"]]
    call("GET", s, "/v1/kiosks/KIOSK-001/settlement", 400, params={"date": "yesterday"})

    h = "/v1/kiosks/{kiosk_id}/heartbeat"
    beat = {"kiosk_id": "KIOSK-001", "software_version": "0.1.0", "queue_depth": 0,
            "oldest_pending_age_s": None, "devices": {"printer": {"status": "ok"}}}
    call("POST", h, "/v1/kiosks/KIOSK-001/heartbeat", 200, body=beat)
    call("POST", h, "/v1/kiosks/KIOSK-001/heartbeat", 400, body={**beat, "queue_depth": "0"})
    au = "/v1/kiosks/{kiosk_id}/audit"
    assert call("GET", au, "/v1/kiosks/KIOSK-001/audit", 200)["status"] == "unknown"
    anchored = call("POST", h, "/v1/kiosks/KIOSK-001/heartbeat", 200,
                    body={**beat, "audit_head": "ab" * 32, "audit_seq": 3})
    assert anchored["audit"]["status"] == "ok"
    assert call("GET", au, "/v1/kiosks/KIOSK-001/audit", 200)["seq"] == 3

    c = "/v1/kiosks/{kiosk_id}/collections"
    batch = {"kiosk_id": "KIOSK-001", "batch_id": "B-1", "opened_at": f"{D1}T08:00:00+08:00",
             "closed_at": f"{D1}T20:00:00+08:00", "expected": {"10000": 1, "5000": 1},
             "counted": {"10000": 1, "5000": 1}, "variance_minor": 0,
             "created_at": f"{D1}T20:01:00+08:00"}
    cpath = "/v1/kiosks/KIOSK-001/collections"
    call("POST", c, cpath, 201, body=batch, key="B-1")
    call("POST", c, cpath, 409, body={**batch, "counted": {"10000": 1}, "variance_minor": -5000},
         key="B-1")
    call("POST", c, cpath, 400, body=batch, key="B-other")

    n = "/v1/notices"
    for lang in ("zh", "en"):
        got = call("GET", n, n, 200, params={"lang": lang})["notices"]
        assert len(got) == len(DEMO_NOTICES)
    call("GET", n, n, 400, params={"lang": "xx"})

    f = "/v1/feedback"
    fb = {"kiosk_id": "KIOSK-001", "feedback_id": "F-1", "rating": 4,
          "created_at": f"{D1}T09:31:00+08:00"}
    call("POST", f, f, 201, body=fb, key="F-1")
    call("POST", f, f, 409, body={**fb, "rating": 1}, key="F-1")
    call("POST", f, f, 400, body={**fb, "rating": 9}, key="F-1")
    call("GET", "/v1/health", "/v1/health", 200)

    # beyond paying: history, service requests, e-bill sign-up (billing_server/resident.py)
    hi = "/v1/accounts/{account_no}/history"
    months = call("GET", hi, f"/v1/accounts/{ACCT}/history", 200)["months"]
    assert len(months) == 12 and all(isinstance(m["kwh"], int) for m in months)
    call("GET", hi, "/v1/accounts/3101000011/history", 400)
    call("GET", hi, f"/v1/accounts/{UNSEEDED_ACCOUNT}/history", 404)
    sr = "/v1/service-requests"
    req = {"kiosk_id": "KIOSK-001", "request_id": "SR-1", "kind": "fault", "category": "no_power",
           "account_no": ACCT, "reasons": ["since_today"], "callback_phone": "13812341234",
           "created_at": f"{D1}T09:32:00+08:00"}
    got = call("POST", sr, sr, 201, body=req, key="SR-1")
    assert call("POST", sr, sr, 201, body=req, key="SR-1") == got and got["kind"] == "fault"
    call("POST", sr, sr, 409, body={**req, "category": "meter"}, key="SR-1")
    call("POST", sr, sr, 400, body={**req, "category": "hours"}, key="SR-1")
    call("POST", sr, sr, 422, body={**req, "request_id": "SR-2", "account_no": UNSEEDED_ACCOUNT},
         key="SR-2")
    eb = "/v1/accounts/{account_no}/e-bill"
    sign = {"kiosk_id": "KIOSK-001", "request_id": "EB-1", "account_no": ACCT,
            "phone": "13812341234", "sms_bill": True, "reminder": False,
            "created_at": f"{D1}T09:33:00+08:00"}
    call("POST", eb, f"/v1/accounts/{ACCT}/e-bill", 201, body=sign, key="EB-1")
    call("POST", eb, f"/v1/accounts/{ACCT}/e-bill", 409, body={**sign, "reminder": True},
         key="EB-1")
    call("POST", eb, f"/v1/accounts/{ACCT}/e-bill", 400, body={**sign, "phone": "12812341234"},
         key="EB-1")
    call("POST", eb, f"/v1/accounts/{UNSEEDED_ACCOUNT}/e-bill", 404,
         body={**sign, "request_id": "EB-2", "account_no": UNSEEDED_ACCOUNT}, key="EB-2")

    # prepaid (docs/prepaid.md): a token only for a recorded payment of a prepaid account
    pp = "/v1/prepaid/tokens"
    pre_acct, pre_card = next(iter(DEMO_PREPAID_CARDS.values())), next(iter(DEMO_PREPAID_CARDS))
    want = {"kiosk_id": "KIOSK-001", "txn_id": "T-PP-1", "card_uid": pre_card}
    call("POST", pp, pp, 409, body=want, key="T-PP-1")  # the payment has not arrived yet
    pre_pay = make_payment(txn_id="T-PP-1", account_no=pre_acct)
    call("POST", p, p, 201, body=pre_pay, key="T-PP-1")
    token = call("POST", pp, pp, 201, body=want, key="T-PP-1")
    assert call("POST", pp, pp, 201, body=want, key="T-PP-1") == token
    call("POST", pp, pp, 409, body={**want, "card_uid": "04A1B2C3D4E5F6"}, key="T-PP-1")
    call("POST", pp, pp, 400, body={**want, "card_uid": "XYZ"}, key="T-PP-1")
    call("POST", pp, pp, 422, body={**want, "txn_id": "T-0001"}, key="T-0001")  # not prepaid
    call("POST", pp, pp, 413, raw=b"0" * (MAX_BODY + 1), key="T-PP-2")
    call("POST", pp, pp, 411, raw=json.dumps(want).encode(), key="T-PP-1", chunked=True)

    call("POST", "/_admin/fault", "/_admin/fault", 200, body={"mode": "delay", "seconds": 0})
    call("POST", "/_admin/fault", "/_admin/fault", 400, body={"mode": "melt"})
    call("GET", "/_admin/fault", "/_admin/fault", 200)
    ledger = call("GET", "/_admin/ledger", "/_admin/ledger", 200)
    assert [p["txn_id"] for p in ledger["payments"]] == ["T-0001", "T-PP-1"]

    # Admin answers loopback only; over loopback we cannot be anyone else, so ask the API directly.
    ledger_conn = Ledger(billing_server.db_path)
    api = BillingApi(ledger_conn, FaultSwitch(), admin=True)
    for method, path in (("GET", "/_admin/ledger"), ("GET", "/_admin/fault"),
                         ("POST", "/_admin/fault")):
        resp, _ = api.handle(method, path, "", {}, b'{"mode": "none"}', "192.0.2.7")
        validate_response(method, path, resp.status, json.loads(resp.body))
        call.seen.add((method, path, resp.status))
    ledger_conn.close()

    # Signed operations: 401 unsigned, 403 from a key no kiosk enrolled
    concrete = {acct: f"/v1/accounts/{ACCT}", card: f"/v1/cards/{CARD}",
                hi: f"/v1/accounts/{ACCT}/history", eb: f"/v1/accounts/{ACCT}/e-bill",
                s: "/v1/kiosks/KIOSK-001/settlement", h: "/v1/kiosks/KIOSK-001/heartbeat",
                "/v1/kiosks/{kiosk_id}/audit": "/v1/kiosks/KIOSK-001/audit",
                c: cpath, "/v1/kiosks/{kiosk_id}/enrol": "/v1/kiosks/KIOSK-001/enrol"}
    stranger = requests.Session()
    stranger.auth = signing.KioskAuth(signing.Ed25519PrivateKey.generate(), "KIOSK-NOPE")
    for who, status in ((requests.Session(), 401), (stranger, 403)):
        other = Recorder(billing_server, who)
        other.seen = call.seen
        for method, template in sorted(spec_operations()):
            if template.startswith("/_admin") or template in UNSIGNED:
                continue
            body = {"kiosk_id": "KIOSK-001"} if method == "POST" else None
            other(method, template, concrete.get(template, template), status, body=body, key="K")

    e = "/v1/kiosks/{kiosk_id}/enrol"
    unsigned = Recorder(billing_server, requests.Session())  # enrolment carries a token instead
    unsigned.seen = call.seen
    new_key = signing.public_b64(signing.Ed25519PrivateKey.generate())
    enrol = {"public_key": new_key, "token": TEST_TOKEN}
    unsigned("POST", e, "/v1/kiosks/KIOSK-NEW/enrol", 201, body=enrol)
    unsigned("POST", e, "/v1/kiosks/KIOSK-NEW/enrol", 200, body=enrol)
    other_key = signing.public_b64(signing.Ed25519PrivateKey.generate())
    unsigned("POST", e, "/v1/kiosks/KIOSK-NEW/enrol", 409, body={**enrol, "public_key": other_key})
    unsigned("POST", e, "/v1/kiosks/KIOSK-NEW2/enrol", 403, body={**enrol, "token": "x" * 20})
    unsigned("POST", e, "/v1/kiosks/KIOSK-NEW2/enrol", 400, body={**enrol, "public_key": "AAAA"})
    v = "/v1/receipts/verify"
    unsigned("GET", v, v, 400, params={"r": "not-a-receipt"})
    fake = "R-20260101-00001:T1:******0010:100:0:" + "A" * 103
    assert unsigned("GET", v, v, 200, params={"r": fake})["valid_signature"] is False

    # 429 with Retry-After, on every public operation (the fault switch stands in for a limiter)
    for method, template in sorted(spec_operations()):
        if template.startswith("/_admin"):
            continue
        path = concrete.get(template, template)
        billing_server.set_fault("429", count=1, paths=path, seconds=2.5)
        r = http.request(method, billing_server.url + path, data=b"{}", timeout=5,
                         headers={"Idempotency-Key": "K-429"})
        assert r.status_code == 429 and r.headers["Retry-After"] == "3", (method, path)
        validate_response(method, template, 429, r.json())
        call.seen.add((method, template, 429))
    assert call("GET", "/_admin/ledger", "/_admin/ledger", 200)["payments"] == ledger["payments"]

    documented = {(m, t, s) for m, t in spec_operations() for s in documented_statuses(m, t)}
    assert documented - call.seen == set(), "documented but never exercised"
    assert call.seen - documented == set()


EXTRA_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "FOO")


def test_every_undocumented_method_on_every_path_is_a_json_405(billing_server, http):
    spec = load_spec()
    concrete = {"/v1/accounts/{account_no}": f"/v1/accounts/{ACCT}",
                "/v1/cards/{card_uid}": f"/v1/cards/{CARD}"}
    for template, item in spec["paths"].items():
        documented = {m.upper() for m in item if m in ("get", "post", "put", "delete", "patch")}
        path = concrete.get(template, template.replace("{kiosk_id}", "KIOSK-001"))
        for method in EXTRA_METHODS:
            if method in documented:
                continue
            r = http.request(method, billing_server.url + path, timeout=5)
            assert r.status_code == 405, (method, path, r.status_code, r.text)
            assert set(r.headers["Allow"].split(", ")) == documented
            assert r.headers["Content-Type"].startswith("application/json")
            if method != "HEAD":  # a HEAD answer has no body
                _check_error(r.json())


def _check_error(body: Any) -> None:
    from tests.billing_server.openapi_check import _check

    _check(body, "components/schemas/Error", "405 body")
    assert body["error"] == "method_not_allowed"


def test_http_servers_own_refusals_are_json(billing_server):
    import socket

    host, port = billing_server.host, billing_server.port
    for request in (b"GARBAGE\r\n\r\n", b"GET /v1/health HTTP/7.0\r\n\r\n",
                    b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n"):
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(request)
            data = b""
            while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        assert b"application/json" in head, (request, data)
        _check(json.loads(body), "components/schemas/Error", "refusal body")


# ---- the server's checks agree with the request schema ---------------------------------------

JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-10, 20_000_000),
                      st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
JSON_VALUE = st.recursive(JSON_LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6)
TRICKY = {
    "account_no": st.sampled_from([ACCT, "3101000011", "310100001", "31010000100", " 3101000010",
                                   UNSEEDED_ACCOUNT, "3101-00001"]),
    "amount_minor": st.sampled_from([15_150, 15_150.0, 0, -15_150, True, "15150", 10_000_001]),
    "created_at": st.sampled_from([
        f"{D1}T09:30:00+08:00", f"{D1}T09:30:00Z", f"{D1}T09:30:00.123456Z",
        f"{D1}T09:30:00", f"{D1} 09:30:00+08:00", "2025-02-29T09:30:00+08:00",
        f"{D1}T09:30+08:00", f"{D1}t09:30:00z", f"{D1}T24:30:00+08:00",
        f"{D1}T09:30:00+0800"]),
    "notes": st.sampled_from([{"10000": 1, "5000": 1}, {"15000": 1}, {"05000": 3, "10000": 0},
                              {"10000": 1.0, "5000": 1}, {"0": 5, "15000": 1}, {}, []]),
    "coins": st.sampled_from([{"100": 1, "50": 1}, {"150": 1}, {"50": 3}, {"100": -1, "50": 5}]),
    "txn_id": st.sampled_from(["T-0001", "", "-leading-dash", "a" * 129, "ok:fine.1_2"]),
    "kiosk_id": st.sampled_from(["KIOSK-001", "", "k" * 65, "has space", "K.1_2-3"]),
}
FIELDS = sorted(make_payment()) + ["extra"]


@st.composite
def mutated_payment(draw: st.DrawFn) -> dict[str, Any]:
    body = make_payment()
    for _ in range(draw(st.integers(1, 2))):
        field = draw(st.sampled_from(FIELDS))
        choice = draw(st.integers(0, 4))
        if choice == 0:
            body.pop(field, None)
        elif choice in (1, 2) and field in TRICKY:
            body[field] = draw(TRICKY[field])
        else:
            body[field] = draw(JSON_VALUE)
    return body


def semantically_ok(body: dict[str, Any]) -> bool:
    """What the schema cannot say: the check digit, and the cash adding up to the amount."""
    try:
        check_account_number(body["account_no"])
    except AccountNumberError:
        return False
    cash = sum(int(d) * n for part in ("notes", "coins") for d, n in body.get(part, {}).items())
    return cash == body["amount_minor"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=mutated_payment())
def test_server_checks_agree_with_request_schema(body):
    ledger = Ledger(":memory:")
    ledger.seed(DEMO_ACCOUNTS, dict(DEMO_CARDS), DEMO_NOTICES)
    api = BillingApi(ledger, FaultSwitch())
    key = body.get("txn_id") if isinstance(body.get("txn_id"), str) and body["txn_id"] else "K"
    raw = json.dumps(body).encode()
    headers = signed_headers(api, "POST", "/v1/payments", raw, {"Idempotency-Key": key})
    resp, _ = api.handle("POST", "/v1/payments", "", headers, raw, "127.0.0.1")
    answer = json.loads(resp.body)
    validate_response("POST", "/v1/payments", resp.status, answer)
    try:
        validate_request("POST", "/v1/payments", body)
        schema_ok = True
    except AssertionError:
        schema_ok = False
    if not schema_ok:
        assert resp.status == 400, (body, answer)
    elif not semantically_ok(body):
        assert resp.status == 400, (body, answer)
    else:
        assert resp.status in (201, 422), (body, answer)
        assert (resp.status == 422) == (body["account_no"] == UNSEEDED_ACCOUNT)
    ledger.close()
