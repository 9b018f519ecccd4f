"""Schema v10 (a partial index over service requests and e-bill sign-ups) on a v9 database
holding data, and the daily report counting a day's requests by kind through it."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from kiosk.staff.report import DailyReports
from offline_queue.schema import SCHEMA_VERSION, connect

DAY = datetime(2026, 11, 20, 10, 0).astimezone()


def v9_database(path) -> None:
    """Today's database taken back to v9: v10 adds its index, v11 the code orders."""
    connect(path).conn.close()
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("DROP INDEX outbox_requests_by_time")
    conn.execute("DROP TABLE code_orders")  # v11's
    conn.execute("PRAGMA user_version = 9")
    when = DAY.timestamp()
    rows = [("service_request", "fault-S1", {"kind": "fault"}, when),
            ("service_request", "complaint-S2", {"kind": "complaint"}, when),
            ("service_request", "fault-S3", {"kind": "fault"}, when),
            ("ebill", "ebill-S4", {"phone": "13800138000"}, when),
            ("service_request", "fault-S0", {"kind": "fault"}, when - 86_400),  # the day before
            ("rating", "rating-T1", {"rating": 5}, when)]
    for kind, key, body, at in rows:
        conn.execute("INSERT INTO outbox (kind, idem_key, body, created_at) VALUES (?,?,?,?)",
                     (kind, key, json.dumps(body).encode(), at))
    conn.close()


def test_v9_database_with_requests_migrates_and_the_report_counts_them(tmp_path):
    path = tmp_path / "k.db"
    v9_database(path)
    db = connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 10
    assert db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 6
    report = DailyReports(db, "KIOSK-0001").build(DAY.date().isoformat())
    assert report["service_requests"] == {"fault": 2, "complaint": 1, "ebill": 1}
    plan = " ".join(str(r) for r in db.execute(
        "EXPLAIN QUERY PLAN SELECT count(*) FROM outbox INDEXED BY outbox_requests_by_time"
        " WHERE kind IN ('service_request', 'ebill') AND created_at > 0").fetchall())
    assert "outbox_requests_by_time" in plan
