"""The journal's high-water record: a small file kept outside the database that says how far the
journal had got (its identity, last row id, payment count, the coin acceptor's last journaled
event counter).

Nothing inside a database can notice that it lost its newest commits: in WAL mode a committed
transaction lives in the ``-wal`` file until a checkpoint, and without that file the database
still opens cleanly. A record outside it can: at start the database must be the same one (same
``meta.identity``) and at least as far as the record. The record is advanced only after a
commit has returned, so it may lag the database (a failed record write) but never lead it: a
database behind its record has lost something.

The record is advanced after every commit, so it must cost little: the file holds two fixed-size
slots, written alternately in place (one small write and an fdatasync per advance). Each slot
carries a sequence number and a checksum over its bytes; reading takes the valid slot with the
highest sequence. A write only ever touches the slot that is not the newest valid one, so a power
cut in the middle of it (a torn slot, zeros, garbage) leaves the other slot whole: the record then
lags by one advance, which is allowed, and never leads. The file is created whole (temp file,
fsync, rename, fsync of the directory) once; a record in the JSON format of earlier versions is
read as it is and replaced by the slot file in that same atomic way at the first write, which is
why the file keeps its ``.json`` name (the path a database remembers in ``meta`` stays the same).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import struct
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from offline_queue.errors import IntegrityError
from offline_queue.private import private_dirs

log = logging.getLogger(__name__)

RECORD_NAME = "journal-highwater.json"
VERSION = 1  # the JSON format of earlier versions, still read
#: Each slot is one file-system block, so a torn write of one cannot reach into the other.
SLOT_SIZE = 4096
FILE_SIZE = 2 * SLOT_SIZE
SLOT_MAGIC = b"KHW\x02"
#: magic, sequence number, payload length; then the payload (the record as JSON) and the digest
#: (SHA-256 of header and payload, truncated), then zeros to the end of the slot.
_HEADER = struct.Struct(">4sQH")
_DIGEST = 16
_MAX_PAYLOAD = SLOT_SIZE - _HEADER.size - _DIGEST
#: ``meta`` key set once a record has been written for this database: a database that has it
#: but finds no record file knows the record was removed (not a first start after an upgrade).
META_KEY = "highwater_record"

JOURNAL_DEVICE = "journal"
REPLACED, BEHIND = "replaced", "behind"
RECORD_MISSING, RECORD_UNREADABLE = "record_missing", "record_unreadable"
#: A note can be stacked in the instant before the host dies, ahead of its credit; power-up
#: reconciliation resolves that one. More notes than that is history the journal lost.
NOTES_IN_FLIGHT = 1


class JournalFault(IntegrityError):
    """The journal is new, shorter or behind its high-water record: the terminal locks."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{JOURNAL_DEVICE}/{code}: {reason}")
        self.device = JOURNAL_DEVICE
        self.code = code
        self.reason = reason


class RecordUnreadable(Exception):
    """The record file exists but cannot be read or parsed."""


def record_path(state_dir: str | os.PathLike[str]) -> Path:
    return Path(state_dir) / RECORD_NAME


@dataclass(frozen=True)
class JournalState:
    """What the database holds now, in the record's terms."""

    identity: str | None
    journal_max_id: int
    payments: int
    coin_event_counter: int | None


@dataclass(frozen=True)
class Record:
    identity: str
    journal_max_id: int
    payments: int
    coin_event_counter: int | None
    # The bill validator's cumulative stacked-note count and the journal's note credits when
    # the terminal last started; None where the validator has no counters to read.
    validator_notes: int | None = None
    note_credits: int | None = None

    @classmethod
    def of(cls, state: JournalState, validator_notes: int | None = None,
           note_credits: int | None = None) -> "Record":
        return cls(state.identity or "", state.journal_max_id, state.payments,
                   state.coin_event_counter, validator_notes, note_credits)

    def advanced(self, state: JournalState) -> "Record":
        return replace(self, journal_max_id=state.journal_max_id, payments=state.payments,
                       coin_event_counter=state.coin_event_counter)


def journal_state(db: Database) -> JournalState:
    identity, max_id, payments, coins = db.execute(
        "SELECT (SELECT value FROM meta WHERE key = 'identity'),"
        # counted by triggers (schema v5); payments moved to a monthly archive
        # (offline_queue/archive.py) still count
        " (SELECT coalesce(max(id), 0) FROM journal),"
        " (SELECT n FROM row_counts WHERE name = 'payments')"
        " + (SELECT coalesce(sum(payments), 0) FROM archive_moves),"
        " (SELECT value FROM counters WHERE name = 'coin_event_counter')").fetchone()
    return JournalState(identity, max_id, payments, coins)


def note_credits(db: Database) -> int:
    return db.execute(
        "SELECT (SELECT n FROM row_counts WHERE name = 'note_credits')"
        " + (SELECT coalesce(sum(note_credits), 0) FROM archive_moves)").fetchone()[0]


def is_empty(state: JournalState) -> bool:
    return state.journal_max_id == 0 and state.payments == 0 and state.coin_event_counter is None


# ---------------------------------------------------------------- the file
def _int(data: dict[str, Any], key: str, optional: bool = False) -> int | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RecordUnreadable(f"field {key!r} is {value!r}, not a count")
    return value


def _record_of(data: Any) -> Record:
    if not isinstance(data, dict):
        raise RecordUnreadable("not a record")
    identity = data.get("identity")
    if not isinstance(identity, str) or not identity:
        raise RecordUnreadable("no database identity in it")
    return Record(identity, _int(data, "journal_max_id"), _int(data, "payments"),  # type: ignore[arg-type]
                  _int(data, "coin_event_counter", True), _int(data, "validator_notes", True),
                  _int(data, "note_credits", True))


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RecordUnreadable(f"not JSON: {exc}") from None


def _digest(header_and_payload: bytes) -> bytes:
    return hashlib.sha256(header_and_payload).digest()[:_DIGEST]


def _slot_bytes(seq: int, record: Record) -> bytes:
    payload = json.dumps(asdict(record), sort_keys=True, separators=(",", ":")).encode()
    if len(payload) > _MAX_PAYLOAD:
        raise ValueError(f"high-water record of {len(payload)} bytes does not fit a slot")
    body = _HEADER.pack(SLOT_MAGIC, seq, len(payload)) + payload
    return (body + _digest(body)).ljust(SLOT_SIZE, b"\0")


def _parse_slot(raw: bytes) -> tuple[int, Record]:
    """(sequence, record) of one slot; RecordUnreadable when it is torn, zeroed or garbage."""
    if len(raw) < _HEADER.size:
        raise RecordUnreadable("cut short")
    magic, seq, length = _HEADER.unpack_from(raw)
    if magic != SLOT_MAGIC:
        raise RecordUnreadable("no record in it")
    end = _HEADER.size + length
    if length > _MAX_PAYLOAD or len(raw) < end + _DIGEST:
        raise RecordUnreadable("cut short")
    if raw[end:end + _DIGEST] != _digest(raw[:end]):
        raise RecordUnreadable("checksum mismatch")
    return seq, _record_of(_json(raw[_HEADER.size:end]))


def _is_slot_file(raw: bytes) -> bool:
    return (len(raw) == FILE_SIZE or raw[:4] == SLOT_MAGIC
            or raw[SLOT_SIZE:SLOT_SIZE + 4] == SLOT_MAGIC)


def _slots(raw: bytes) -> tuple[list[tuple[int, int, Record]], list[str]]:
    """The valid slots as (sequence, index, record) and what is wrong with the others."""
    valid, damaged = [], []
    for index in (0, 1):
        try:
            seq, record = _parse_slot(raw[index * SLOT_SIZE:(index + 1) * SLOT_SIZE])
        except RecordUnreadable as exc:
            damaged.append(f"slot {index}: {exc}")
        else:
            valid.append((seq, index, record))
    return valid, damaged


def _winner(valid: list[tuple[int, int, Record]]) -> tuple[int, int, Record]:
    """The highest sequence (slot 0 on a tie): what a read returns and a write must not touch."""
    return max(valid, key=lambda v: (v[0], -v[1]))


def _newest(raw: bytes) -> tuple[int, int, Record]:
    valid, damaged = _slots(raw)
    if not valid:
        raise RecordUnreadable(f"no valid slot ({'; '.join(damaged)})")
    return _winner(valid)


def read_record(path: Path) -> Record | None:
    """The record, None when there is no file; RecordUnreadable when it is damaged (both slots,
    or a JSON record of earlier versions that does not parse)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RecordUnreadable(str(exc)) from None
    if _is_slot_file(raw):
        return _newest(raw)[2]
    data = _json(raw)  # written by an earlier version: replaced by slots at the first write
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise RecordUnreadable(f"not a version {VERSION} record")
    return _record_of(data)


def write_record(path: Path, record: Record) -> None:
    """Make ``record`` the newest durably: in place over the slot that is not the newest valid
    one, or, when there is no slot file yet (none, the JSON format, both slots damaged), by
    creating one whole. The file is 0600, its directory 0700."""
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        private_dirs(path.parent)
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        # One writer at a time (the terminal's commits, a staff CLI adopting): two writers that
        # chose the same slot could otherwise end up writing both.
        fcntl.flock(dir_fd, fcntl.LOCK_EX)
        if not _write_in_place(path, record):
            _create(path, record, dir_fd)
    finally:
        os.close(dir_fd)  # releases the lock


def _write_in_place(path: Path, record: Record) -> bool:
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        raw = os.pread(fd, FILE_SIZE + 1, 0)
        if len(raw) != FILE_SIZE:
            return False  # the JSON format, or cut short: created whole instead
        valid, _ = _slots(raw)
        if not valid:
            return False
        seq, index, _ = _winner(valid)
        data = _slot_bytes(seq + 1, record)
        target = (1 - index) * SLOT_SIZE
        if os.pwrite(fd, data, target) != len(data):
            raise OSError(f"short write to {path}")
        # The file's size and blocks never change here, so fdatasync need not touch the inode:
        # that (and no rename, no directory sync) is what keeps an advance cheap.
        os.fdatasync(fd)
        return True
    finally:
        os.close(fd)


def _create(path: Path, record: Record, dir_fd: int) -> None:
    seq = 1
    try:
        seq = _newest(path.read_bytes())[0] + 1  # a damaged or cut-short slot file
    except (OSError, RecordUnreadable):
        pass
    tmp = path.with_name(path.name + ".tmp")
    # Both slots allocated now, so an in-place write never grows the file; the second slot is
    # zeros (no record) until the next write.
    body = _slot_bytes(seq, record) + b"\0" * SLOT_SIZE
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if os.write(fd, body) != len(body):
            raise OSError(f"short write to {tmp}")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    os.fsync(dir_fd)  # the rename itself survives a power cut only once the directory is synced


# ---------------------------------------------------------------- the comparison
def describe(state: JournalState) -> str:
    pays = f"{state.payments} payment{'' if state.payments == 1 else 's'}"
    return f"journal row {state.journal_max_id} and {pays}"


def compare(record: Record, state: JournalState, db_label: str, path: Path,
            validator_notes: int | None = None, credits_now: int | None = None) -> JournalFault | None:
    """The fault when the database is not the one the record describes or is behind it."""
    expected = (f"the record in {path} expected journal row {record.journal_max_id} and "
                f"{record.payments} payment{'' if record.payments == 1 else 's'}")
    devices = _device_evidence(record, state, validator_notes, credits_now)
    tail = f"; {'; '.join(devices)}" if devices else ""
    if state.identity != record.identity:
        what = f"identity {state.identity}" if state.identity else "no identity"
        return JournalFault(REPLACED, f"database {db_label} is new ({what}, has "
                                      f"{describe(state)}); {expected}{tail}")
    short = []
    if state.journal_max_id < record.journal_max_id:
        short.append(f"the journal ends at row {state.journal_max_id}")
    if state.payments < record.payments:
        short.append(f"it has {state.payments} payment{'' if state.payments == 1 else 's'}")
    if short or devices:
        what = ", ".join(short) or "the devices counted more than it holds"
        return JournalFault(BEHIND, f"database {db_label} is behind its record: {what}; "
                                    f"{expected}{tail}")
    return None


def _device_evidence(record: Record, state: JournalState, validator_notes: int | None,
                     credits_now: int | None) -> list[str]:
    """What the devices' own counters say the journal is missing."""
    out = []
    if record.coin_event_counter is not None and state.coin_event_counter is None:
        # ccTalk's event counter only moves forward (1..255, never back to 0 but on reset), so
        # a journal that never saw a coin while the record saw counter N has lost those coins.
        out.append(f"the coin acceptor's event counter was journaled at {record.coin_event_counter}"
                   " and the journal has no coin event")
    elif (record.coin_event_counter is not None
          and state.coin_event_counter != record.coin_event_counter
          and state.journal_max_id < record.journal_max_id):
        out.append(f"the coin acceptor's event counter was journaled at {record.coin_event_counter},"
                   f" the journal remembers {state.coin_event_counter}")
    if (validator_notes is not None and credits_now is not None
            and record.validator_notes is not None and record.note_credits is not None
            and validator_notes >= record.validator_notes):
        stacked = validator_notes - record.validator_notes
        credited = credits_now - record.note_credits
        if stacked > max(credited, 0) + NOTES_IN_FLIGHT:
            out.append(f"the bill validator stacked {stacked} notes since the last start and the "
                       f"journal credits {max(credited, 0)}")
    return out


def meta_record(db: Database) -> str | None:
    """Where this database's record was last written (None: never, e.g. before an upgrade)."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", (META_KEY,)).fetchone()
    return row[0] if row else None


def remember_record(db: Database, path: Path) -> None:
    if meta_record(db) == str(path.resolve()):
        return
    db.execute("INSERT INTO meta (key, value) VALUES (?, ?)"
               " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (META_KEY, str(path.resolve())))


def adopt(db: Database, path: Path) -> Record:
    """Staff cleared a journal fault: the database as it is now becomes the new baseline."""
    record = Record.of(journal_state(db))
    write_record(path, record)
    remember_record(db, path)
    return record


# ---------------------------------------------------------------- kept up to date
class HighWater:
    """Advanced after each journal commit (``Journal(on_commit=...)``), on the committing thread."""

    def __init__(self, db: Database, path: Path, record: Record) -> None:
        self.db = db
        self.path = path
        self.record = record

    def advance(self) -> None:
        """Move the record up to what the database has now committed. A failed write is logged
        and retried at the next commit: the record lags (the check loses reach), never leads."""
        if self.db.conn.in_transaction:
            return  # called inside a larger transaction (a flag within a payment): not committed yet
        state = journal_state(self.db)
        new = self.record.advanced(state)
        if new == self.record:
            return
        try:
            write_record(self.path, new)
        except OSError as exc:
            log.error("journal high-water record %s not written: %s", self.path, exc)
            return
        self.record = new
