"""Only enrolled kiosks move money: the reference server's 401/403s, enrolment, rate limits."""

from __future__ import annotations

import json
import time

import requests

from billing_server.server import BillingServer
from offline_queue import signing
from tests.billing_server.conftest import TEST_TOKEN, make_payment


def enrolled(server, kiosk: str) -> signing.Ed25519PrivateKey:
    key = signing.Ed25519PrivateKey.generate()
    r = requests.post(f"{server.url}/v1/kiosks/{kiosk}/enrol", timeout=5,
                      json={"public_key": signing.public_b64(key), "token": TEST_TOKEN})
    assert r.status_code == 201, r.text
    return key


def send(server, key, keyid, method, path, body=None, created=None, tamper=None):
    raw = json.dumps(body).encode() if body is not None else b""
    headers = signing.sign(key, keyid, method, path, raw, int(created or time.time()))
    if body is not None:
        headers |= {"Content-Type": "application/json", "Idempotency-Key": body["txn_id"]}
    if tamper:
        raw = tamper(raw)
    return requests.request(method, server.url + path, data=raw, headers=headers, timeout=5)


ACCOUNT = "/v1/accounts/3101000010"


def test_unsigned_bad_stale_and_tampered_are_401(billing_server):
    key = enrolled(billing_server, "KIOSK-001")
    pay = make_payment()
    cases = {
        "unsigned": requests.post(billing_server.url + "/v1/payments", json=pay, timeout=5,
                                  headers={"Idempotency-Key": "T-0001"}),
        "unsigned lookup": requests.get(billing_server.url + ACCOUNT, timeout=5),
        "wrong key": send(billing_server, signing.Ed25519PrivateKey.generate(), "KIOSK-001",
                          "POST", "/v1/payments", pay),
        "stale": send(billing_server, key, "KIOSK-001", "POST", "/v1/payments", pay,
                      created=time.time() - 301),
        "stale lookup": send(billing_server, key, "KIOSK-001", "GET", ACCOUNT,
                             created=time.time() + 400),
        "body changed": send(billing_server, key, "KIOSK-001", "POST", "/v1/payments", pay,
                             tamper=lambda raw: raw.replace(b"15150", b"15151")),
    }
    for name, r in cases.items():
        assert r.status_code == 401, (name, r.text)
        assert r.headers["Content-Type"].startswith("application/json") and r.json()["error"]
    assert billing_server.ledger.payments() == []
    assert send(billing_server, key, "KIOSK-001", "POST", "/v1/payments", pay).status_code == 201


def test_unknown_key_and_other_kiosks_are_403(billing_server):
    key_a = enrolled(billing_server, "KIOSK-A")
    enrolled(billing_server, "KIOSK-B")
    stranger = send(billing_server, signing.Ed25519PrivateKey.generate(), "KIOSK-NOPE", "GET",
                    ACCOUNT)
    assert stranger.status_code == 403 and stranger.json()["error"] == "unknown_kiosk"
    as_b = send(billing_server, key_a, "KIOSK-A", "POST", "/v1/payments",
                make_payment(kiosk_id="KIOSK-B"))
    assert as_b.status_code == 403 and as_b.json()["error"] == "wrong_kiosk"
    others = send(billing_server, key_a, "KIOSK-A", "GET",
                  "/v1/kiosks/KIOSK-B/settlement?date=2026-01-01")
    assert others.status_code == 403
    own = send(billing_server, key_a, "KIOSK-A", "GET",
               "/v1/kiosks/KIOSK-A/settlement?date=2026-01-01")
    assert own.status_code == 200
    assert billing_server.ledger.payments() == []
    for method in ("OPTIONS", "TRACE"):
        r = requests.request(method, billing_server.url + "/v1/payments", timeout=5)
        assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"


def test_enrolment_token_is_one_time_per_kiosk(billing_server):
    url = f"{billing_server.url}/v1/kiosks/KIOSK-E/enrol"
    key = signing.public_b64(signing.Ed25519PrivateKey.generate())
    other = signing.public_b64(signing.Ed25519PrivateKey.generate())
    assert requests.post(url, json={"public_key": key, "token": "x" * 20}).status_code == 403
    assert requests.post(url, json={"public_key": key, "token": TEST_TOKEN}).status_code == 201
    assert requests.post(url, json={"public_key": key, "token": TEST_TOKEN}).status_code == 200
    r = requests.post(url, json={"public_key": other, "token": TEST_TOKEN})
    assert r.status_code == 409 and r.json()["error"] == "already_enrolled"
    assert billing_server.ledger.kiosk_key("KIOSK-E") == key


def test_lookups_are_rate_limited_per_kiosk(tmp_path):
    with BillingServer("127.0.0.1", 0, tmp_path / "l.db", enrol_token=TEST_TOKEN,
                       lookups_per_minute=3) as server:
        key_a, key_b = enrolled(server, "KIOSK-A"), enrolled(server, "KIOSK-B")
        codes = [send(server, key_a, "KIOSK-A", "GET", ACCOUNT).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = send(server, key_a, "KIOSK-A", "GET", ACCOUNT)
        assert int(limited.headers["Retry-After"]) >= 1
        assert send(server, key_b, "KIOSK-B", "GET", ACCOUNT).status_code == 200
