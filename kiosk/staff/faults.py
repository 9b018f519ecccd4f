"""Faults that lock the terminal (docs/promises.md) — jam, cash box removed, stacker full,
database integrity failure — persisted so they stay locked across a restart until staff clear
them (audited) or the device itself reports them over.

Device faults live in the ``locking_faults`` table. A failed integrity check is also written to
a small file beside the database, because the database that failed cannot be trusted to hold
its own fault. ``DeviceWatch`` is the hook the session runner calls with every driver event.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from sqlite_utils import Database

from drivers import interfaces as d
from kiosk.flow import events as e
from kiosk.staff import audit as a
from kiosk.staff.errors import FaultNotClearable
from offline_queue import highwater as hw

log = logging.getLogger(__name__)

DB_DEVICE, DB_CODE = "database", "integrity"
CASHBOX_CODES = frozenset({"stacker_open", "stacker_full"})
CASHBOX_REMOVED = "stacker_open"


@dataclass(frozen=True)
class LockingFault:
    device: str
    code: str
    reason: str
    raised_at: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


def integrity_problem(db: Database) -> str | None:
    """None when ``PRAGMA quick_check`` passes, else what it (or SQLite) said."""
    try:
        rows = [r[0] for r in db.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if rows == ["ok"] else "; ".join(rows[:5])


class LockingFaults:
    def __init__(self, db: Database, db_path: str | os.PathLike[str] | None, audit: a.AuditLog,
                 clock: Callable[[], datetime] | None = None,
                 highwater: str | os.PathLike[str] | None = None) -> None:
        self.db = db
        self.audit = audit
        self.clock = clock or (lambda: datetime.now().astimezone())
        self.marker = Path(f"{db_path}.integrity-fault") if db_path else None
        self.highwater = Path(highwater) if highwater else None  # the journal's record

    def _now(self) -> str:
        return self.clock().isoformat(timespec="seconds")

    # ---------------------------------------------------------------- raising
    def raised(self, device: str, code: str, reason: str) -> bool:
        """Persist a locking fault; False when it was already active (the device repeats)."""
        with a.immediate(self.db):
            cur = self.db.execute(
                "INSERT OR IGNORE INTO locking_faults (device, code, reason, raised_at)"
                " VALUES (?, ?, ?, ?)", (device, code, reason, self._now()))
            if cur.rowcount != 1:
                return False
            self.audit.append(device, "device", a.FAULT_RAISED, device=device, code=code,
                              reason=reason)
        log.warning("locking fault %s/%s: %s", device, code, reason)
        return True

    # ---------------------------------------------------------------- clearing
    def device_cleared(self, device: str, code: str) -> bool:
        """The device reported the fault over (cash box back in, jam cleared)."""
        with a.immediate(self.db):
            cur = self.db.execute(
                "UPDATE locking_faults SET cleared_at = ?, cleared_by = ? WHERE device = ?"
                " AND code = ? AND cleared_at IS NULL", (self._now(), f"device:{device}", device, code))
            if cur.rowcount != 1:
                return False
            self.audit.append(device, "device", a.FAULT_CLEARED, device=device, code=code,
                              by="device")
        return True

    def clear(self, device: str, code: str, actor: str, role: str) -> LockingFault:
        """Staff clear a fault (the caller checked the permission). Audited."""
        if (device, code) == (DB_DEVICE, DB_CODE):
            return self._clear_database(actor, role)
        fault = next((f for f in self.active() if (f.device, f.code) == (device, code)), None)
        if fault is None:
            raise FaultNotClearable(f"no active fault {device}/{code}")
        if device == hw.JOURNAL_DEVICE:
            self._adopt_journal()
        with a.immediate(self.db):
            self.db.execute(
                "UPDATE locking_faults SET cleared_at = ?, cleared_by = ? WHERE device = ?"
                " AND code = ? AND cleared_at IS NULL", (self._now(), f"staff:{actor}", device, code))
            self.audit.append(actor, role, a.FAULT_CLEARED, device=device, code=code, by="staff",
                              reason=fault.reason)
        return fault

    def _adopt_journal(self) -> None:
        """Clearing a journal fault makes the database as it is the new high-water baseline
        (offline_queue.highwater); without that the next start would lock again."""
        remembered = hw.meta_record(self.db)
        if self.highwater is None or (remembered and Path(remembered) != self.highwater.resolve()):
            raise FaultNotClearable(f"this database's high-water record is {remembered}, not "
                                    f"{self.highwater}: give the terminal's --state-dir")
        try:
            hw.adopt(self.db, self.highwater)
        except OSError as exc:
            raise FaultNotClearable(f"high-water record {self.highwater} not written: {exc}") from None

    def _clear_database(self, actor: str, role: str) -> LockingFault:
        fault = self._marker_fault()
        if fault is None:
            raise FaultNotClearable("no database integrity fault is recorded")
        problem = integrity_problem(self.db)
        if problem is not None:
            raise FaultNotClearable(f"the database still fails its integrity check: {problem}")
        self.audit.append(actor, role, a.FAULT_CLEARED, device=DB_DEVICE, code=DB_CODE,
                          by="staff", reason=fault.reason)
        assert self.marker is not None
        self.marker.unlink(missing_ok=True)
        return fault

    # ---------------------------------------------------------------- reading
    def active(self) -> list[LockingFault]:
        out = [LockingFault(*r) for r in self.db.execute(
            "SELECT device, code, reason, raised_at FROM locking_faults WHERE cleared_at IS NULL"
            " ORDER BY id").fetchall()]
        marker = self._marker_fault()
        return ([marker] if marker else []) + out

    def history(self, device: str | None = None, limit: int = 10) -> list[dict[str, Any]]:
        sql = "SELECT device, code, reason, raised_at, cleared_at, cleared_by FROM locking_faults"
        args: list[Any] = []
        if device:
            sql += " WHERE device = ?"
            args.append(device)
        rows = self.db.execute(sql + " ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
        keys = ("device", "code", "reason", "raised_at", "cleared_at", "cleared_by")
        return [dict(zip(keys, r)) for r in rows]

    def _marker_fault(self) -> LockingFault | None:
        if self.marker is None or not self.marker.exists():
            return None
        try:
            data = json.loads(self.marker.read_text("utf-8"))
            return LockingFault(DB_DEVICE, DB_CODE, str(data.get("reason", "")),
                                str(data.get("raised_at", "")))
        except (OSError, ValueError):
            # An unreadable marker is still a marker: stay locked.
            return LockingFault(DB_DEVICE, DB_CODE, "integrity fault marker unreadable", "")

    def replay(self, post: Callable[[Any], None]) -> int:
        """At start-up: lock the session again for every fault not cleared before the restart."""
        faults = self.active()
        for f in faults:
            post(e.DeviceFaulted(f.device, f.code, f.reason))
        return len(faults)


def _write_atomic(path: Path, obj: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class DeviceWatch:
    """What the runner hands every driver event to (on its deciding thread): locking faults are
    persisted and cleared, and a cash box removal closes the collection batch."""

    def __init__(self, faults: LockingFaults, on_cashbox_removed: Callable[[], Any] | None = None) -> None:
        self.faults = faults
        self.on_cashbox_removed = on_cashbox_removed

    def __call__(self, ev: d.DeviceEvent) -> None:
        try:
            if isinstance(ev, d.DeviceFault) and ev.locking:
                new = self.faults.raised(ev.device, ev.code, ev.reason)
                if new and ev.code == CASHBOX_REMOVED and self.on_cashbox_removed is not None:
                    self.on_cashbox_removed()
            elif isinstance(ev, d.DeviceFaultCleared):
                self.faults.device_cleared(ev.device, ev.code)
        except Exception:  # the resident's session must not die of a bookkeeping error
            log.exception("recording device event %s failed", type(ev).__name__)


def check_on_start(db: Database, db_path: str | os.PathLike[str],
                   check: Callable[[Database], str | None] | None = None) -> str | None:
    """Start-up integrity check: a failure is written to the marker beside the database (so it
    stays locked even if a later check passes) and returned; the caller refuses to go on."""
    problem = (check or integrity_problem)(db)
    if problem is not None:
        _write_atomic(Path(f"{db_path}.integrity-fault"), {
            "device": DB_DEVICE, "code": DB_CODE, "reason": problem,
            "raised_at": datetime.now().astimezone().isoformat(timespec="seconds")})
        log.error("database integrity check failed: %s", problem)
    return problem
