"""The start-up check of the journal against its high-water record (offline_queue.highwater): a
database that is new, shorter or behind what the terminal last knew is a locking fault with
device ``journal`` — persisted in the database now open (the record file keeps disagreeing, so
the next start finds it again) — never a silent fresh start. Staff clear it with
``kiosk faults clear journal <code>``, which adopts the database as it is as the new baseline.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from kiosk.staff.audit import AuditLog
from kiosk.staff.audit_keys import configured
from kiosk.staff.faults import LockingFaults
from kiosk.staff.wiring import counter_source
from offline_queue import highwater as hw

log = logging.getLogger(__name__)


def validator_notes(config: Any, hub: Any) -> int | None:
    """The bill validator's cumulative stacked-note count, where it can be read before the
    drivers open: the simulator's non-volatile counters. ID-003 has no standard counter
    command, so a real validator gives None and only the record is compared."""
    source = counter_source(config, hub, None)
    if source is None:
        return None
    try:
        return sum(int(n) for n in (source() or {}).values())
    except Exception as exc:  # a device that cannot say proves nothing either way
        log.warning("validator counters unavailable at start: %s", exc)
        return None


def problem(db: Database, db_label: str, path: Path, notes: int | None = None,
            credits: int | None = None) -> hw.JournalFault | None:
    """What is wrong with this database against its record, or None (read-only)."""
    try:
        record = hw.read_record(path)
    except hw.RecordUnreadable as exc:
        return hw.JournalFault(hw.RECORD_UNREADABLE, (
            f"the journal high-water record {path} is unreadable ({exc}): nothing proves that "
            f"database {db_label} holds every payment"))
    state = hw.journal_state(db)
    if record is None:
        remembered = hw.meta_record(db)
        if remembered is None:
            return None  # first start after the upgrade, or a fresh install: the record is made
        return hw.JournalFault(hw.RECORD_MISSING, (
            f"the journal high-water record {remembered} of database {db_label} is missing"
            f"{'' if Path(remembered) == path.resolve() else f' (looked for {path})'}: "
            f"nothing proves the database holds every payment ({hw.describe(state)})"))
    return hw.compare(record, state, db_label, path, notes, credits)


def guard_on_start(db: Database, config: Any, hub: Any = None) -> hw.HighWater:
    """Compare, then either lock (persist the fault, raise ``JournalFault``) or refresh the
    record and return the ``HighWater`` that the journal advances after every commit."""
    path = hw.record_path(config.kiosk.state_dir)
    notes = validator_notes(config, hub)
    credits = hw.note_credits(db)
    fault = problem(db, config.kiosk.db, path, notes, credits)
    faults = LockingFaults(db, config.kiosk.db, AuditLog(db, keys=configured(config)))
    if fault is not None:
        faults.raised(fault.device, fault.code, fault.reason)
        hw.remember_record(db, path)  # so ``kiosk faults clear`` finds the record it must adopt
        raise fault
    active = [f for f in faults.active() if f.device == hw.JOURNAL_DEVICE]
    if active:  # found at an earlier start and not cleared yet: stays locked
        raise hw.JournalFault(active[0].code, active[0].reason)
    record = hw.Record.of(hw.journal_state(db), notes, credits)
    hw.write_record(path, record)
    hw.remember_record(db, path)
    return hw.HighWater(db, path, record)
