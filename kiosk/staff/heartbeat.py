"""The heartbeat: device health, queue depth, software version and the audit chain's head
(sequence and seal), so the utility holds an outside copy of the head and a rewritten, cut or
rolled-back chain shows (docs/security.md, The server's anchor). With it goes the seal of the
entry the server saw last (``audit_prev``): the server checks that the new head extends it. A
process that does not know yet which entry that was learns it from the answer and sends once
more.

Sent directly through the billing gateway, best effort: a heartbeat is only worth its latest
value, so one that cannot be sent is dropped, never queued behind payments."""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Mapping

from drivers.interfaces import Health
from kiosk import __version__
from kiosk.staff.audit import AuditLog
from offline_queue.errors import ApiUnavailable
from offline_queue.gateway import BillingGateway
from offline_queue.outbox import Outbox, QueueStats

log = logging.getLogger(__name__)


def build_heartbeat(kiosk_id: str, queue: QueueStats, devices: Mapping[str, Health],
                    audit_head: str, software_version: str = __version__,
                    audit_seq: int | None = None,
                    audit_prev: tuple[int, str] | None = None) -> dict[str, Any]:
    """The body of POST /v1/kiosks/{kiosk_id}/heartbeat (docs/billing-api.yaml: Heartbeat)."""
    depth = queue.pending + queue.in_flight
    anchor: dict[str, Any] = {}
    if audit_seq is not None:
        anchor["audit_seq"] = audit_seq
    if audit_prev is not None:
        anchor["audit_prev"] = {"seq": audit_prev[0], "hash": audit_prev[1]}
    return anchor | {
        "kiosk_id": kiosk_id,
        "software_version": software_version[:64],
        "queue_depth": depth,
        "oldest_pending_age_s": queue.oldest_pending_age_s if depth else None,
        "devices": {name[:64]: {"status": h.state.value, "reason": (h.reason or None) and h.reason[:500]}
                    for name, h in devices.items()},
        "audit_head": audit_head,
    }


class HeartbeatService:
    """``send_once()`` builds and sends one heartbeat; the app calls it on a timer."""

    def __init__(self, kiosk_id: str, outbox: Outbox, audit: AuditLog, gateway: BillingGateway,
                 device_health: Callable[[], Mapping[str, Health]],
                 clock: Callable[[], float] = time.time) -> None:
        self.kiosk_id = kiosk_id
        self.outbox = outbox
        self.audit = audit
        self.gateway = gateway
        self.device_health = device_health
        self.clock = clock
        self.last_sent_at: float | None = None
        self.last_error = ""
        #: the last entry the server confirmed it saw (None: not known in this process)
        self.server_seq: int | None = None
        #: the server's last word on the chain ({"status": "ok" | "unverified" | "flagged", …})
        self.audit_status: dict[str, Any] = {}

    def body(self) -> dict[str, Any]:
        seq, head = self.audit.tip()
        prev = None
        if self.server_seq is not None and self.server_seq <= seq:
            seal = self.audit.seal_at(self.server_seq)
            prev = (self.server_seq, seal) if seal is not None else None
        return build_heartbeat(self.kiosk_id, self.outbox.stats(), self.device_health(), head,
                               audit_seq=seq, audit_prev=prev)

    def send_once(self) -> bool:
        try:
            self._send()
            if self.audit_status.get("status") == "unverified" and self.server_seq is not None:
                self._send()  # now with the seal of the entry the server saw last
        except ApiUnavailable as exc:
            self.last_error = str(exc)
            log.info("heartbeat not sent: %s", exc)
            return False
        self.last_sent_at, self.last_error = self.clock(), ""
        return True

    def _send(self) -> dict[str, Any]:
        body = self.body()
        answer = self.gateway.heartbeat(self.kiosk_id, body)
        audit = answer.get("audit") if isinstance(answer, dict) else None
        if isinstance(audit, dict):
            self.audit_status = audit
            if isinstance(audit.get("seq"), int) and not isinstance(audit.get("seq"), bool):
                self.server_seq = audit["seq"]
            if audit.get("status") == "flagged":
                log.error("the billing server flags this terminal's audit chain: %s",
                          audit.get("reason"))
        return answer
