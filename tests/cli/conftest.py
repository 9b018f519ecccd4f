from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.billing_server.conftest import billing_server  # noqa: F401 - a real server on loopback

ROOT = Path(__file__).resolve().parents[2]


def kiosk(*args: str, env: dict | None = None, timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("KIOSK_CRASH_AT", None) if not env or "KIOSK_CRASH_AT" not in env else None
    proc = subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=ROOT)
    if check and proc.returncode != 0:
        raise AssertionError(f"kiosk {' '.join(args)} → {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def run_kiosk():
    return kiosk


class Books:
    """Every place money is recorded, read after the fact."""

    def __init__(self, db_path: Path, state_dir: Path, server,
                 validator_state: str = "bill-validator.json") -> None:
        self.db = sqlite3.connect(db_path)
        self.state_dir = state_dir
        self.server = server
        #: the validator simulator's state file (drivers/simhub.py, state_name)
        self.validator_state = validator_state

    def journal_payments(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT txn_id, amount_minor FROM payments"))

    def journal_credits(self, tender: str | None = None) -> int:
        sql = "SELECT coalesce(sum(value_minor), 0) FROM journal WHERE kind = 'credit'"
        if tender:
            sql += f" AND tender = '{tender}'"
        return self.db.execute(sql).fetchone()[0]

    def server_payments(self) -> dict[str, int]:
        return {p["txn_id"]: p["amount_minor"] for p in self.server.ledger.payments()}

    def device_stacked_minor(self) -> int:
        path = self.state_dir / self.validator_state
        if not path.exists():
            return 0
        stacked = json.loads(path.read_text())["counters"]["stacked"]
        return sum(int(v) * n for v, n in stacked.items())

    def queue(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT state, count(*) FROM outbox GROUP BY state"))

    def assert_consistent(self) -> None:
        """Promises 2–4: each safe note credited once, paid once, delivered once."""
        payments = self.journal_payments()
        assert sum(payments.values()) == self.journal_credits(), "credited money not all paid in"
        assert self.device_stacked_minor() == self.journal_credits("note"), "device and journal disagree"
        assert self.server_payments() == payments, "server ledger differs from the kiosk journal"
        queue = self.queue()
        assert queue.get("PENDING", 0) == 0 and queue.get("IN_FLIGHT", 0) == 0 and queue.get("DEAD", 0) == 0


@pytest.fixture
def books_for():
    return Books
