"""The bounded start-up check finds what a power cut tears (the newest rows and their index
entries, the small tables) without reading the whole history."""

from __future__ import annotations

import sqlite3
import threading

from kiosk.services.integrity_watch import IntegrityWatch
from offline_queue.journal import Journal
from offline_queue.schema import connect
from offline_queue.startup_check import recent_problem


def _pay(db, n):
    j = Journal(db, "K1")
    for i in range(n):
        j.session_start(f"s{i}", "A1", 100)
        j.credit(f"s{i}", 1, "note", 100)
        j.commit_payment(f"s{i}", "A1", {100: 1}, {}, 100, offline=False)


def test_a_sound_database_passes(tmp_path):
    db = connect(tmp_path / "kiosk.db")
    _pay(db, 20)
    assert recent_problem(db) is None


def test_a_newest_row_missing_from_its_index_is_found(tmp_path):
    path = tmp_path / "kiosk.db"
    db = connect(path)
    _pay(db, 20)
    db.conn.close()
    # Make the index lose the newest journal row: rebuild the index from a copy of the table
    # without that row, then put the row back behind the index's back (as a torn write would).
    conn = sqlite3.connect(path, isolation_level=None)
    last = conn.execute("SELECT max(id) FROM journal").fetchone()[0]
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET sql = replace(sql, 'journal(session_id)',"
                 " 'journal(session_id) WHERE id < {}') WHERE name = 'journal_session'".format(last))
    conn.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("REINDEX journal_session")
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET sql = replace(sql, ' WHERE id < {}', '')"
                 " WHERE name = 'journal_session'".format(last))
    conn.close()
    db = connect(path)
    problem = recent_problem(db)
    assert problem is not None and "journal_session" in problem


def test_the_background_check_locks_when_the_full_check_fails(tmp_path, monkeypatch):
    import kiosk.services.integrity_watch as watch

    db = connect(tmp_path / "kiosk.db")
    _pay(db, 3)
    monkeypatch.setattr(watch, "check_on_start", lambda db, path: "page 7: btree broken")
    posted = []
    seen = threading.Event()
    w = IntegrityWatch(tmp_path / "kiosk.db", lambda ev: (posted.append(ev), seen.set()),
                       idle_s=0.01).start()
    assert w.done.wait(10)
    assert seen.wait(1)
    assert "btree broken" in posted[0].reason
