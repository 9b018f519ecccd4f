"""WAL checkpoints leave the resident's commit (offline_queue/checkpoint.py): a connection that
leaves them commits without copying the log back, the checkpointer does, the backstop keeps the
log bounded without it, a failing look does not stop it, and the terminal wires all of it."""

from __future__ import annotations

import sqlite3
import threading

from offline_queue.checkpoint import BACKSTOP_PAGES, Checkpointer, leave_checkpoints
from offline_queue.schema import connect


def _wal_frames(path) -> int:
    """Frames in the log not yet copied back, read without checkpointing (a read-only look)."""
    size = (path.parent / f"{path.name}-wal").stat().st_size
    return max(0, (size - 32) // (4096 + 24))


def _write(db, n: int, start: int = 0) -> None:
    for i in range(start, start + n):  # one transaction each, as payments commit
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (f"k{i}", "x" * 3000))


def _wait(predicate, timeout=30.0) -> bool:
    done = threading.Event()
    deadline = threading.Timer(timeout, done.set)
    deadline.start()
    try:
        while not predicate():
            if done.wait(0.01):
                return predicate()
        return True
    finally:
        deadline.cancel()


def test_a_connection_that_leaves_checkpoints_does_not_copy_the_log_back(tmp_path):
    path = tmp_path / "k.db"
    db = connect(path)
    leave_checkpoints(db)
    assert db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == BACKSTOP_PAGES
    _write(db, 1500)  # past SQLite's default of 1,000 pages: a default connection checkpoints
    busy, frames, done = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    # every frame was still in the log for this look to copy: no commit had done it
    assert busy == 0 and frames >= 1500 and done == frames


def test_by_default_a_commit_checkpoints_itself(tmp_path):
    """The baseline the change is measured against: the commit that passes 1,000 pages pays."""
    path = tmp_path / "k.db"
    db = connect(path)
    _write(db, 1500)
    busy, frames, done = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert frames < 1500  # the log was restarted by a commit's own checkpoint on the way


def test_the_checkpointer_copies_the_log_back_on_its_own_thread(tmp_path):
    path = tmp_path / "k.db"
    db = connect(path)
    leave_checkpoints(db)
    ckpt = Checkpointer(path, connect, every_s=0.01).start()
    try:
        _write(db, 300)
        # caught up: a look after the last commit found every frame copied
        assert _wait(lambda: ckpt.last is not None and ckpt.last[1] >= 300
                     and ckpt.last[1] == ckpt.last[2])
        assert ckpt.alive() and ckpt.failures == 0
    finally:
        ckpt.stop()
    assert not ckpt.alive()
    assert db.execute("SELECT count(*) FROM meta WHERE key LIKE 'k%'").fetchone()[0] == 300


def test_the_checkpointer_waits_while_a_session_is_in_progress(tmp_path):
    path = tmp_path / "k.db"
    db = connect(path)
    leave_checkpoints(db)
    idle = threading.Event()
    looked = threading.Event()

    def is_idle():
        looked.set()
        return idle.is_set()

    ckpt = Checkpointer(path, connect, every_s=0.01, is_idle=is_idle).start()
    try:
        _write(db, 100)
        assert looked.wait(10)
        looked.clear()
        assert looked.wait(10)  # it asked again, and still did nothing
        assert ckpt.passes == 0 and ckpt.last is None
        idle.set()  # the session ended
        assert _wait(lambda: ckpt.last is not None and ckpt.last[1] == ckpt.last[2] >= 100)
    finally:
        ckpt.stop()


def test_without_the_checkpointer_the_backstop_bounds_the_log(tmp_path):
    path = tmp_path / "k.db"
    db = connect(path)
    leave_checkpoints(db, backstop_pages=200)
    _write(db, 1000)
    # the log file keeps its largest size: restarted at the backstop, never much past it
    assert _wal_frames(path) <= 200 + 10
    unbounded = tmp_path / "u.db"
    other = connect(unbounded)
    leave_checkpoints(other, backstop_pages=0)  # no backstop at all: the log only grows
    _write(other, 1000)
    assert _wal_frames(unbounded) >= 1000


def test_a_failing_look_is_counted_and_the_next_one_runs(tmp_path):
    path = tmp_path / "k.db"
    db = connect(path)
    leave_checkpoints(db)
    calls = []

    def flaky(p):
        calls.append(p)
        if len(calls) == 1:
            raise sqlite3.OperationalError("unable to open database file")
        return connect(p)

    ckpt = Checkpointer(path, flaky, every_s=0.01).start()
    try:
        _write(db, 50)
        assert _wait(lambda: ckpt.passes >= 1 and ckpt.last is not None and ckpt.last[1] >= 50
                     and ckpt.last[1] == ckpt.last[2])
        assert ckpt.failures == 1 and len(calls) == 2
    finally:
        ckpt.stop()


def test_the_terminal_leaves_checkpoints_to_its_checkpointer(tmp_path):
    import argparse

    from drivers.transport import SimulatorHub
    from kiosk.cli.config_args import config
    from kiosk.services.terminal import Terminal

    cfg = config(argparse.Namespace(config=None), db=str(tmp_path / "kiosk.db"),
                 api="http://127.0.0.1:9", kiosk_id="KIOSK-CKPT",
                 state_dir=str(tmp_path / "state"))
    term = Terminal(cfg, SimulatorHub(cfg.kiosk.state_dir))
    term.sync_enabled = False
    term.start()
    try:
        assert term.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == BACKSTOP_PAGES
        assert term.checkpointer.alive()
        assert "checkpoint" in {t.name for t in threading.enumerate()}
    finally:
        term.stop()
    assert not term.checkpointer.alive()
