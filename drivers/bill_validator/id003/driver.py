"""JCM ID-003 bill validator driver: the shared poll-thread driver
(drivers/bill_validator/common/poll.py) with ID-003's statuses, commands and power-up sequence.

Money rule: only VEND VALID (0x15) is money (:class:`NoteCredited`), once per note cycle; a
cycle starts only at a new ESCROW, so a VEND VALID repeated over polls or after a reconnect of this
driver is the same note (drivers/bill_validator/common/escrow.py).  A VEND VALID this instance
never saw escrowed (the process restarted) is not guessed at: it is ACKed and reported as
:class:`EventsLost` -- de-duplicating across process restarts is the journal's job (power-up
reconciliation), not the driver's.
"""

from __future__ import annotations

import logging
from typing import Any

from drivers.bill_validator.common.poll import COMM_FAULT, PollDriver
from drivers.bill_validator.id003 import protocol as p
from drivers.bill_validator.id003.link import LINE_SETTINGS, Link, LinkDown
from drivers.errors import FrameError
from drivers.interfaces import ChannelMap, DeviceStatus, Health, NoteRejected

__all__ = ["COMM_FAULT", "LINE_SETTINGS", "Id003Driver"]

log = logging.getLogger(__name__)


class Id003Driver(PollDriver):
    PROTOCOL = "id003"
    STOP_ACTION = "inhibit the acceptor"

    def __init__(
        self,
        name: str,
        port: Any,
        channels: ChannelMap,
        poll_interval: float = 0.1,
        reply_timeout: float = 0.3,
        retries: int = 3,
        hold_power_up: bool = False,
        owns_port: bool = False,
    ) -> None:
        super().__init__(name, port, channels, poll_interval, reply_timeout, retries,
                         hold_power_up, owns_port, {"polls": 0, "refused": 0})
        self._link = Link(name, port, reply_timeout, self.stats)
        self._identity: dict[str, str] = {"protocol": "id003"}

    def identity(self) -> dict[str, str]:
        """What the unit says it is (drivers/interfaces.py, ``Identified``): read with the
        version request (0x88) at every start-up, so a swapped unit shows; "firmware" is
        missing until it was read, or when the unit does not answer the request."""
        return dict(self._identity)

    def _device_health(self) -> Health:
        return self._status_health(p.PAUSE, p.STATUS_NAMES, "status")

    def _leave_disabled(self) -> None:
        self._link.transact(p.encode(p.SET_INHIBIT, b"\x01"), "echo", 1)

    def _initialise(self) -> None:
        """Status first (a power-up condition is reported before the reset resolves it), then
        reset, settings, and acceptance inhibited until the host enables it."""
        if not self._poll_at_start(p.POWER_UP_CONDITIONS, p.STATUS_AT_HOST_START):
            return
        self._operation(p.RESET)
        # The reset ended the power-up state: a power-up reported by the very next poll is a
        # new one and must be posted, not taken for the repeat of the one just resolved.
        self._status = p.INITIALIZE
        self._setting(p.SET_ENABLE, p.inhibit_mask(()))
        self._setting(p.SET_DIRECTION, b"\x00")
        self._setting(p.SET_INHIBIT, b"\x01")
        self._read_identity()
        self._needs_init = False

    def _read_identity(self) -> None:
        """Version information request (ID-003 specification, "version information request").
        An older unit answers INVALID COMMAND and one that stays silent is not waited out: the
        identity is for the operator and never holds acceptance up."""
        try:
            reply = self._link.transact(p.encode(p.VERSION_REQUEST), "read", 1)
        except LinkDown:
            if self._link.broken:
                raise  # the port failed: the poll loop re-opens it and starts over
            log.info("%s: no answer to the version request", self.name)
            return
        if reply.cmd == p.INVALID_COMMAND:
            log.info("%s: the unit does not answer the version request", self.name)
            return
        try:
            version = p.decode_version(reply.data)
        except FrameError as exc:
            self.stats["unexpected"] += 1
            log.warning("%s: unusable version string: %s", self.name, exc)
            return
        identity = {"protocol": "id003", **version}
        if identity != self._identity:
            log.info("%s: %s", self.name, version["version"])
        self._identity = identity

    def _execute(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        if kind == "enable":
            codes = {v: self.channels.channel_for(v) for v in op[1]}
            first = p.FIRST_DENOMINATION_CODE
            usable = {c for c in codes.values() if c is not None and first <= c < first + 16}
            unknown = sorted(v for v, c in codes.items() if c not in usable)
            if unknown:
                log.warning("%s: no C0 mask bit for %s; not enabled", self.name, unknown)
            codes = usable
            if not codes:
                self._setting(p.SET_INHIBIT, b"\x01")
                return
            self._setting(p.SET_ENABLE, p.inhibit_mask(codes))
            self._setting(p.SET_INHIBIT, b"\x00")
        elif kind == "disable":
            self._setting(p.SET_INHIBIT, b"\x01")
        elif kind == "stack":
            self._operation(p.STACK_1)
        elif kind == "return":
            self._escrow.request("return")
            self._operation(p.RETURN)

    def _poll(self) -> None:
        self.stats["polls"] += 1
        frame = self._transact(p.encode(p.STATUS_REQUEST), "status")
        self._on_status(frame)

    def _operation(self, cmd: int) -> None:
        reply = self._transact(p.encode(cmd), "ack")
        if reply.cmd == p.INVALID_COMMAND:
            self.stats["refused"] += 1
            log.warning("%s: device refused command 0x%02X in status %s", self.name, cmd,
                        p.STATUS_NAMES.get(self._status or 0, self._status))

    def _setting(self, cmd: int, data: bytes) -> None:
        reply = self._transact(p.encode(cmd, data), "echo")
        if reply.cmd == p.INVALID_COMMAND:
            self.stats["refused"] += 1
            log.warning("%s: device refused setting 0x%02X %s", self.name, cmd, data.hex())

    def _transact(self, raw: bytes, expect: str) -> p.Frame:
        reply = self._link.transact(raw, expect, self._attempts())
        self._link_up()
        return reply

    # ------------------------------------------------------------ status → events
    def _on_status(self, frame: p.Frame) -> None:
        code = frame.cmd
        previous, self._status = self._status, code
        detail = f" (code 0x{frame.data[0]:02X})" if frame.data else ""
        if self._fault_seen(p.FAULTS.get(code), detail):
            return
        if code in p.POWER_UP_CONDITIONS:
            self._power_up_seen(p.POWER_UP_CONDITIONS[code], previous != code)
        elif code == p.ESCROW:
            self._escrowed(frame.data[0], self.channels.value(frame.data[0]),
                           f"0x{frame.data[0]:02X}")
        elif code == p.VEND_VALID:
            self._escrow.credit(None, "VEND VALID for a note this driver did not see in "
                                "escrow: value unknown, to be reconciled from the journal and "
                                "the device counters")
            # Credit first, then ACK: if the ACK is lost, the repeat is recognised as this note.
            self._link.send(p.encode(p.ACK))
        elif code == p.STACKED:
            self._escrow.stacked()
        elif code == p.RETURNING:
            pass  # NoteReturned when the device is back to idle: then the note is out
        elif code == p.REJECTING:
            self._escrow.close("rejected")
            if previous != code:
                reason = frame.data[0]
                self._post(NoteRejected(self.name, p.reject_reason_text(reason), reason))
        elif code in (p.ENABLE_IDLING, p.DISABLE_INHIBIT, p.ACCEPTING):
            self._escrow.close("device")
        elif code == p.INITIALIZE:
            self._escrow.close("reset")
        elif code in (p.STACKING, p.HOLDING):
            pass
        elif previous != code:
            self._post(DeviceStatus(self.name, p.STATUS_NAMES.get(code, f"0x{code:02X}")))
