"""The journal's high-water record: written privately into two checksummed slots in turn (a torn
slot leaves the other), a JSON record of earlier versions still read, advanced only after a commit
at the cost of one write and one fdatasync, and compared with the database (new, shorter, fewer
payments, lost coin events)."""

from __future__ import annotations

import dataclasses
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


def legacy_json(record: hw.Record) -> bytes:
    """The record exactly as versions before the slot file wrote it."""
    return json.dumps({"version": 1, **dataclasses.asdict(record)}, sort_keys=True).encode()


def newest_slot(path) -> int:
    valid, _ = hw._slots(path.read_bytes())
    return max(valid)[1]


def damage(path, slot: int, how: str) -> None:
    """What a power cut in the middle of writing ``slot`` can leave."""
    start = slot * hw.SLOT_SIZE
    raw = bytearray(path.read_bytes())
    if how == "flipped":  # a digit of a count changed: still JSON, only the checksum notices
        at = raw.index(b'"payments":', start) + len(b'"payments":')
        raw[at] = ord("8") if raw[at] != ord("8") else ord("9")
    elif how == "zeros":
        raw[start:start + hw.SLOT_SIZE] = bytes(hw.SLOT_SIZE)
    elif how == "garbage":  # written but never synced: whatever the card kept
        raw[start:start + hw.SLOT_SIZE] = os.urandom(hw.SLOT_SIZE)
    elif how == "half":  # the first half of the new slot over the second half of the old one
        raw[start + 40:start + hw.SLOT_SIZE] = b"\x5a" * (hw.SLOT_SIZE - 40)
    elif how == "truncated":
        raw = raw[:start + 100]
    path.write_bytes(bytes(raw))


def test_a_torn_in_place_write_leaves_the_old_record_whole(path, monkeypatch):
    hw.write_record(path, hw.Record("abc", 7, 2, None))
    real_pwrite = os.pwrite

    def torn_pwrite(fd, data, offset):
        real_pwrite(fd, data[:64], offset)  # the power went before the record's last bytes
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "pwrite", torn_pwrite)
    with pytest.raises(OSError):
        hw.write_record(path, hw.Record("abc", 99, 50, None))
    assert hw.read_record(path) == hw.Record("abc", 7, 2, None)


def test_a_failed_sync_raises_so_the_next_commit_writes_again(path, monkeypatch):
    old, new = hw.Record("abc", 7, 2, None), hw.Record("abc", 99, 50, None)
    hw.write_record(path, old)
    monkeypatch.setattr(os, "fdatasync", lambda fd: (_ for _ in ()).throw(OSError(5, "EIO")))
    with pytest.raises(OSError):
        hw.write_record(path, new)
    # Both are records of committed state: the file may lag, never lead, and is never damaged.
    assert hw.read_record(path) in (old, new)


def test_a_failed_creation_leaves_the_old_json_record_whole(path, monkeypatch):
    path.parent.mkdir(mode=0o700, parents=True)
    path.write_bytes(legacy_json(hw.Record("abc", 7, 2, None)))
    real_fsync = os.fsync

    def failing_fsync(fd):
        if stat.S_ISREG(os.fstat(fd).st_mode):  # the new file itself, not its directory
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        hw.write_record(path, hw.Record("abc", 99, 50, None))
    assert hw.read_record(path) == hw.Record("abc", 7, 2, None)


def test_an_advance_is_one_write_and_one_fdatasync(db, path, monkeypatch):
    water = hw.HighWater(db, path, hw.Record.of(hw.journal_state(db)))
    journal = Journal(db, "K1", on_commit=water.advance)
    pay(journal, "S1")  # created the file (the one rename and directory sync)
    calls = []
    real_pwrite, real_fdatasync = os.pwrite, os.fdatasync
    monkeypatch.setattr(os, "pwrite", lambda *a: calls.append("pwrite") or real_pwrite(*a))
    monkeypatch.setattr(os, "fdatasync", lambda fd: calls.append("fdatasync") or real_fdatasync(fd))
    for name in ("replace", "rename", "fsync"):
        monkeypatch.setattr(os, name, lambda *a, _n=name: pytest.fail(f"os.{_n} in an advance"))
    pay(journal, "S2")  # a credit and a payment: two commits, two advances
    assert calls == ["pwrite", "fdatasync"] * 2
    assert hw.read_record(path) == hw.Record.of(hw.journal_state(db))


@pytest.mark.parametrize("how", ["flipped", "zeros", "garbage", "half", "truncated"])
def test_a_torn_newest_slot_leaves_the_one_before(path, how):
    first, second = hw.Record("abc", 7, 2, None), hw.Record("abc", 9, 3, 4)
    hw.write_record(path, first)
    hw.write_record(path, second)
    damage(path, newest_slot(path), how)
    assert hw.read_record(path) == first


@pytest.mark.parametrize("how", ["flipped", "zeros", "garbage"])
def test_a_damaged_older_slot_does_not_hide_the_newest(path, how):
    hw.write_record(path, hw.Record("abc", 7, 2, None))
    hw.write_record(path, hw.Record("abc", 9, 3, 4))
    damage(path, 1 - newest_slot(path), how)
    assert hw.read_record(path) == hw.Record("abc", 9, 3, 4)


@pytest.mark.parametrize("how", [("zeros", "zeros"), ("flipped", "garbage"), ("garbage", "half")])
def test_both_slots_damaged_is_unreadable(path, how):
    hw.write_record(path, hw.Record("abc", 7, 2, None))
    hw.write_record(path, hw.Record("abc", 9, 3, 4))
    damage(path, 0, how[0])
    damage(path, 1, how[1])
    with pytest.raises(hw.RecordUnreadable, match="no valid slot"):
        hw.read_record(path)


def test_a_write_never_unsynced_overwrites_the_slot_that_survived(path):
    """Power lost between writing a slot and its fdatasync: the slot holds garbage. The next
    write goes over that garbage, never over the record that survived it."""
    first = hw.Record("abc", 7, 2, None)
    hw.write_record(path, first)
    hw.write_record(path, hw.Record("abc", 9, 3, None))
    lost = newest_slot(path)
    damage(path, lost, "garbage")
    assert hw.read_record(path) == first
    third = hw.Record("abc", 11, 4, None)
    hw.write_record(path, third)
    assert hw.read_record(path) == third and newest_slot(path) == lost
    damage(path, lost, "zeros")  # and that write torn too: the first record is still there
    assert hw.read_record(path) == first


def test_sequence_numbers_rise_and_slots_alternate_over_many_advances(db, path):
    water = hw.HighWater(db, path, hw.Record.of(hw.journal_state(db)))
    journal = Journal(db, "K1", on_commit=water.advance)
    seen = []
    for i in range(12):
        pay(journal, f"S{i}", coin_counter=i + 1)
        valid, damaged = hw._slots(path.read_bytes())
        assert damaged == [] or (i == 0 and len(valid) == 1)
        seq, slot, record = max(valid)
        assert record == water.record == hw.read_record(path)
        assert record.payments == i + 1 and record.coin_event_counter == i + 1
        seen.append((seq, slot))
    seqs = [s for s, _ in seen]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(a[1] != b[1] for a, b in zip(seen, seen[1:]))  # never the same slot twice running
    assert path.stat().st_size == hw.FILE_SIZE


def test_the_higher_sequence_wins_whichever_slot_it_is_in(path):
    path.parent.mkdir(mode=0o700, parents=True)
    old, new = hw.Record("abc", 1, 1, None), hw.Record("abc", 2, 2, None)
    for slots in ([(5, old), (6, new)], [(6, new), (5, old)]):
        path.write_bytes(b"".join(hw._slot_bytes(seq, r) for seq, r in slots))
        assert hw.read_record(path) == new


def test_a_json_record_of_an_earlier_version_is_read_then_replaced_by_slots(path):
    record = hw.Record("abc", 7, 2, 9, validator_notes=3, note_credits=3)
    path.parent.mkdir(mode=0o700, parents=True)
    path.write_bytes(legacy_json(record))
    assert hw.read_record(path) == record
    advanced = dataclasses.replace(record, journal_max_id=8, payments=3)
    hw.write_record(path, advanced)
    assert path.stat().st_size == hw.FILE_SIZE and path.read_bytes()[:4] == hw.SLOT_MAGIC
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == [hw.RECORD_NAME]
    assert hw.read_record(path) == advanced


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
    assert path.stat().st_size == hw.FILE_SIZE and hw.read_record(path).payments == 1
