"""Fixtures for the reference billing server (a fresh ledger on a free loopback port per test)
and small helpers its tests share: payment bodies, POST with the right key, ledger reads."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from billing_server.server import BillingServer
from offline_queue import signing

#: what test servers take and test kiosks enrol with
TEST_TOKEN = "test-enrol-token-0123456789"

# Kiosk timestamps must be plausible (docs/billing-api.yaml Timestamp: within 400 days back and
# 10 minutes ahead of the server), so test days are the day before yesterday (D1) and yesterday
# (D2) in the kiosk's zone: every time of day on them is in the past, whenever the tests run.
_CST = timezone(timedelta(hours=8))
D1 = (datetime.now(_CST) - timedelta(days=2)).date().isoformat()
D2 = (datetime.now(_CST) - timedelta(days=1)).date().isoformat()


@pytest.fixture
def billing_server(tmp_path: Path) -> Iterator[BillingServer]:
    """A running server: ``.url``, ``.db_path``, ``.set_fault(mode, **kw)``, ``.stop()``."""
    server = BillingServer("127.0.0.1", 0, tmp_path / "billing.db", enrol_token=TEST_TOKEN,
                           admin=True).start()  # the tests read the ledger over /_admin
    try:
        yield server
    finally:
        server.stop()


class AnyKioskAuth(signing.KioskAuth):
    """Test kiosks: signs each request as the kiosk its body or path names (``default`` for
    lookups), each with a key of its own, enrolled with ``TEST_TOKEN`` on first use."""

    _keys: dict[str, signing.Ed25519PrivateKey] = {}
    enrol_at: str | None = None  # enrol there instead of where the request goes
    token = TEST_TOKEN  # what the server takes for enrolment

    def __init__(self, default: str = "KIOSK-001") -> None:
        super().__init__(signing.Ed25519PrivateKey.generate(), default)
        self._enrolled: set[tuple[str, str]] = set()

    @classmethod
    def key_of(cls, kiosk_id: str) -> signing.Ed25519PrivateKey:
        return cls._keys.setdefault(kiosk_id, signing.Ed25519PrivateKey.generate())

    def keyid_for(self, r: requests.PreparedRequest) -> str:
        parts = (r.path_url or "").split("/")
        if len(parts) > 3 and parts[2] == "kiosks":
            return parts[3]
        try:
            named = json.loads(r.body or b"{}").get("kiosk_id")
        except (ValueError, AttributeError, TypeError):  # not JSON, or a stream
            named = None
        if isinstance(named, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", named):
            return named
        return self.kiosk_id  # no kiosk, or a malformed one the server refuses with a 400

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        kiosk = self.keyid_for(r)
        base = self.enrol_at or "/".join((r.url or "").split("/")[:3])
        if (base, kiosk) not in self._enrolled:
            # A plain request: it is no part of the deadline watch of the one being signed.
            resp = requests.post(f"{base}/v1/kiosks/{kiosk}/enrol", timeout=5, json={
                "public_key": signing.public_b64(self.key_of(kiosk)), "token": self.token})
            if resp.status_code in (200, 201):
                self._enrolled.add((base, kiosk))
        body = r.body or b""
        if isinstance(body, str):
            body = r.body = body.encode()
        if not isinstance(body, bytes):
            return r  # a streamed (chunked) body: refused before any signature is looked at
        r.headers.update(signing.sign(self.key_of(kiosk), kiosk, r.method or "GET", r.path_url,
                                      body, int(self.clock())))
        return r


def signed_headers(api, method: str, path: str, raw: bytes, headers: dict | None = None,
                   kiosk: str | None = None, query: str = "") -> dict:
    """Headers for calling ``BillingApi.handle`` directly as an enrolled test kiosk."""
    if kiosk is None:  # as the body names it, when it names a well-formed kiosk
        try:
            named = json.loads(raw).get("kiosk_id")
        except (ValueError, AttributeError):
            named = None
        ok = isinstance(named, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", named)
        kiosk = named if ok else "KIOSK-001"
    key = AnyKioskAuth.key_of(kiosk)
    api.ledger.enrol(kiosk, signing.public_b64(key))
    target = path + ("?" + query if query else "")
    return {**(headers or {}), **signing.sign(key, kiosk, method, target, raw, int(time.time()))}


def signed_session(default: str = "KIOSK-001") -> requests.Session:
    session = requests.Session()
    session.auth = AnyKioskAuth(default)
    return session


def sign_as_test_kiosk(client, default: str = "KIOSK-001"):
    """A SyncWorker / BillingClient / BillingProbe made by a test, signing as test kiosks."""
    client.http.auth = AnyKioskAuth(default)
    return client


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A keep-alive client session, signed as the kiosk each request names (enrolled)."""
    with signed_session() as session:
        yield session


def make_payment(**overrides: object) -> dict:
    """A valid payment to the first demo account: ¥150 in notes, ¥1.50 in coins."""
    from billing_server.seed import DEMO_ACCOUNTS

    body: dict = {
        "kiosk_id": "KIOSK-001",
        "txn_id": "T-0001",
        "account_no": DEMO_ACCOUNTS[0].account_no,
        "amount_minor": 15_150,
        "currency": "CNY",
        "tender": "cash",
        "notes": {"10000": 1, "5000": 1},
        "coins": {"100": 1, "50": 1},
        "created_at": f"{D1}T09:30:00+08:00",
        "offline": False,
    }
    body.update(overrides)
    return body


@pytest.fixture
def payment_body():
    """Factory for valid payment bodies; keyword arguments replace fields."""
    return make_payment


def post(http, server, body, key=..., raw: bytes | None = None, path="/v1/payments", **kw):
    """POST JSON with the Idempotency-Key the contract names for ``path`` (None: no header)."""
    if key is ...:  # the id the contract names for this path
        name = {"/v1/feedback": "feedback_id"}.get(path, "batch_id" if "collections" in path
                                                   else "txn_id")
        key = body[name]
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    data = raw if raw is not None else json.dumps(body).encode()
    return http.post(server.url + path, data=data, headers=headers, timeout=kw.pop("timeout", 5),
                     **kw)


def ledger_rows(server) -> list[tuple]:
    """Read the ledger file directly (a second connection), not through the server."""
    with closing(sqlite3.connect(server.db_path)) as c:
        sql = "SELECT kiosk_id, txn_id, amount_minor FROM payments ORDER BY seq"
        return c.execute(sql).fetchall()


def account_state(server, account_no: str) -> tuple[int, int]:
    with closing(sqlite3.connect(server.db_path)) as c:
        return c.execute("SELECT arrears_minor, balance_minor FROM accounts WHERE account_no = ?",
                         (account_no,)).fetchone()


def wait_for(predicate, timeout=5.0):
    """Poll a condition until a deadline (no fixed sleep-and-hope)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
