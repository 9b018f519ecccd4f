"""Schema v9: the index over every outbox row ever queued and the unused device_settings table
go; a v8 database holding payments in every state keeps all of them and every figure."""

from __future__ import annotations

import sqlite3

from sqlite_utils import Database

from benchmarks.scale_db import SQL, rows_for
from offline_queue.outbox import Outbox
from offline_queue.schema import MIGRATIONS, SCHEMA_VERSION, _split, connect


def _at_version(path, version: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    db = Database(conn)
    for number in range(version):
        step = MIGRATIONS[number]
        if callable(step):
            step(db)
        else:
            for statement in _split(step):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number + 1}")
    return conn


def _plan(db, sql: str) -> str:
    return " ".join(r[-1] for r in db.execute("EXPLAIN QUERY PLAN " + sql).fetchall())


def test_a_v8_database_with_payments_in_every_state_migrates_intact(tmp_path):
    path = tmp_path / "kiosk.db"
    conn = _at_version(path, 8)
    states = ["DELIVERED", "PENDING", "IN_FLIGHT", "DEAD"]
    for i in range(40):
        rows = rows_for(i)
        conn.executemany(SQL["journal"], rows["journal"])
        conn.executemany(SQL["payments"], rows["payments"])
        (box,) = rows["outbox"]
        conn.execute(SQL["outbox"], box[:7] + (states[i % 4],) + box[8:])
    conn.execute("INSERT INTO device_settings VALUES ('bill_validator', 'k', 'v', 't', 'op')")
    before = {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
              for t in ("journal", "payments", "outbox", "outbox_counts", "outbox_head")}
    conn.close()

    db = connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 9
    for table, rows in before.items():
        assert db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall() == rows, table
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    assert "device_settings" not in names and "outbox_state" not in names
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # the two states looked up by name are found through indexes over only those rows
    assert "outbox_in_flight" in _plan(db, "SELECT id FROM outbox WHERE state = 'IN_FLIGHT'")
    assert "outbox_dead" in _plan(db, "SELECT id FROM outbox WHERE state = 'DEAD' ORDER BY id")
    outbox = Outbox(db)
    assert [r["idem_key"] for r in outbox.dead_rows()] == [f"S{i:09d}" for i in range(3, 40, 4)]
    assert outbox.release_in_flight() == 10
    stats = outbox.stats()
    assert (stats.pending, stats.in_flight, stats.delivered, stats.dead) == (20, 0, 10, 10)
