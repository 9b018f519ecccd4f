"""The heartbeat: device health, queue depth, software version and the audit chain's head hash,
so the utility holds an outside copy of the head and a rewritten chain shows.

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
                    audit_head: str, software_version: str = __version__) -> dict[str, Any]:
    """The body of POST /v1/kiosks/{kiosk_id}/heartbeat (docs/billing-api.yaml: Heartbeat)."""
    depth = queue.pending + queue.in_flight
    return {
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

    def body(self) -> dict[str, Any]:
        return build_heartbeat(self.kiosk_id, self.outbox.stats(),
                               self.device_health(), self.audit.head())

    def send_once(self) -> bool:
        body = self.body()
        try:
            self.gateway.heartbeat(self.kiosk_id, body)
        except ApiUnavailable as exc:
            self.last_error = str(exc)
            log.info("heartbeat not sent: %s", exc)
            return False
        self.last_sent_at, self.last_error = self.clock(), ""
        return True
