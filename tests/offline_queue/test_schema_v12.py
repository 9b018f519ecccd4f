"""Schema v12: the offline caps count queued payments only. A v11 database with payments and
other deliveries in every state migrates with its payments counted; the triggers keep the count
through every change of state; the oldest queued payment's age ignores an older rating; and
the session's queue figures, which the caps read, are the payments'."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

from kiosk.config import Config
from kiosk.flow.rules import FlowConfig, offline_refusal
from kiosk.services.runner import Devices, SessionRunner
from offline_queue.journal import Journal
from offline_queue.outbox import Outbox
from offline_queue.schema import SCHEMA_VERSION, connect

CST = timezone(timedelta(hours=8))
WHEN = datetime(2026, 11, 21, 9, 0, tzinfo=CST)


def _books(db, payments: int, ratings: int) -> Journal:
    journal = Journal(db, "KIOSK-T1", lambda: WHEN)
    for i in range(ratings):
        journal.enqueue("rating", f"rating-{i}", {"txn_id": f"T{i}", "kiosk_id": "KIOSK-T1",
                                                  "rating": 5})
    for i in range(payments):
        journal.commit_payment(f"S{i}", "3100000001", {1000: 1}, {}, 1000, offline=True)
    return journal


def _recount(db) -> dict[str, tuple[int, int]]:
    rows = db.execute("SELECT state, count(*), coalesce(sum(amount_minor), 0) FROM outbox"
                      " WHERE kind = 'payment' AND state IN ('PENDING', 'IN_FLIGHT')"
                      " GROUP BY state").fetchall()
    got = {s: (0, 0) for s in ("PENDING", "IN_FLIGHT")}
    got.update({s: (n, t) for s, n, t in rows})
    return got


def _kept(db) -> dict[str, tuple[int, int]]:
    return {s: (n, t) for s, n, t in db.execute("SELECT state, n, total_minor FROM payment_counts")}


def test_a_v11_database_migrates_with_its_queued_payments_counted(tmp_path):
    path = tmp_path / "k.db"
    db = connect(path)
    _books(db, payments=6, ratings=4)
    outbox = Outbox(db)
    rows = [r[0] for r in db.execute("SELECT id FROM outbox WHERE kind = 'payment' ORDER BY id")]
    outbox.claim(rows[0])
    outbox.claim(rows[1])
    outbox.delivered(rows[1], 201, "{}", 0.0)
    outbox.claim(rows[2])
    outbox.dead(rows[2], "refused", 422, "{}")
    db.conn.close()
    conn = sqlite3.connect(str(path), isolation_level=None)  # taken back to v11
    for trigger in ("payment_count_i", "payment_count_u", "payment_count_d"):
        conn.execute(f"DROP TRIGGER {trigger}")
    conn.execute("DROP INDEX outbox_open_payment_age")
    conn.execute("DROP TABLE payment_counts")
    conn.execute("PRAGMA user_version = 11")
    conn.close()
    db = connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 12
    assert _kept(db) == _recount(db) == {"PENDING": (3, 3000), "IN_FLIGHT": (1, 1000)}


def test_every_change_of_state_keeps_the_payment_count(tmp_path):
    db = connect(tmp_path / "k.db")
    _books(db, payments=5, ratings=3)
    outbox = Outbox(db)
    ids = [r[0] for r in db.execute("SELECT id FROM outbox ORDER BY id")]
    steps = [lambda i: outbox.claim(i), lambda i: outbox.delivered(i, 201, "{}", 0.0),
             lambda i: outbox.claim(i), lambda i: outbox.dead(i, "no", 422, ""),
             lambda i: outbox.claim(i), lambda i: outbox.release_in_flight()]
    for k, row_id in enumerate(ids):
        for step in steps[: 2 + (k % 3) * 2]:
            step(row_id)
            assert _kept(db) == _recount(db)
    assert outbox.requeue_dead() > 0  # staff send the dead letters again
    assert _kept(db) == _recount(db)
    db.execute("DELETE FROM outbox WHERE state = 'DELIVERED'")  # as an archive move does
    assert _kept(db) == _recount(db)
    stats = outbox.stats()
    assert stats.open_payments == sum(n for n, _ in _recount(db).values())
    assert stats.pending + stats.in_flight > stats.open_payments  # ratings queued beside them


def test_an_old_rating_does_not_age_the_queued_payments(tmp_path):
    db = connect(tmp_path / "k.db")
    _books(db, payments=2, ratings=1)
    # the rating was queued long before the payments (on the forward-only elapsed clock)
    db.execute("UPDATE outbox SET enqueued_elapsed_ms = 0 WHERE kind = 'rating'")
    newest = db.execute("SELECT max(enqueued_elapsed_ms) FROM outbox").fetchone()[0]
    db.execute("UPDATE outbox SET enqueued_elapsed_ms = ? WHERE kind = 'payment'", (newest,))
    stats = Outbox(db).stats(now_ms=newest + 60_000)
    assert stats.oldest_payment_age_s == 60
    assert stats.oldest_pending_age_s >= 60 + newest // 1000
    assert stats.open_payments == 2


def test_the_offline_caps_count_payments_not_what_waits_beside_them(tmp_path):
    """Cap of 3 queued payments: 2 payments and 5 ratings queued still take cash; a third
    payment reaches the cap."""
    db = connect(tmp_path / "k.db")
    journal = _books(db, payments=2, ratings=5)
    runner = SessionRunner(Config(), journal, Outbox(db), None, Devices(), lambda _: None, None)
    cfg = FlowConfig(offline_max_pending_count=3)
    state = runner.queue_state(online=False).queue
    assert state.pending_count == 2 and offline_refusal(state, cfg, 1000) is None
    journal.commit_payment("S9", "3100000001", {1000: 1}, {}, 1000, offline=True)
    state = runner.queue_state(online=False).queue
    assert offline_refusal(state, cfg, 1000) == "offline_queue_full"
