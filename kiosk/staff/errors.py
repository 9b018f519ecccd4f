"""Errors of the staff package; each carries a stable ``code`` the screens translate."""

from __future__ import annotations


class StaffError(Exception):
    """Base of staff errors."""

    code = "staff_error"


class BadPin(StaffError):
    """Unknown staff id or wrong PIN (never says which: that would help a guesser)."""

    code = "bad_pin"


class LockedOut(StaffError):
    """Too many failed attempts: no PIN is checked until ``until`` (epoch seconds)."""

    code = "locked_out"

    def __init__(self, until: float, wait_s: int) -> None:
        super().__init__(f"too many failed attempts: try again in {wait_s} s")
        self.until = until
        self.wait_s = wait_s


class PinRejected(StaffError):
    """A new PIN that is not acceptable (too short, not digits, too easy)."""

    code = "pin_rejected"


class PermissionDenied(StaffError):
    """The logged-in role may not do this."""

    code = "permission_denied"


class SessionExpired(StaffError):
    """The staff session ended (idle too long or logged out)."""

    code = "session_expired"


class UnknownStaff(StaffError):
    code = "unknown_staff"


class CollectionError(StaffError):
    """A collection step that cannot be done now (no such batch, already counted, bad count)."""

    code = "collection_error"


class FaultNotClearable(StaffError):
    """The fault cannot be cleared now (no such fault; the database still fails its check)."""

    code = "fault_not_clearable"


class AuditKeyError(StaffError):
    """The audit key file is missing where entries need it, unreadable or readable by others
    (docs/security.md, The audit key)."""

    code = "audit_key"
