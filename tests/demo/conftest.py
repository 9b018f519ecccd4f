"""Fixtures for the reference billing server (a fresh ledger on a free loopback port per test)
and small helpers its tests share: payment bodies, POST with the right key, ledger reads."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from kiosk.demo.billing_server import BillingServer

# Kiosk timestamps must be plausible (docs/billing-api.yaml Timestamp: within 400 days back and
# 10 minutes ahead of the server), so test days are the day before yesterday (D1) and yesterday
# (D2) in the kiosk's zone: every time of day on them is in the past, whenever the tests run.
_CST = timezone(timedelta(hours=8))
D1 = (datetime.now(_CST) - timedelta(days=2)).date().isoformat()
D2 = (datetime.now(_CST) - timedelta(days=1)).date().isoformat()


@pytest.fixture
def billing_server(tmp_path: Path) -> Iterator[BillingServer]:
    """A running server: ``.url``, ``.db_path``, ``.set_fault(mode, **kw)``, ``.stop()``."""
    server = BillingServer("127.0.0.1", 0, tmp_path / "billing.db").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A keep-alive client session, as the kiosk's sync worker uses."""
    with requests.Session() as session:
        yield session


def make_payment(**overrides: object) -> dict:
    """A valid payment to the first demo account: ¥150 in notes, ¥1.50 in coins."""
    from kiosk.demo.seed import DEMO_ACCOUNTS

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
