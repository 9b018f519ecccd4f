"""The journal's high-water record: written atomically and privately, advanced only after a
commit, and compared with the database (new, shorter, fewer payments, lost coin events)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from offline_queue import highwater as hw
from offline_queue.journal import Journal
from offline_queue.schema import connect


@pytest.fixture
def db(tmp_path):
    return connect(tmp_path / "k.db")


@pytest.fixture
def path(tmp_path):
    return hw.record_path(tmp_path / "state")


def pay(journal: Journal, sid: str, coin_counter: int | None = None) -> None:
    journal.session_start(sid, "1234567890", 1000)
    journal.credit(sid, 1, "note", 1000)
    if coin_counter is not None:
        journal.credit(sid, 2, "coin", 100, device_counter=coin_counter)
        journal.commit_payment(sid, "1234567890", {1000: 1}, {100: 1}, 1100, offline=True)
    else:
        journal.commit_payment(sid, "1234567890", {1000: 1}, {}, 1000, offline=True)


def test_write_is_private_and_leaves_no_temp_file(path):
    record = hw.Record("abc", 7, 2, 9)
    hw.write_record(path, record)
    assert hw.read_record(path) == record
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == [hw.RECORD_NAME]


def test_a_write_that_fails_leaves_the_old_record_whole(path, monkeypatch):
    hw.write_record(path, hw.Record("abc", 7, 2, None))
    real_fsync = os.fsync

    def failing_fsync(fd):
        if stat.S_ISREG(os.fstat(fd).st_mode):  # the record itself, not its directory
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        hw.write_record(path, hw.Record("abc", 99, 50, None))
    assert hw.read_record(path) == hw.Record("abc", 7, 2, None)


@pytest.mark.parametrize("content", [b"", b"{not json", b"\xff\xfe", b"[]",
                                     b'{"version": 1, "identity": "x", "journal_max_id": -1,'
                                     b' "payments": 0}',
                                     b'{"version": 1, "identity": "x", "journal_max_id": 1.5,'
                                     b' "payments": 0}',
                                     b'{"version": 2, "identity": "x"}'])
def test_damaged_record_is_unreadable_not_absent(path, content):
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(hw.RecordUnreadable):
        hw.read_record(path)


def test_missing_record_reads_as_none(path):
    assert hw.read_record(path) is None


def test_advance_follows_commits_only(db, path):
    state = hw.journal_state(db)
    water = hw.HighWater(db, path, hw.Record.of(state))
    journal = Journal(db, "K1", on_commit=water.advance)
    pay(journal, "S1", coin_counter=4)
    record = hw.read_record(path)
    assert (record.journal_max_id, record.payments, record.coin_event_counter) == (
        hw.journal_state(db).journal_max_id, 1, 4)
    assert record.identity == state.identity
    with db.atomic():  # inside an open transaction nothing is committed yet: no advance
        db.execute("INSERT INTO journal (session_id, kind, at) VALUES ('S2', 'session_start', 'x')")
        water.advance()
        assert hw.read_record(path).journal_max_id == record.journal_max_id


def test_a_failed_record_write_lags_and_catches_up(db, path, monkeypatch):
    water = hw.HighWater(db, path, hw.Record.of(hw.journal_state(db)))
    journal = Journal(db, "K1", on_commit=water.advance)
    real = hw.write_record
    monkeypatch.setattr(hw, "write_record", lambda *a: (_ for _ in ()).throw(OSError("full")))
    pay(journal, "S1")  # the payment itself is committed and stands
    assert hw.read_record(path) is None
    monkeypatch.setattr(hw, "write_record", real)
    pay(journal, "S2")
    assert hw.read_record(path).payments == 2


def test_same_database_as_far_as_the_record_is_fine(db, path):
    pay(Journal(db, "K1"), "S1")
    state = hw.journal_state(db)
    assert hw.compare(hw.Record.of(state), state, "k.db", path) is None


def test_identity_mismatch_is_replaced(db, tmp_path, path):
    pay(Journal(db, "K1"), "S1")
    old = hw.Record.of(hw.journal_state(db))
    fresh = connect(tmp_path / "other.db")
    fault = hw.compare(old, hw.journal_state(fresh), "var/kiosk.db", path)
    assert fault.code == hw.REPLACED and fault.device == "journal"
    new_id = hw.journal_state(fresh).identity
    assert f"database var/kiosk.db is new (identity {new_id}" in fault.reason
    assert f"the record in {path} expected journal row {old.journal_max_id} and 1 payment" in fault.reason


def test_shorter_journal_is_behind(db, path):
    journal = Journal(db, "K1")
    pay(journal, "S1")
    state = hw.journal_state(db)
    record = hw.Record.of(state)
    ahead = hw.Record(record.identity, state.journal_max_id + 3, state.payments, None)
    fault = hw.compare(ahead, state, "k.db", path)
    assert fault.code == hw.BEHIND
    assert f"the journal ends at row {state.journal_max_id}" in fault.reason


def test_fewer_payments_is_behind(db, path):
    pay(Journal(db, "K1"), "S1")
    state = hw.journal_state(db)
    record = hw.Record(state.identity, state.journal_max_id, 3, None)
    fault = hw.compare(record, state, "k.db", path)
    assert fault.code == hw.BEHIND and "it has 1 payment;" in fault.reason
    assert "expected journal row" in fault.reason and "and 3 payments" in fault.reason


def test_coin_events_the_journal_never_saw(db, path):
    state = hw.journal_state(db)
    record = hw.Record(state.identity, 0, 0, 17)
    fault = hw.compare(record, state, "k.db", path)
    assert fault.code == hw.BEHIND
    assert "coin acceptor's event counter was journaled at 17" in fault.reason


def test_validator_stacked_more_than_the_journal_credits(db, path):
    state = hw.journal_state(db)
    record = hw.Record(state.identity, 0, 0, None, validator_notes=10, note_credits=0)
    assert hw.compare(record, state, "k.db", path, validator_notes=11, credits_now=0) is None
    fault = hw.compare(record, state, "k.db", path, validator_notes=14, credits_now=0)
    assert fault.code == hw.BEHIND
    assert "bill validator stacked 4 notes since the last start" in fault.reason


def test_adopt_makes_the_database_the_baseline(db, path):
    pay(Journal(db, "K1"), "S1")
    record = hw.adopt(db, path)
    assert hw.read_record(path) == record
    assert hw.compare(record, hw.journal_state(db), "k.db", path) is None
    assert hw.meta_record(db) == str(path.resolve())
    assert json.loads(path.read_text())["payments"] == 1
