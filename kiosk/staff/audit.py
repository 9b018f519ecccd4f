"""The staff audit log: append-only, each entry carrying the hash of the one before it, so an
edited, deleted or reordered entry breaks the chain at a place ``verify`` names. The head hash
goes out with every heartbeat; the ``audit_anchor`` row catches entries cut off the end."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterator

from sqlite_utils import Database

from offline_queue.schema import immediate  # noqa: F401 - the staff modules take it from here

log = logging.getLogger(__name__)

GENESIS = "0" * 64

# What staff do and what the terminal does on their behalf.
LOGIN = "login"
LOGIN_FAILED = "login_failed"
LOGIN_LOCKED = "login_locked_out"
LOGOUT = "logout"
SESSION_EXPIRED = "session_expired"
PERMISSION_DENIED = "permission_denied"
SELF_TEST = "self_test"
DIAGNOSTICS = "diagnostics"
FORCE_SYNC = "force_sync"
COLLECTION_CLOSED = "collection_closed"
COLLECTION = "collection"
REPRINT = "reprint"
REPORT = "report"
FAULT_RAISED = "fault_raised"
FAULT_CLEARED = "fault_cleared"
STAFF_ADDED = "staff_added"
STAFF_PIN_CHANGED = "staff_pin_changed"
STAFF_REMOVED = "staff_removed"




def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(seq: int, at: str, actor: str, role: str, action: str, detail: str,
               prev_hash: str) -> str:
    """SHA-256 over every stored field, as a JSON array (no separator ambiguity)."""
    return hashlib.sha256(
        canonical([seq, at, actor, role, action, detail, prev_hash]).encode("utf-8")
    ).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    role: str
    action: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int
    head: str
    first_bad: int | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class AuditLog:
    def __init__(self, db: Database, clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self.clock = clock or (lambda: datetime.now().astimezone())

    def append(self, actor: str, role: str, action: str, /, **detail: Any) -> AuditEntry:
        detail_text = canonical(detail)
        at = self.clock().isoformat(timespec="milliseconds")
        with immediate(self.db):
            row = self.db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
            digest = entry_hash(seq, at, actor, role, action, detail_text, prev)
            self.db.execute(
                "INSERT INTO audit_log (seq, at, actor, role, action, detail, prev_hash, hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, at, actor, role, action, detail_text, prev, digest),
            )
            self.db.execute(
                "INSERT INTO audit_anchor (id, seq, hash) VALUES (1, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                (seq, digest),
            )
        log.info("audit #%d %s by %s (%s)", seq, action, actor, role)
        return AuditEntry(seq, at, actor, role, action, detail, prev, digest)

    def head(self) -> str:
        """The hash at the head of the chain (GENESIS when empty): sent with each heartbeat."""
        row = self.db.execute("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        return row[0] if row else GENESIS

    def entries(self, limit: int | None = None, action: str | None = None) -> list[AuditEntry]:
        """Newest first."""
        sql = "SELECT seq, at, actor, role, action, detail, prev_hash, hash FROM audit_log"
        args: list[Any] = []
        if action:
            sql += " WHERE action = ?"
            args.append(action)
        sql += " ORDER BY seq DESC"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        out = []
        for r in self.db.execute(sql, args).fetchall():
            try:
                detail = json.loads(r[5])
            except ValueError:
                detail = {"unreadable": r[5]}
            out.append(AuditEntry(r[0], r[1], r[2], r[3], r[4], detail, r[6], r[7]))
        return out

    def verify(self) -> VerifyResult:
        """Walk the chain from the start; the first entry that does not hold is named."""
        prev, expected, count = GENESIS, 1, 0
        last_seq = 0
        rows = self.db.execute(
            "SELECT seq, at, actor, role, action, detail, prev_hash, hash FROM audit_log ORDER BY seq"
        )
        for seq, at, actor, role, action, detail, prev_hash, stored in rows:
            count += 1
            if seq != expected:
                return VerifyResult(False, count, prev, seq,
                                    f"entry #{seq} found where #{expected} belongs: entries "
                                    "missing or moved")
            if prev_hash != prev:
                return VerifyResult(False, count, prev, seq,
                                    f"entry #{seq} does not link to the entry before it: an entry "
                                    "was changed, deleted or moved")
            if entry_hash(seq, at, actor, role, action, detail, prev_hash) != stored:
                return VerifyResult(False, count, prev, seq,
                                    f"entry #{seq} was altered: its content does not match its hash")
            prev, expected, last_seq = stored, expected + 1, seq
        anchor = self.db.execute("SELECT seq, hash FROM audit_anchor WHERE id = 1").fetchone()
        if anchor is None and count:
            return VerifyResult(False, count, prev, 1, "the chain anchor is missing")
        if anchor is not None and (anchor[0], anchor[1]) != (last_seq, prev):
            if anchor[0] > last_seq:
                return VerifyResult(False, count, prev, last_seq + 1,
                                    f"entries #{last_seq + 1}..#{anchor[0]} are missing from the end")
            return VerifyResult(False, count, prev, last_seq or 1,
                                f"the chain head does not match its anchor (#{anchor[0]})")
        return VerifyResult(True, count, prev)
