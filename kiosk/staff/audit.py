"""The staff audit log: append-only, each entry sealed with an HMAC-SHA-256 over its fields and
the seal of the one before it, under a key kept outside the database (kiosk/staff/audit_keys.py,
docs/security.md). An edited, deleted, reordered or re-sealed entry breaks the chain at a place
``verify`` names — including a chain re-hashed with the plain SHA-256 of earlier versions. The
head's sequence and seal go out with every heartbeat, and the reference server flags a head that
does not extend the last one it saw; the ``audit_anchor`` row catches entries cut off the end.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterator

from sqlite_utils import Database

from kiosk.staff.audit_keys import AuditKeys, Keyring
from kiosk.staff.errors import AuditKeyError
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
AUDIT_KEY_CREATED = "audit_key_created"
AUDIT_KEY_ROTATED = "audit_key_rotated"

#: set by the v5 migration: how many entries were written unkeyed before keyed audit existed
LEGACY_META = "audit_legacy_until"


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_text(seq: int, at: str, actor: str, role: str, action: str, detail: str,
               prev_hash: str) -> bytes:
    """Every stored field, as a JSON array (no separator ambiguity): what a seal covers."""
    return canonical([seq, at, actor, role, action, detail, prev_hash]).encode("utf-8")


def entry_hash(seq: int, at: str, actor: str, role: str, action: str, detail: str,
               prev_hash: str) -> str:
    """The unkeyed SHA-256 of earlier versions: still how pre-upgrade entries verify, and what
    anyone without the key can compute (so it never passes for a keyed entry)."""
    return hashlib.sha256(entry_text(seq, at, actor, role, action, detail, prev_hash)).hexdigest()


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
    def __init__(self, db: Database, clock: Callable[[], datetime] | None = None, *,
                 keys: AuditKeys) -> None:
        self.db = db
        self.clock = clock or (lambda: datetime.now().astimezone())
        self.keys = keys

    def _keyring(self, last_seq: int, rekey: bool = False) -> Keyring:
        """The keys, made at the first start (inside the chain's write lock, so two first
        starts cannot seal with two keys: the second finds the first's file). A chain that
        already has keyed entries never gets a new key silently: that is how a deleted key
        file and a re-hashed chain would pass; ``kiosk audit new-key`` says so in the chain."""
        if self.keys.exists():
            return self.keys.load()
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (LEGACY_META,)).fetchone()
        legacy = int(row[0]) if row else 0
        if last_seq > legacy and not rekey:
            raise AuditKeyError(f"no audit key at {self.keys.path} for the {last_seq} entries of "
                                "this chain: restore it from the backup, point --state-dir at "
                                "it, or start a new key with `kiosk audit new-key`")
        if last_seq > legacy:
            log.error("audit key %s missing: a new key seals the entries after #%d; those up to "
                      "it can no longer be verified (docs/security.md, The audit key)",
                      self.keys.path, last_seq)
        ring = self.keys.create(last_seq, legacy)
        log.warning("new audit key %s (back it up with the database: docs/security.md)",
                    self.keys.path)
        return ring

    def ensure_key(self, actor: str = "terminal", rekey: bool = False) -> bool:
        """At start-up: the key exists (made now on a first start, True) and is private.
        ``rekey``: a new key although keyed entries exist (the old key is lost: those entries
        will never verify again, and the chain says so)."""
        if self.keys.exists():
            self.keys.load()
            return False
        with immediate(self.db):
            seq, _ = self.tip()
            self._keyring(seq, rekey)
            if seq:  # a key made under existing entries says so in the chain itself
                self.append(actor, "-", AUDIT_KEY_CREATED, after_seq=seq)
        return True

    def rotate_key(self, actor: str) -> AuditEntry:
        """A new key for the entries from now on (docs/security.md, Rotation)."""
        with immediate(self.db):
            seq, _ = self.tip()
            self.keys.rotate(seq + 2)  # the rotation's own entry is the last one of the old key
            return self.append(actor, "admin", AUDIT_KEY_ROTATED, from_seq=seq + 2)

    def append(self, actor: str, role: str, action: str, /, **detail: Any) -> AuditEntry:
        detail_text = canonical(detail)
        at = self.clock().isoformat(timespec="milliseconds")
        with immediate(self.db):
            row = self.db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
            ring = self._keyring(seq - 1)
            text = entry_text(seq, at, actor, role, action, detail_text, prev)
            digest = ring.seal(seq, text) or Keyring((ring.writing(),)).seal(seq, text)
            assert digest is not None
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
        """The seal at the head of the chain (GENESIS when empty): sent with each heartbeat."""
        return self.tip()[1]

    def tip(self) -> tuple[int, str]:
        """The head's sequence number and seal ((0, GENESIS) when empty)."""
        row = self.db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else (0, GENESIS)

    def seal_at(self, seq: int) -> str | None:
        """The stored seal of entry ``seq`` (GENESIS for 0), None when there is no such entry."""
        if seq == 0:
            return GENESIS
        row = self.db.execute("SELECT hash FROM audit_log WHERE seq = ?", (seq,)).fetchone()
        return row[0] if row else None

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
        try:
            ring = self.keys.load() if self.keys.exists() else None
        except AuditKeyError as exc:
            return VerifyResult(False, 0, GENESIS, 1, str(exc))
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
            if ring is None:
                return VerifyResult(False, count, prev, seq, f"entry #{seq} cannot be checked: no "
                                    f"audit key at {self.keys.path} (docs/security.md)")
            want = ring.seal(seq, entry_text(seq, at, actor, role, action, detail, prev_hash))
            if want is None:
                return VerifyResult(False, count, prev, seq,
                                    f"entry #{seq} was sealed with an audit key this terminal no "
                                    "longer has: it cannot be trusted")
            if not hmac.compare_digest(want, stored):
                return VerifyResult(False, count, prev, seq,
                                    f"entry #{seq} was altered or re-sealed without the audit key: "
                                    "its content does not match its seal")
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
