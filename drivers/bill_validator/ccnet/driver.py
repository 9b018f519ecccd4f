"""CashCode CCNET bill validator driver: one poll thread owns the port, sends queued commands,
POLLs every ``poll_interval``, ACKs every answer and posts immutable events.  A drop-in for
the ID-003 driver: the same public methods and the same typed events.

Money rule: only BILL STACKED (POLL state 0x81) is money (:class:`NoteCredited`), once per
bill cycle; a cycle starts only at a new ESCROW POSITION (0x80), so a BILL STACKED repeated
over polls (the device repeats it until the controller's ACK arrives, CCNET manual section 2.3)
is the same bill.  A BILL STACKED this instance never saw in escrow (the process restarted) is
ACKed and reported as :class:`EventsLost` with what it says -- de-duplicating across process
restarts is the journal's job (power-up reconciliation), not the driver's.

Escrow is decided by the host at once (no network round trip): the unit returns a bill left in
escrow by itself after its escrow period (about 10 s, CCNET manual section 5.4, HOLD).
"""

from __future__ import annotations

import logging
from typing import Any

from drivers.bill_validator.ccnet import protocol as p
from drivers.bill_validator.ccnet.link import LINE_SETTINGS, Link
from drivers.bill_validator.common.poll import COMM_FAULT, PollDriver
from drivers.interfaces import (ChannelMap, DeviceFault, DeviceFaultCleared, DeviceStatus,
                                Health, HealthState, NoteRejected)

__all__ = ["BILL_TABLE_FAULT", "COMM_FAULT", "LINE_SETTINGS", "CcnetDriver"]

log = logging.getLogger(__name__)

BILL_TABLE_FAULT = "bill_table_mismatch"


class CcnetDriver(PollDriver):
    PROTOCOL = "ccnet"

    def __init__(
        self,
        name: str,
        port: Any,
        channels: ChannelMap,
        poll_interval: float = 0.1,
        reply_timeout: float = 0.3,
        retries: int = 3,
        hold_power_up: bool = False,
        address: int = p.ADDR_BILL_VALIDATOR,
        country: str | None = None,
        minor_per_major: int = 100,
        owns_port: bool = False,
    ) -> None:
        super().__init__(name, port, channels, poll_interval, reply_timeout, retries,
                         hold_power_up, owns_port, {"polls": 0, "refused": 0},
                         lost_on_unconfirmed_stack=True, channel_word="type")
        self.country = country
        self.minor_per_major = minor_per_major
        self._link = Link(name, port, reply_timeout, self.stats, address)
        self._table_fault: str | None = None
        #: read from the device at start-up (for ``kiosk devices`` / ``kiosk diag``)
        self.device_identity: p.Identity | None = None
        self.bill_table: tuple[p.BillType, ...] | None = None

    def identity(self) -> dict[str, Any]:
        """What the unit said about itself at start-up (IDENTIFICATION and GET BILL TABLE);
        None values until it has answered."""
        ident, table = self.device_identity, self.bill_table
        return {"protocol": "ccnet",
                "firmware": ident.part_number if ident else None,
                "serial_number": ident.serial_number if ident else None,
                "bill_table": {t: e.value_minor(self.minor_per_major)
                               for t, e in enumerate(table) if not e.empty} if table else {}}

    def _device_health(self) -> Health:
        if self._table_fault is not None:
            return Health(HealthState.FAULT, self._table_fault)
        return self._status_health(p.PAUSE, p.STATE_NAMES, "state")

    def _leave_disabled(self) -> None:
        self._command(p.ENABLE_BILL_TYPES, bytes(6), attempts=1)  # every bill type disabled

    def _initialise(self) -> None:
        """POLL first (a power-up state is reported before the RESET resolves it), then RESET,
        the bill table and identification, and every bill type disabled until the host enables
        them (CCNET manual, section 7.1 "Power up & reset sequence")."""
        if not self._poll_at_start(p.POWER_UP_CONDITIONS, p.STATE_AT_HOST_START):
            return
        self._command(p.RESET)
        self._read_bill_table()
        ident = self._request(p.IDENTIFICATION, "data:0")  # some firmware sends a longer block
        if ident is not None:
            try:
                self.device_identity = p.decode_identity(ident.body[:p.IDENTITY_LEN])
            except p.FrameError as exc:
                log.warning("%s: identification unreadable: %s", self.name, exc)
        self._command(p.ENABLE_BILL_TYPES, bytes(6))
        self._needs_init = False

    def _read_bill_table(self) -> None:
        """The channels come from the device and must agree with the configured channel map:
        a value that differs would credit the wrong amount, so a mismatch is a locking fault
        and nothing is enabled."""
        answer = self._request(p.GET_BILL_TABLE, f"data:{5 * p.BILL_TYPES}")
        problems: list[str] = []
        if answer is None:
            problems.append("device refused GET BILL TABLE")
        else:
            try:
                self.bill_table = p.decode_bill_table(answer.body)
            except p.FrameError as exc:
                problems.append(f"bill table unreadable: {exc}")
        for bill_type, value in sorted(self.channels.values.items()):
            if self.bill_table is None:
                break
            entry = (self.bill_table[bill_type] if 0 <= bill_type < p.BILL_TYPES
                     else p.EMPTY_BILL_TYPE)
            has = entry.value_minor(self.minor_per_major)
            if has != value:
                problems.append(f"type {bill_type}: configured {value}, device {has}")
            elif self.country is not None and entry.country != self.country:
                problems.append(f"type {bill_type}: country {entry.country!r}, "
                                f"configured {self.country!r}")
        reason = ("bill table does not match the configured channels: " + "; ".join(problems)
                  if problems else None)
        if reason != self._table_fault:
            if self._table_fault is not None:
                self._post(DeviceFaultCleared(self.name, BILL_TABLE_FAULT))
            if reason is not None:
                log.error("%s: %s", self.name, reason)
                self._post(DeviceFault(self.name, BILL_TABLE_FAULT, reason, locking=True))
            self._table_fault = reason

    def _execute(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        if kind == "enable":
            if self._table_fault is not None:
                log.warning("%s: not enabled: %s", self.name, self._table_fault)
                self._command(p.ENABLE_BILL_TYPES, bytes(6))
                return
            types = {v: self.channels.channel_for(v) for v in op[1]}
            usable = {t for t in types.values() if t is not None and 0 <= t < p.BILL_TYPES}
            unknown = sorted(v for v, t in types.items() if t not in usable)
            if unknown:
                log.warning("%s: no bill type for %s; not enabled", self.name, unknown)
            mask = p.bill_mask(usable)
            # Escrow on for every enabled type: the host decides each bill (section 5.4).
            self._command(p.ENABLE_BILL_TYPES, mask + mask)
        elif kind == "disable":
            self._command(p.ENABLE_BILL_TYPES, bytes(6))
        elif kind in ("stack", "return"):
            self._escrow.request(kind)
            self._command(p.STACK if kind == "stack" else p.RETURN)

    def _transact(self, cmd: int, data: bytes, expect: str, attempts: int | None = None
                  ) -> p.Frame:
        reply = self._link.transact(cmd, data, expect, attempts or self._attempts())
        self._link_up()
        return reply

    def _command(self, cmd: int, data: bytes = b"", attempts: int | None = None) -> None:
        reply = self._transact(cmd, data, "ack", attempts)
        if reply.cmd == p.ILLEGAL_COMMAND:
            self._link.ack()  # ILLEGAL COMMAND is an answer too: the controller ACKs it
            self.stats["refused"] += 1
            log.warning("%s: device refused command 0x%02X in state %s", self.name, cmd,
                        p.STATE_NAMES.get(self._status or 0, self._status))

    def _request(self, cmd: int, expect: str) -> p.Frame | None:
        reply = self._transact(cmd, b"", expect)
        self._link.ack()
        if reply.cmd == p.ILLEGAL_COMMAND and not reply.data:
            self.stats["refused"] += 1
            return None
        return reply

    def _poll(self) -> None:
        self.stats["polls"] += 1
        frame = self._transact(p.POLL, b"", "state")
        try:
            if frame.cmd == p.ILLEGAL_COMMAND and not frame.data:
                self.stats["refused"] += 1
            else:
                self._on_state(frame)
        finally:
            # Act first, then ACK: if the ACK is lost the device repeats the state, which the
            # cycle recognises as the same bill (CCNET manual, section 2.3).
            self._link.ack()

    # ------------------------------------------------------------ states → events
    def _on_state(self, frame: p.Frame) -> None:
        code = frame.cmd
        previous, self._status = self._status, code
        detail = (f": {p.failure_text(frame.data[0])} (code 0x{frame.data[0]:02X})"
                  if code == p.FAILURE and frame.data else "")
        if self._fault_seen(p.FAULTS.get(code), detail):
            return
        if code in p.POWER_UP_CONDITIONS:
            self._power_up_seen(p.POWER_UP_CONDITIONS[code], previous != code)
        elif code == p.ESCROW_POSITION:
            bill_type = frame.data[0]
            value = self.channels.value(bill_type) if self._table_fault is None else None
            self._escrowed(bill_type, value, f"type {bill_type}")
        elif code == p.BILL_STACKED:
            # The bill is in the drop cassette -- the one safe event (money).
            bill_type = frame.data[0]
            self._escrow.credit(bill_type, stacked=True, lost=(
                f"BILL STACKED (type {bill_type}, configured value "
                f"{self.channels.value(bill_type)}) for a bill this driver did not see in "
                "escrow: to be reconciled from the journal and the device counters"))
        elif code == p.BILL_RETURNED:
            self._escrow.returned("escrow_timeout")
        elif code == p.REJECTING:
            self._escrow.close("rejected")
            if previous != code:
                reason = frame.data[0]
                self._post(NoteRejected(self.name, p.reject_reason_text(reason), reason))
        elif code in (p.IDLING, p.UNIT_DISABLED, p.ACCEPTING):
            self._escrow.close("device")
        elif code == p.INITIALIZE:
            self._escrow.close("reset")
        elif code in (p.STACKING, p.RETURNING, p.HOLDING, p.BUSY):
            pass
        elif previous != code:
            self._post(DeviceStatus(self.name, p.STATE_NAMES.get(code, f"0x{code:02X}")))
