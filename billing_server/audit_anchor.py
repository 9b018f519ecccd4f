"""The server's copy of each kiosk's audit head (docs/billing-api.yaml: Heartbeat, AuditAnchor;
docs/security.md, The server's anchor). A kiosk's chain only grows: a heartbeat whose head is
behind the last one seen (a cut chain, an older database restored), differs at the same entry,
or does not carry the seal of the last seen entry unchanged (a rewrite) flags the kiosk. The
flag stays until the utility looks into it; the stored head stays the last good one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OK, UNVERIFIED, FLAGGED, UNKNOWN = "ok", "unverified", "flagged", "unknown"


@dataclass(frozen=True)
class Anchor:
    seq: int
    head: str
    flagged_reason: str | None = None
    flagged_at: str | None = None
    seen_at: str | None = None


@dataclass(frozen=True)
class Verdict:
    status: str
    anchor: Anchor  # what to store
    reason: str | None = None


def judge(stored: Anchor | None, seq: int, head: str, prev: dict[str, Any] | None,
          now: str) -> Verdict:
    """What a heartbeat's (seq, head, prev) says against the anchor stored for the kiosk."""
    if stored is None:
        return Verdict(OK, Anchor(seq, head, seen_at=now))
    if stored.flagged_reason:
        return Verdict(FLAGGED, stored, stored.flagged_reason)

    def flag(reason: str) -> Verdict:
        return Verdict(FLAGGED, Anchor(stored.seq, stored.head, reason, now, stored.seen_at), reason)

    if seq < stored.seq:
        return flag(f"the audit chain is back at entry #{seq}; entry #{stored.seq} was seen: "
                    "entries were cut or an older database was restored")
    if seq == stored.seq:
        if head != stored.head:
            return flag(f"entry #{seq} is not the one seen before: the chain was rewritten")
        return Verdict(OK, Anchor(seq, head, seen_at=now))
    if prev is None or prev.get("seq") != stored.seq:
        return Verdict(UNVERIFIED, stored,
                       f"send audit_prev with the seal of entry #{stored.seq}")
    if prev.get("hash") != stored.head:
        return flag(f"entry #{stored.seq} is not the one seen before: the chain was rewritten")
    return Verdict(OK, Anchor(seq, head, seen_at=now))


def answer(anchor: Anchor | None, status: str | None = None,
           reason: str | None = None) -> dict[str, Any]:
    """The AuditAnchor object of a heartbeat's answer and of GET /v1/kiosks/{kiosk_id}/audit."""
    if anchor is None:
        return {"status": UNKNOWN, "seq": 0, "head": None, "reason": None, "flagged_at": None,
                "seen_at": None}
    status = status or (FLAGGED if anchor.flagged_reason else OK)
    return {"status": status, "seq": anchor.seq, "head": anchor.head,
            "reason": reason if reason is not None else anchor.flagged_reason,
            "flagged_at": anchor.flagged_at, "seen_at": anchor.seen_at}
