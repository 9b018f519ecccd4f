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

import collections
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from drivers.bill_validator.ccnet import protocol as p
from drivers.bill_validator.ccnet.link import LINE_SETTINGS, Link, LinkDown
from drivers.interfaces import (
    ChannelMap, DeviceEvent, DeviceFault, DeviceFaultCleared, DeviceStatus, EventsLost, Health,
    HealthState, NoteCredited, NoteEscrowed, NoteRejected, NoteReturned, NoteStacked, Post,
    PowerUp,
)

__all__ = ["BILL_TABLE_FAULT", "COMM_FAULT", "LINE_SETTINGS", "CcnetDriver"]

log = logging.getLogger(__name__)

COMM_FAULT = "communication"
BILL_TABLE_FAULT = "bill_table_mismatch"


@dataclass
class _Cycle:
    """One bill from ESCROW POSITION to stacked/returned.  Lives in the driver instance, so it
    survives comm loss and stop()/start(); it does not survive a new instance."""

    bill_type: int | None
    value: int | None
    credited: bool = False
    stack_requested: bool = False
    return_requested: bool = False
    done: bool = False


class CcnetDriver:
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
        self.name = name
        self.port = port
        self.channels = channels
        self.poll_interval = poll_interval
        self.reply_timeout = reply_timeout
        self.retries = retries
        self.country = country
        self.minor_per_major = minor_per_major
        # Hold the first power-up: the RESET that resolves it (returning a bill in the
        # validator, stacking one in the stacker) waits until the host has journaled its
        # reconciliation, so a second power cut in between cannot split journal and cash box.
        self._hold_power_up = threading.Event()
        if hold_power_up:
            self._hold_power_up.set()
        self.stats: dict[str, int] = {"polls": 0, "refused": 0}
        self._link = Link(name, port, reply_timeout, self.stats, address)
        self._commands: collections.deque[tuple[Any, ...]] = collections.deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._post_cb: Post | None = None
        #: close ``port`` on stop() (the driver was given it to keep)
        self.owns_port = owns_port
        self._needs_init = True
        self._link_down = False
        self._state: int | None = None
        self._fault: p.FaultInfo | None = None
        self._table_fault: str | None = None
        self._cycle: _Cycle | None = None
        #: read from the device at start-up (for ``kiosk devices`` / ``kiosk diag``)
        self.device_identity: p.Identity | None = None
        self.bill_table: tuple[p.BillType, ...] | None = None

    # ------------------------------------------------------------ public API (any thread)
    def start(self, post: Post) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name}: already started")
        self._post_cb = post
        self._link.apply_line_settings()
        self._needs_init = True
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"ccnet-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.owns_port:
            self.port.close()

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        """The poll thread while started (the device manager watches it for a crash)."""
        return (self._thread,) if self._thread is not None else ()

    def identity(self) -> dict[str, Any]:
        """What the unit said about itself at start-up (IDENTIFICATION and GET BILL TABLE);
        None values until it has answered."""
        ident, table = self.device_identity, self.bill_table
        return {"protocol": "ccnet",
                "firmware": ident.part_number if ident else None,
                "serial_number": ident.serial_number if ident else None,
                "bill_table": {t: e.value_minor(self.minor_per_major)
                               for t, e in enumerate(table) if not e.empty} if table else {}}

    def enable(self, denominations_minor: frozenset[int]) -> None:
        self._commands.append(("enable", frozenset(denominations_minor)))

    def disable(self) -> None:
        self._commands.append(("disable",))

    def stack(self) -> None:
        self._commands.append(("stack",))

    def return_note(self) -> None:
        self._commands.append(("return",))

    def release_power_up(self) -> None:
        """The host has recorded what the power-up state means: the RESET may go ahead."""
        self._hold_power_up.clear()

    def health(self) -> Health:
        if self._thread is None:
            return Health(HealthState.UNKNOWN, "not started")
        if self._link_down:
            return Health(HealthState.FAULT, "bill validator does not answer")
        if self._table_fault is not None:
            return Health(HealthState.FAULT, self._table_fault)
        fault = self._fault
        if fault is not None:
            return Health(HealthState.FAULT if fault.locking else HealthState.DEGRADED,
                          fault.reason)
        if self._state is None:
            return Health(HealthState.UNKNOWN, "no state yet")
        if self._state == p.PAUSE:
            return Health(HealthState.DEGRADED, "paused")
        return Health(HealthState.OK, p.STATE_NAMES.get(self._state, "?"))

    # ------------------------------------------------------------ poll thread
    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                if self._link.broken:
                    self._link.reopen()
                if self._needs_init:
                    self._initialise()
                else:
                    self._run_commands()
                    self._poll()
            except LinkDown as exc:
                if not self._link_down:
                    self._link_down = True
                    log.warning("%s: link down: %s", self.name, exc)
                    self._post(DeviceFault(self.name, COMM_FAULT, str(exc), locking=False))
            except Exception:  # a bug must not silence the device: log it, keep polling
                log.exception("%s: poll loop error", self.name)
            self._stop.wait(max(0.0, started + self.poll_interval - time.monotonic()))
        # No host, no money: leave the validator with every bill type disabled.
        if not (self._link_down or self._needs_init or self._link.broken):
            try:
                self._command(p.ENABLE_BILL_TYPES, bytes(6), attempts=1)
            except LinkDown:
                log.warning("%s: could not disable the validator on stop", self.name)

    def _initialise(self) -> None:
        """POLL first (a power-up state is reported before the RESET resolves it), then RESET,
        the bill table and identification, and every bill type disabled until the host enables
        them (CCNET manual, section 7.1 "Power up & reset sequence")."""
        first = self._state is None
        self._poll()
        if first and self._state not in p.POWER_UP_CONDITIONS:
            # The host restarted, the device did not: report where its bill is all the same.
            self._post(PowerUp(self.name, p.STATE_AT_HOST_START.get(self._state, "normal")))
        if self._hold_power_up.is_set():
            return  # polled again next tick; the device stays as it is until released
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

    def _run_commands(self) -> None:
        while self._commands:
            op = self._commands.popleft()
            try:
                self._execute(op)
            except LinkDown:
                self._commands.appendleft(op)  # carried out once the device answers again
                raise

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
        elif kind == "stack":
            if self._cycle is not None and not self._cycle.done:
                self._cycle.stack_requested = True
            self._command(p.STACK)
        elif kind == "return":
            if self._cycle is not None and not self._cycle.done:
                self._cycle.return_requested = True
            self._command(p.RETURN)

    def _attempts(self) -> int:
        return 1 if self._link_down else 1 + self.retries  # while down: probe, don't stall

    def _transact(self, cmd: int, data: bytes, expect: str, attempts: int | None = None
                  ) -> p.Frame:
        reply = self._link.transact(cmd, data, expect, attempts or self._attempts())
        if self._link_down:
            self._link_down = False
            log.info("%s: link back", self.name)
            self._post(DeviceFaultCleared(self.name, COMM_FAULT))
        return reply

    def _command(self, cmd: int, data: bytes = b"", attempts: int | None = None) -> None:
        reply = self._transact(cmd, data, "ack", attempts)
        if reply.cmd == p.ILLEGAL_COMMAND:
            self._link.ack()  # ILLEGAL COMMAND is an answer too: the controller ACKs it
            self.stats["refused"] += 1
            log.warning("%s: device refused command 0x%02X in state %s", self.name, cmd,
                        p.STATE_NAMES.get(self._state or 0, self._state))

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
        previous, self._state = self._state, code
        fault = p.FAULTS.get(code)
        if self._fault is not None and fault is not self._fault:
            self._post(DeviceFaultCleared(self.name, self._fault.code))
            self._fault = None
        if fault is not None:
            if self._fault is None:
                self._fault = fault
                reason = fault.reason
                if code == p.FAILURE and frame.data:
                    reason += f": {p.failure_text(frame.data[0])} (code 0x{frame.data[0]:02X})"
                self._post(DeviceFault(self.name, fault.code, reason, locking=fault.locking))
            return
        if code in p.POWER_UP_CONDITIONS:
            if previous != code:
                self._post(PowerUp(self.name, p.POWER_UP_CONDITIONS[code]))
            # Where the bill is now is for the journal's power-up reconciliation to decide.
            self._cycle = None
            self._needs_init = True
        elif code == p.ESCROW_POSITION:
            self._on_escrow(frame.data[0])
        elif code == p.BILL_STACKED:
            self._on_stacked(frame.data[0])
        elif code == p.BILL_RETURNED:
            self._on_returned()
        elif code == p.REJECTING:
            self._close_cycle("rejected")
            if previous != code:
                reason = frame.data[0]
                self._post(NoteRejected(self.name, p.reject_reason_text(reason), reason))
        elif code in (p.IDLING, p.UNIT_DISABLED, p.ACCEPTING):
            self._close_cycle("device")
        elif code == p.INITIALIZE:
            self._close_cycle("reset")
        elif code in (p.STACKING, p.RETURNING, p.HOLDING, p.BUSY):
            pass
        elif previous != code:
            self._post(DeviceStatus(self.name, p.STATE_NAMES.get(code, f"0x{code:02X}")))

    def _on_escrow(self, bill_type: int) -> None:
        cycle = self._cycle
        if cycle is not None and not cycle.done:
            if cycle.bill_type == bill_type:
                return  # the same bill, seen on another poll
            self._close_cycle("device")
        value = self.channels.value(bill_type) if self._table_fault is None else None
        self._cycle = _Cycle(bill_type, value)
        if value is None:
            log.warning("%s: escrow of unknown bill type %d: returning", self.name, bill_type)
            self._post(DeviceStatus(self.name, "unknown_denomination", f"type {bill_type}"))
            self._cycle.return_requested = True
            self._commands.appendleft(("return",))  # sent before the next poll
            return
        self._post(NoteEscrowed(self.name, value, bill_type))

    def _on_stacked(self, bill_type: int) -> None:
        """BILL STACKED: the bill is in the drop cassette -- the one safe event (money)."""
        cycle = self._cycle
        if cycle is not None and cycle.credited:
            return  # the same bill again (the ACK was lost): a new cycle starts only at escrow
        if cycle is not None and not cycle.done and cycle.value is not None:
            value = cycle.value
            if bill_type != cycle.bill_type:
                log.warning("%s: escrowed type %s but stacked type %d", self.name,
                            cycle.bill_type, bill_type)
                value = self.channels.value(bill_type)
            cycle.credited = cycle.done = True
            if value is not None:
                self._post(NoteCredited(self.name, value, bill_type))
                self._post(NoteStacked(self.name))
                return
        else:
            self._cycle = _Cycle(bill_type, None, credited=True, done=True)
        value = self.channels.value(bill_type)
        self._post(EventsLost(
            self.name, 1,
            f"BILL STACKED (type {bill_type}, configured value {value}) for a bill this driver "
            "did not see in escrow: to be reconciled from the journal and the device counters"))

    def _on_returned(self) -> None:
        cycle = self._cycle
        if cycle is None or cycle.done:
            return  # a repeat, or a bill never announced: nothing to undo
        cycle.done = True
        if cycle.value is not None and not cycle.credited:
            why = "host" if cycle.return_requested else "escrow_timeout"
            self._post(NoteReturned(self.name, cycle.value, why))

    def _close_cycle(self, why: str) -> None:
        """The device is past the bill without saying stacked or returned."""
        cycle = self._cycle
        if cycle is None or cycle.done:
            return
        cycle.done = True
        if cycle.value is None or cycle.credited:
            return
        if cycle.stack_requested and not cycle.return_requested:
            # Sent to the stacker but never reported stacked: unknown, never guessed.
            self._post(EventsLost(self.name, 1, f"type {cycle.bill_type} sent to the stacker, "
                                  f"state now {why}: to be reconciled from the device counters"))
            return
        self._post(NoteReturned(self.name, cycle.value,
                                "host" if cycle.return_requested else why))

    def _post(self, event: DeviceEvent) -> None:
        log.debug("%s: event %s", self.name, event)
        if self._post_cb is None:
            return
        try:
            self._post_cb(event)
        except Exception:  # a broken consumer must not stop the poll thread
            log.exception("%s: post callback failed for %s", self.name, event)
