"""The reference ledger's v4 step: a v3 ledger holding payments gains the re-address links and
keeps its payments."""

from __future__ import annotations

import sqlite3

from billing_server.ledger import SCHEMA_VERSION, Ledger


def test_a_v5_ledger_with_payments_migrates(tmp_path):
    path = tmp_path / "ledger.db"
    Ledger(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TABLE payment_links")
    conn.execute("DROP TABLE payment_gateway_refs")  # v8's
    for table in ("usage_history", "service_requests", "ebill_signups"):  # v7's
        conn.execute(f"DROP TABLE {table}")
    conn.execute("INSERT INTO accounts VALUES ('1234567897', 'a', 'b', 0, 0, 'now', 0)")
    conn.execute("INSERT INTO payments VALUES (1, 'PAY-1', 'K1', 'T1', '1234567897', 100, 'CNY',"
                 " 'cash', '{}', '{}', 'now', 'day', 0, 0, 100, 'R1', 'now')")
    conn.execute("PRAGMA user_version = 5")
    conn.close()
    ledger = Ledger(path)
    assert [p["txn_id"] for p in ledger.payments()] == ["T1"]
    assert ledger.payments()[0]["readdressed_from"] is None
    version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
    assert version == SCHEMA_VERSION == 8
    ledger.close()
