"""Staff users, roles and logins (docs/promises.md, docs/security.md).

Roles: *maintenance* (diagnostics, self-tests, logs, device configuration, faults) and
*operator* (cash collection, takings and reports, reprints). Every attempt counts as a failure
against the entered staff id and terminal-wide *before* its PIN is checked, in the same
``BEGIN IMMEDIATE`` transaction that checks the lock, so attempts from any number of processes
are serialised and no more than the free attempts are ever evaluated; a correct PIN then takes
back its own count. Past the free attempts each failure doubles the wait, persisted so a restart
does not reset it. A success clears only that staff id's count; the terminal-wide count decays
with time. A session ends after an idle period. Every login, failure, denial and expiry is
written to the audit log. The clock is injectable (tests).
"""

from __future__ import annotations

import enum
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from sqlite_utils import Database

from kiosk.staff import audit as a
from kiosk.staff.errors import BadPin, LockedOut, PermissionDenied, SessionExpired, UnknownStaff
from kiosk.staff.pins import PRODUCTION, ScryptParams, check_new_pin, dummy_verify, hash_pin, verify_pin

log = logging.getLogger(__name__)

USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
GLOBAL_KEY = "*"


class Role(str, enum.Enum):
    MAINTENANCE = "maintenance"
    OPERATOR = "operator"


class Permission(str, enum.Enum):
    DIAGNOSTICS = "diagnostics"
    SELF_TEST = "self_test"
    VIEW_LOGS = "view_logs"
    CLEAR_FAULT = "clear_fault"  # any locking fault
    CLEAR_CASHBOX_FAULT = "clear_cashbox_fault"  # cash box removed / stacker full only
    FORCE_SYNC = "force_sync"
    VIEW_QUEUE = "view_queue"  # counts and ages, no money (promise 5: staff always see them)
    COLLECT_CASH = "collect_cash"
    VIEW_TAKINGS = "view_takings"  # amounts: reports, collections, pending totals
    REPRINT = "reprint"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.MAINTENANCE: frozenset({
        Permission.DIAGNOSTICS, Permission.SELF_TEST, Permission.VIEW_LOGS,
        Permission.CLEAR_FAULT, Permission.CLEAR_CASHBOX_FAULT, Permission.FORCE_SYNC,
        Permission.VIEW_QUEUE,
    }),
    Role.OPERATOR: frozenset({
        Permission.COLLECT_CASH, Permission.VIEW_TAKINGS, Permission.REPRINT,
        Permission.CLEAR_CASHBOX_FAULT, Permission.VIEW_QUEUE,
    }),
}


def check_user_id(text: str) -> str:
    if not USER_ID.fullmatch(text or ""):
        raise ValueError(f"staff id {text!r}: 1-32 letters, digits, '.', '_' or '-'")
    return text


@dataclass(frozen=True)
class LockoutPolicy:
    free_attempts: int = 3  # per staff id before any wait
    global_free_attempts: int = 10  # terminal-wide (someone trying many ids)
    base_delay_s: float = 30.0
    factor: float = 2.0
    max_delay_s: float = 3600.0
    global_decay_s: float = 600.0  # the terminal-wide count forgets one failure per period

    @classmethod
    def of(cls, staff: Any) -> "LockoutPolicy":
        """From the ``[staff]`` table (kiosk.config.StaffSection)."""
        return cls(free_attempts=staff.free_attempts,
                   global_free_attempts=staff.global_free_attempts,
                   global_decay_s=staff.global_decay_s)

    def delay(self, failures: int, free: int) -> float:
        """Seconds to wait after the ``failures``-th failure: 0, …, 30, 60, 120 … up to an hour."""
        if failures < free:
            return 0.0
        return min(self.max_delay_s, self.base_delay_s * self.factor ** (failures - free))


@dataclass
class StaffSession:
    """One logged-in member of staff. Ends on logout or after ``idle_timeout_s`` without use."""

    user_id: str
    role: Role
    started_at: float
    last_active: float
    idle_timeout_s: float
    ended: bool = False

    def allows(self, perm: Permission) -> bool:
        return perm in ROLE_PERMISSIONS[self.role]

    def expired(self, now: float) -> bool:
        # A wall clock set back by more than the idle period ends the session too: otherwise it
        # would stay open until the clock caught up (days). The screens' own idle timer runs on
        # Kivy's monotonic clock (kiosk/ui/staff.py), so a jump does not keep them open either.
        idle = now - self.last_active
        return self.ended or idle > self.idle_timeout_s or idle < -self.idle_timeout_s

    @property
    def actor(self) -> str:
        return self.user_id


class StaffAuth:
    def __init__(self, db: Database, audit: a.AuditLog, *, clock: Callable[[], float] = time.time,
                 params: ScryptParams = PRODUCTION, policy: LockoutPolicy | None = None,
                 idle_timeout_s: float = 120.0) -> None:
        self.db = db
        self.audit = audit
        self.clock = clock
        self.params = params
        self.policy = policy or LockoutPolicy()
        self.idle_timeout_s = idle_timeout_s

    # ---------------------------------------------------------------- the directory
    def add_user(self, user_id: str, role: Role | str, pin: str, actor: str) -> None:
        user_id, role = check_user_id(user_id), Role(role)
        check_new_pin(pin, user_id)
        if self._user(user_id) is not None:
            raise ValueError(f"staff id {user_id!r} already exists")
        now = self._stamp()
        with a.immediate(self.db):
            self.db.execute(
                "INSERT INTO staff_users (user_id, role, pin_hash, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)", (user_id, role.value, hash_pin(pin, self.params), now, now))
            self.audit.append(actor, "admin", a.STAFF_ADDED, user_id=user_id, role=role.value)

    def set_pin(self, user_id: str, pin: str, actor: str) -> None:
        if self._user(user_id) is None:
            raise UnknownStaff(f"no staff id {user_id!r}")
        check_new_pin(pin, user_id)
        with a.immediate(self.db):
            self.db.execute("UPDATE staff_users SET pin_hash = ?, updated_at = ? WHERE user_id = ?",
                            (hash_pin(pin, self.params), self._stamp(), user_id))
            self.db.execute("DELETE FROM login_throttle WHERE key = ?", (f"user:{user_id}",))
            self.audit.append(actor, "admin", a.STAFF_PIN_CHANGED, user_id=user_id)

    def remove_user(self, user_id: str, actor: str) -> None:
        with a.immediate(self.db):
            if self.db.execute("DELETE FROM staff_users WHERE user_id = ?", (user_id,)).rowcount != 1:
                raise UnknownStaff(f"no staff id {user_id!r}")
            self.audit.append(actor, "admin", a.STAFF_REMOVED, user_id=user_id)

    def users(self) -> list[dict[str, Any]]:
        """Staff ids, roles and lockout state; never the hashes."""
        now = self.clock()
        rows = self.db.execute(
            "SELECT u.user_id, u.role, u.created_at, u.updated_at, coalesce(t.failures, 0),"
            " coalesce(t.locked_until, 0) FROM staff_users u"
            " LEFT JOIN login_throttle t ON t.key = 'user:' || u.user_id ORDER BY u.user_id"
        ).fetchall()
        return [{"user_id": r[0], "role": r[1], "created_at": r[2], "updated_at": r[3],
                 "failed_attempts": r[4],
                 "locked_for_s": max(0, int(self._bounded(r[4], r[5], now,
                                                          self.policy.free_attempts) - now + 0.999))}
                for r in rows]

    def _user(self, user_id: str) -> tuple[str, str] | None:
        row = self.db.execute("SELECT role, pin_hash FROM staff_users WHERE user_id = ?",
                              (user_id,)).fetchone()
        return (row[0], row[1]) if row else None

    # ---------------------------------------------------------------- logging in
    def login(self, user_id: str, pin: str) -> StaffSession:
        """A session, or BadPin / LockedOut. While locked no PIN is even checked."""
        now = self.clock()
        user_key = f"user:{user_id}"
        pol = self.policy
        wait = 0
        with a.immediate(self.db):
            until = max(self._locked_until(user_key, now, pol.free_attempts, None),
                        self._locked_until(GLOBAL_KEY, now, pol.global_free_attempts,
                                           pol.global_decay_s))
            if until > now:
                wait = int(until - now + 0.999)
                self.audit.append(user_id[:32] or "?", "-", a.LOGIN_LOCKED, wait_s=wait)
            else:
                # Counted as a failure before the PIN is checked: a process killed during the
                # check, or a parallel attempt, cannot get a free try (docs/security.md, Lockout).
                failures = self._fail(user_key, now, pol.free_attempts, None)
                self._fail(GLOBAL_KEY, now, pol.global_free_attempts, pol.global_decay_s)
                user = self._user(user_id)
        if wait:
            raise LockedOut(until, wait)
        if user is None:
            dummy_verify(self.params)  # same time as a real check: ids are not revealed
            ok = False
        else:
            ok = verify_pin(pin, user[1])
        if not ok:
            self.audit.append(user_id[:32] or "?", user[0] if user else "-", a.LOGIN_FAILED,
                              failures=failures, known=user is not None,
                              locked_for_s=int(pol.delay(failures, pol.free_attempts)))
            log.warning("staff login failed (%d in a row)", failures)
            raise BadPin("wrong staff id or PIN")
        role = Role(user[0])
        with a.immediate(self.db):
            # Only this id's count is cleared; the terminal-wide one loses just this attempt's
            # own count (it was no failure) and otherwise decays with time.
            self.db.execute("DELETE FROM login_throttle WHERE key = ?", (user_key,))
            self._unfail(GLOBAL_KEY, now, pol.global_free_attempts, pol.global_decay_s)
            self.audit.append(user_id, role.value, a.LOGIN)
        return StaffSession(user_id, role, now, now, self.idle_timeout_s)

    def _counts(self, key: str, now: float, decay_s: float | None) -> tuple[int, float]:
        """(failures, locked_until) of ``key``; with ``decay_s`` one failure is forgotten per
        ``decay_s`` since the last one (a clock set back forgets nothing)."""
        row = self.db.execute("SELECT failures, locked_until, last_failure_at FROM login_throttle"
                              " WHERE key = ?", (key,)).fetchone()
        if row is None:
            return 0, 0.0
        failures = row[0]
        if decay_s:
            failures = max(0, failures - int(max(0.0, now - row[2]) // decay_s))
        return failures, float(row[1])

    def _locked_until(self, key: str, now: float, free: int, decay_s: float | None) -> float:
        failures, locked_until = self._counts(key, now, decay_s)
        if not locked_until:
            return 0.0
        until = self._bounded(failures, locked_until, now, free)
        if until < locked_until:  # the clock was set back: the wait restarts on the new time, once
            self.db.execute("UPDATE login_throttle SET locked_until = ? WHERE key = ?", (until, key))
        return until

    def _bounded(self, failures: int, locked_until: float, now: float, free: int) -> float:
        """``locked_until`` is wall-clock time, so the lockout holds across processes and
        restarts; bounded by what the failure count earns, a clock set back days locks no one
        out for days. A clock set forward ends at most the wait in progress: the failure count
        is kept, so the next wrong PIN waits the doubled delay again (no guessing is gained)."""
        return min(float(locked_until), now + self.policy.delay(failures, free))

    def _fail(self, key: str, now: float, free: int, decay_s: float | None) -> int:
        failures = self._counts(key, now, decay_s)[0] + 1
        self._store(key, failures, now + self.policy.delay(failures, free), now)
        return failures

    def _unfail(self, key: str, now: float, free: int, decay_s: float | None) -> None:
        failures, locked_until = self._counts(key, now, decay_s)
        failures = max(0, failures - 1)
        until = min(locked_until, now + self.policy.delay(failures, free))
        self.db.execute("UPDATE login_throttle SET failures = ?, locked_until = ? WHERE key = ?",
                        (failures, until, key))

    def _store(self, key: str, failures: int, until: float, now: float) -> None:
        self.db.execute(
            "INSERT INTO login_throttle (key, failures, locked_until, last_failure_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET failures = excluded.failures,"
            " locked_until = excluded.locked_until, last_failure_at = excluded.last_failure_at",
            (key, failures, until, now))

    # ---------------------------------------------------------------- using a session
    def check(self, session: StaffSession, perm: Permission, what: str = "") -> None:
        """Raise SessionExpired or PermissionDenied (both audited); otherwise keep it alive."""
        if not self.alive(session):
            raise SessionExpired("the staff session has ended: log in again")
        if not session.allows(perm):
            self.audit.append(session.actor, session.role.value, a.PERMISSION_DENIED,
                              permission=perm.value, what=what)
            raise PermissionDenied(f"{session.role.value} staff may not {what or perm.value}")
        session.last_active = self.clock()

    def alive(self, session: StaffSession) -> bool:
        if session.expired(self.clock()):
            if not session.ended:
                session.ended = True
                self.audit.append(session.actor, session.role.value, a.SESSION_EXPIRED,
                                  idle_s=int(self.clock() - session.last_active))
            return False
        return True

    def logout(self, session: StaffSession) -> None:
        if not session.ended:
            session.ended = True
            self.audit.append(session.actor, session.role.value, a.LOGOUT)

    def _stamp(self) -> str:
        return datetime.fromtimestamp(self.clock()).astimezone().isoformat(timespec="seconds")
