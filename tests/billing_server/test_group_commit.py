"""Group commit (billing_server/group_commit.py): writers share a transaction, and none of
them returns before the commit holding its write."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from billing_server.group_commit import GroupCommit


def _conn(path):
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY)")
    return conn


def test_every_writer_returns_only_after_its_row_is_committed(tmp_path):
    path = tmp_path / "l.db"
    lock = GroupCommit(_conn(path))
    unseen: list[str] = []
    go = threading.Barrier(24)

    def writer(i: int) -> None:
        go.wait()
        with lock.joined() as c:
            c.execute("INSERT INTO t VALUES (?)", (f"k{i}",))
        other = sqlite3.connect(path)  # another connection sees only committed rows
        if other.execute("SELECT count(*) FROM t WHERE k = ?", (f"k{i}",)).fetchone()[0] != 1:
            unseen.append(f"k{i}")
        other.close()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert unseen == []
    assert lock.joined_writes == 24
    assert 1 <= lock.commits <= 24


def test_a_failed_write_is_rolled_back_and_leaves_no_transaction_open(tmp_path):
    conn = _conn(tmp_path / "l.db")
    lock = GroupCommit(conn)
    with pytest.raises(RuntimeError):
        with lock.joined() as c:
            c.execute("INSERT INTO t VALUES ('gone')")
            raise RuntimeError("refused")
    assert not conn.in_transaction
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0


def test_plain_use_commits_the_open_group_first(tmp_path):
    conn = _conn(tmp_path / "l.db")
    lock = GroupCommit(conn)
    with lock:
        conn.execute("BEGIN IMMEDIATE")  # code written for a plain lock still works
        conn.execute("INSERT INTO t VALUES ('plain')")
        conn.execute("COMMIT")
    assert not conn.in_transaction
