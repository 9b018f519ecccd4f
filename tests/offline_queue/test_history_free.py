"""Schema v5: the queue figures, each account's head and the open sessions are kept by
triggers; they must always equal what a walk over the whole history would say."""

from __future__ import annotations

import random
import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st

from offline_queue.outbox import Outbox
from offline_queue.schema import MIGRATIONS, _split, connect

# The queries v4 ran over the whole history: the reference the triggers must match.
OLD_DUE = (
    "SELECT id FROM outbox o WHERE state = 'PENDING'"
    " AND (? OR next_attempt_at <= ? OR next_attempt_at > ?)"
    " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.account_no = o.account_no"
    "   AND p.id < o.id AND p.state IN ('PENDING', 'IN_FLIGHT'))"
    " ORDER BY id LIMIT ?")
OLD_OPEN = ("SELECT session_id FROM journal WHERE kind = 'session_start' EXCEPT"
            " SELECT session_id FROM journal WHERE kind = 'session_end'")


def _figures(db):
    counts = dict(db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
    money = dict(db.execute("SELECT state, sum(amount_minor) FROM outbox GROUP BY state").fetchall())
    return {s: (counts.get(s, 0), money.get(s) or 0)
            for s in ("PENDING", "IN_FLIGHT", "DELIVERED", "DEAD")}


def _kept(db):
    return {s: (n, t) for s, n, t in db.execute("SELECT state, n, total_minor FROM outbox_counts")}


def _check(db, now=100.0):
    assert _kept(db) == _figures(db)
    for ignore in (0, 1):
        old = [r[0] for r in db.execute(OLD_DUE, (ignore, now, 1e9, 50)).fetchall()]
        assert [r.id for r in Outbox(db).due(now, ignore_backoff=bool(ignore), latest=1e9)] == old
    counted = dict(db.execute("SELECT name, n FROM row_counts").fetchall())
    assert counted == {
        "payments": db.execute("SELECT count(*) FROM payments").fetchone()[0],
        "note_credits": db.execute("SELECT count(*) FROM journal WHERE kind = 'credit'"
                                   " AND tender = 'note'").fetchone()[0]}
    assert {r[0] for r in db.execute("SELECT session_id FROM journal_open")} == \
        {r[0] for r in db.execute(OLD_OPEN)}


def _v4(path):
    conn = sqlite3.connect(path, isolation_level=None)
    for number in range(4):
        for statement in _split(MIGRATIONS[number]):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number + 1}")
    return conn


def test_a_v4_database_with_history_migrates_to_figures_that_match_it(tmp_path):
    conn = _v4(tmp_path / "kiosk.db")
    rng = random.Random(4)
    states = ["PENDING", "IN_FLIGHT", "DELIVERED", "DEAD"]
    for i in range(400):
        conn.execute(
            "INSERT INTO outbox (kind, idem_key, account_no, body, amount_minor, state,"
            " next_attempt_at, created_at, enqueued_elapsed_ms) VALUES (?,?,?,?,?,?,?,?,?)",
            ("payment" if i % 7 else "rating", f"k{i}", None if i % 7 == 0 else f"A{i % 9}",
             b"{}", rng.randint(1, 5000) * 100, rng.choice(states), rng.choice([0, 50, 500]),
             float(i), None if i < 20 else i * 1000))
    for i in range(60):
        conn.execute("INSERT INTO journal (session_id, kind, data, at) VALUES (?, 'session_start',"
                     " '{\"account_no\": \"A1\", \"target_minor\": 100}', 'x')", (f"s{i}",))
        if i % 3:
            conn.execute("INSERT INTO journal (session_id, kind, data, at)"
                         " VALUES (?, 'session_end', '{}', 'x')", (f"s{i}",))
    conn.close()
    db = connect(tmp_path / "kiosk.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert len(list(db.execute("SELECT * FROM journal_open"))) == 20
    _check(db)
    # a row queued before v3 has no elapsed stamp: the oldest age counts from elapsed 0
    assert Outbox(db).stats(now_ms=90_000).oldest_pending_age_s == 90


OPS = st.lists(st.tuples(st.sampled_from(["add", "claim", "deliver", "retry", "dead", "requeue",
                                          "start", "end"]),
                         st.integers(0, 40), st.integers(0, 4)), max_size=80)


@settings(max_examples=60, deadline=None)
@given(OPS)
def test_every_change_keeps_the_figures_heads_and_open_sessions_right(tmp_path_factory, ops):
    db = connect(tmp_path_factory.mktemp("h") / "kiosk.db")
    outbox = Outbox(db)
    n = 0
    ended: set[str] = set()
    for op, k, acct in ops:
        ids = [r[0] for r in db.execute("SELECT id FROM outbox ORDER BY id")]
        target = ids[k % len(ids)] if ids else None
        if op == "add":
            n += 1
            db.execute("INSERT INTO outbox (kind, idem_key, account_no, body, amount_minor,"
                       " created_at, enqueued_elapsed_ms) VALUES (?,?,?,?,?,?,?)",
                       ("payment", f"k{n}", None if acct == 0 else f"A{acct}", b"{}", 100 * k, 0.0, n))
        elif target is None:
            pass
        elif op == "claim":
            outbox.claim(target)
        elif op == "deliver":
            outbox.delivered(target, 201, "{}", 1.0)
        elif op == "retry":
            outbox.retry_later(target, "down", float(k * 10))
        elif op == "dead":
            outbox.dead(target, "refused", 422, "{}")
        elif op == "requeue":
            outbox.requeue_dead()
        if op == "start" and f"s{k}" in ended:
            pass  # the shell mints each session id once: an ended session never starts again
        elif op == "start":
            db.execute("INSERT INTO journal (session_id, kind, data, at)"
                       " VALUES (?, 'session_start', '{}', 'x')", (f"s{k}",))
        elif op == "end":
            db.execute("INSERT INTO journal (session_id, kind, data, at)"
                       " VALUES (?, 'session_end', '{}', 'x')", (f"s{k}",))
            ended.add(f"s{k}")
        elif op == "add" and acct:
            db.execute("INSERT INTO journal (session_id, seq, kind, tender, value_minor, data, at)"
                       " VALUES (?, 1, 'credit', ?, 100, '{}', 'x')",
                       (f"k{n}", "note" if acct % 2 else "coin"))
        _check(db, now=float(k * 5))
