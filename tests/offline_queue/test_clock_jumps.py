"""Clocks may jump: the wall clock moved days either way changes neither the offline age cap,
nor backoff, nor the circuit; workers on one database share the circuit and take turns; a clock
set back is flagged for the operator once. Every clock here is injected: the wall clock is the
journal's FakeClock (or an explicit ``wall``), the monotonic one is ``mono``."""

from __future__ import annotations

import random
import socket
import threading
from datetime import timedelta

import pytest
import requests

from billing_server.seed import DEMO_ACCOUNTS
from kiosk.flow.events import QueueState
from kiosk.flow.rules import FlowConfig, offline_refusal
from offline_queue.elapsed import ElapsedClock
from offline_queue.journal import Journal
from offline_queue.outbox import Outbox
from offline_queue.schema import connect
from offline_queue.sync import Backoff, Circuit, SyncWorker
from tests.billing_server.conftest import sign_as_test_kiosk

ACC = [a.account_no for a in DEMO_ACCOUNTS]
CFG = FlowConfig()
CAP_S = CFG.offline_max_oldest_age_s
DAYS = 24 * 3600


def pay(journal, sid, acct=ACC[0], amount=1000):
    journal.session_start(sid, acct, amount)
    return journal.commit_payment(sid, acct, {amount: 1}, {}, amount, offline=True)


def refusal(outbox):
    s = outbox.stats()
    return offline_refusal(QueueState(False, s.pending + s.in_flight, s.pending_total_minor,
                                      s.oldest_pending_age_s), CFG, 0)


def dead_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


class WallClock:
    """An epoch-seconds wall clock a test can set back or forward."""

    def __init__(self, t: float = 1_795_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


# ---------------------------------------------------------------- the elapsed clock
def test_elapsed_clock_resumes_from_the_database_and_never_goes_back(tmp_path, mono):
    path = tmp_path / "k.db"
    stale = ElapsedClock(connect(path), monotonic=lambda: 0.0)  # a process that stands still
    first = ElapsedClock(connect(path), monotonic=mono)
    mono.advance(90)
    assert first.persist() == 90_000
    # A process started later continues from what is stored, not from zero ...
    later = ElapsedClock(connect(path), monotonic=mono)
    mono.advance(10)
    assert later.now_ms() == 100_000
    # ... one behind cannot move the stored value back, and adopts it instead of its own.
    assert stale.now_ms() == 0
    assert stale.persist() == 90_000 and first.stored_ms() == 90_000
    assert stale.now_ms() == 90_000


def test_elapsed_clock_saves_itself_periodically(db, mono):
    clock = ElapsedClock(db, monotonic=mono, persist_every_s=30)
    mono.advance(29)
    clock.now_ms()
    assert clock.stored_ms() == 0
    mono.advance(2)
    clock.now_ms()
    assert clock.stored_ms() == 31_000


# ---------------------------------------------------------------- offline age and the cap
@pytest.mark.parametrize("jump_days", [-5, 5])
def test_wall_clock_jump_changes_nothing_about_offline_age(journal, outbox, clock, mono, jump_days):
    pay(journal, "S1")
    mono.advance(3600)
    clock.advance(days=jump_days)
    assert outbox.stats().oldest_pending_age_s == 3600
    assert refusal(outbox) is None  # a forward jump does not refuse cash


@pytest.mark.parametrize("jump_days", [-5, 5])
def test_age_cap_trips_on_powered_on_time_whatever_the_wall_clock(journal, outbox, clock, mono,
                                                                   jump_days):
    pay(journal, "S1")
    mono.advance(CAP_S + 60)
    clock.advance(days=jump_days)  # set back: the cap must not be bypassed
    assert outbox.stats().oldest_pending_age_s == CAP_S + 60
    assert refusal(outbox) == "offline_too_long"


def test_age_is_measured_across_processes_and_restarts(tmp_path, clock, mono):
    path = tmp_path / "k.db"
    terminal_db = connect(path)
    running = ElapsedClock(terminal_db, monotonic=mono)
    pay(Journal(terminal_db, "KIOSK-T1", clock, elapsed=running), "S1")
    mono.advance(2 * DAYS)
    running.now_ms()  # the terminal's periodic save
    clock.advance(days=-5)
    # `kiosk queue status` after a restart: a new process whose monotonic clock starts afresh.
    status = Outbox(connect(path), elapsed=ElapsedClock(connect(path), monotonic=lambda: 7.0))
    assert status.stats().oldest_pending_age_s == 2 * DAYS


def test_rows_from_before_the_elapsed_clock_count_from_its_start(db, journal, outbox, mono):
    db.execute("INSERT INTO outbox (kind, idem_key, account_no, body, amount_minor,"
               " created_at) VALUES ('payment', 'OLD', ?, x'7b7d', 500,"
               " 4102444800)", (ACC[1],))  # a wall time far ahead: ignored
    mono.advance(600)
    pay(journal, "S1")
    mono.advance(60)
    assert outbox.stats().oldest_pending_age_s == 660  # the legacy row is the oldest
    mono.advance(CAP_S)
    assert refusal(outbox) == "offline_too_long"


# ---------------------------------------------------------------- backoff and the circuit
def worker(outbox, url, wall, **kw):
    kw.setdefault("backoff", Backoff(base_s=10, factor=1, cap_s=10))
    kw.setdefault("circuit", Circuit(threshold=100, cooldown_s=30))
    return sign_as_test_kiosk(SyncWorker(outbox, url, connect_timeout=0.5, read_timeout=1.0,
                                         rng=random.Random(3), wall=wall, **kw))


@pytest.mark.parametrize("jump_days", [-1, -5, 5])
def test_backoff_retries_on_schedule_after_a_jump(journal, outbox, clock, mono, jump_days):
    pay(journal, "S1")
    wall = WallClock()
    w = worker(outbox, dead_url(), wall)
    assert w.run_once().retried == 1
    next_at = journal.db.execute("SELECT next_attempt_at FROM outbox").fetchone()[0]
    wait = next_at - outbox.elapsed.now_s()  # elapsed seconds until the retry is due
    assert 0 <= wait <= 10
    wall.t += jump_days * DAYS
    clock.advance(days=jump_days)
    mono.advance(max(0.0, wait - 0.01))
    assert w.run_once().retried == 0  # not early
    mono.advance(0.02)
    assert w.run_once().retried == 1  # and not a day late
    assert journal.db.execute("SELECT attempts FROM outbox").fetchone()[0] == 2


def test_a_wall_clock_retry_time_from_before_does_not_hold_a_row(journal, outbox, mono):
    pay(journal, "S1")
    journal.db.execute("UPDATE outbox SET next_attempt_at = 1795000000 + 86400")
    w = worker(outbox, dead_url(), WallClock())
    assert w.run_once().retried == 1  # due now, not in a day (nor in 56 years)


@pytest.mark.parametrize("jump_days", [-5, 5])
def test_circuit_cooldown_is_unaffected_by_a_jump(journal, outbox, mono, jump_days):
    pay(journal, "S1")
    wall = WallClock()
    w = worker(outbox, dead_url(), wall, backoff=Backoff(0, 1, 0),
               circuit=Circuit(threshold=1, cooldown_s=30))
    first = w.run_once()
    assert first.circuit_open and first.retried == 1
    wall.t += jump_days * DAYS
    mono.advance(29)
    again = w.run_once()
    assert again.circuit_open and again.retried == 0
    mono.advance(2)
    assert w.run_once().retried == 1


def test_two_workers_share_one_circuit(tmp_path, clock, mono):
    path = tmp_path / "k.db"
    db_a, db_b = connect(path), connect(path)
    journal = Journal(db_a, "KIOSK-T1", clock, elapsed=ElapsedClock(db_a, monotonic=mono))
    for i in range(4):
        pay(journal, f"S{i}", ACC[i % len(ACC)])
    url, wall = dead_url(), WallClock()
    background, send_now = (
        worker(Outbox(d, ElapsedClock(d, monotonic=mono)), url, wall, backoff=Backoff(0, 1, 0),
               circuit=Circuit(threshold=2, cooldown_s=60))
        for d in (db_a, db_b))
    assert background.run_once().circuit_open
    second = send_now.run_once()
    assert second.circuit_open and second.retried == 0  # it did not hammer the server again


class Gate(requests.Session):
    """A session whose requests record start/end and can be held at the start."""

    def __init__(self, name: str, log: list[str], hold: threading.Event | None = None,
                 entered: threading.Event | None = None) -> None:
        super().__init__()
        self.name, self.log, self.hold, self.entered = name, log, hold, entered

    def request(self, *args, **kwargs):
        self.log.append(f"{self.name}-start")
        if self.entered is not None:
            self.entered.set()
        if self.hold is not None:
            assert self.hold.wait(30)
        try:
            return super().request(*args, **kwargs)
        finally:
            self.log.append(f"{self.name}-end")


def test_two_workers_on_one_database_do_not_run_at_once(tmp_path, clock, billing_server):
    path = tmp_path / "k.db"
    journal = Journal(connect(path), "KIOSK-T1", clock)
    pay(journal, "S1", ACC[0])
    pay(journal, "S2", ACC[1])  # another account: due at once, not behind S1
    log: list[str] = []
    hold, a_in, b_in = threading.Event(), threading.Event(), threading.Event()
    results = {}

    def run(name, session, **kw):  # each worker on its own thread's connection, as in the kiosk
        w = sign_as_test_kiosk(SyncWorker(Outbox(connect(path)), billing_server.url,
                                          session=session))
        results[name] = w.run_once(**kw)

    ta = threading.Thread(target=run, args=("a", Gate("a", log, hold, a_in)), kwargs={"max_rows": 1})
    tb = threading.Thread(target=run, args=("b", Gate("b", log, entered=b_in)))
    ta.start()
    assert a_in.wait(10)  # a is mid-request
    tb.start()
    entered = b_in.wait(1.0)  # bounded look: b must not start a request while a is sending
    hold.set()
    ta.join(30)
    tb.join(30)
    assert not entered
    assert log[:2] == ["a-start", "a-end"] and log[2:] == ["b-start", "b-end"]
    assert results["a"].delivered + results["b"].delivered == 2


# ---------------------------------------------------------------- the journal's wall clock
def flags(db):
    return [r[0] for r in db.execute("SELECT kind FROM flags ORDER BY id")]


def test_a_clock_set_back_is_flagged_once_per_jump(journal, db, clock):
    pay(journal, "S1")
    clock.advance(days=-5)
    pay(journal, "S2")
    pay(journal, "S3")
    assert flags(db) == ["clock_backwards"]  # the jump, not every commit after it
    clock.advance(days=7)  # forward: receipts stay in order, nothing to flag
    pay(journal, "S4")
    assert flags(db) == ["clock_backwards"]
    clock.advance(hours=-3)  # another jump back: flagged again
    pay(journal, "S5")
    assert flags(db) == ["clock_backwards", "clock_backwards"]
    detail = db.execute("SELECT detail FROM flags ORDER BY id").fetchone()[0]
    assert str(5 * DAYS) in detail


def test_a_jump_inside_a_session_is_flagged_at_its_commit(journal, db, clock):
    journal.session_start("S1", ACC[0], 1000)
    clock.advance(days=-1)
    journal.commit_payment("S1", ACC[0], {1000: 1}, {}, 1000, offline=True)
    assert flags(db) == ["clock_backwards"]
    # The payment keeps the wall-clock time it was taken at; only the operator is told.
    assert journal.payments()[0]["created_at"] == clock().isoformat(timespec="seconds")


def test_a_small_step_back_is_not_flagged(journal, db, clock):
    pay(journal, "S1")
    clock.now -= timedelta(seconds=1)
    pay(journal, "S2")
    assert flags(db) == []
