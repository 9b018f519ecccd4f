"""JCM ID-003 bill validator driver: one poll thread owns the port, sends queued commands,
polls the status every ``poll_interval`` and posts immutable events.

Money rule: only VEND VALID (0x15) is money (:class:`NoteCredited`), once per note cycle; a cycle
starts only at a new ESCROW, so a VEND VALID repeated over polls or after a reconnect of this
driver is the same note.  A VEND VALID this instance never saw escrowed (the process restarted)
is not guessed at: it is ACKed and reported as :class:`EventsLost` -- de-duplicating across
process restarts is the journal's job (power-up reconciliation), not the driver's.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from drivers.bill_validator.id003 import protocol as p
from drivers.bill_validator.id003.link import LINE_SETTINGS, Link, LinkDown
from drivers.errors import FrameError
from drivers.interfaces import (
    ChannelMap,
    DeviceEvent,
    DeviceFault,
    DeviceFaultCleared,
    DeviceStatus,
    EventsLost,
    Health,
    HealthState,
    NoteCredited,
    NoteEscrowed,
    NoteRejected,
    NoteReturned,
    NoteStacked,
    Post,
    PowerUp,
)

__all__ = ["COMM_FAULT", "LINE_SETTINGS", "Id003Driver"]

log = logging.getLogger(__name__)

COMM_FAULT = "communication"


@dataclass
class _Cycle:
    """One note from ESCROW to stacked/returned.  Lives in the driver instance, so it survives
    comm loss, port re-opens and stop()/start(); it does not survive a new instance."""

    code: int | None
    value: int | None
    credited: bool = False
    stacked_posted: bool = False
    return_requested: bool = False
    done: bool = False


class Id003Driver:
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
        self.name = name
        self.port = port
        self.channels = channels
        self.poll_interval = poll_interval
        self.reply_timeout = reply_timeout
        self.retries = retries
        # Hold the first power-up: the reset that resolves it (returning a note in the acceptor,
        # stacking one in the stacker) waits until the host has journaled its reconciliation, so
        # a second power cut in between cannot leave the journal and the cash box disagreeing.
        self._hold_power_up = threading.Event()
        if hold_power_up:
            self._hold_power_up.set()
        #: frames_ok, frames_bad, timeouts, retries, unexpected, port_errors, polls, refused
        self.stats: dict[str, int] = {"polls": 0, "refused": 0}
        self._link = Link(name, port, reply_timeout, self.stats)
        self._commands: collections.deque[tuple[Any, ...]] = collections.deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._post_cb: Post | None = None
        #: close ``port`` on stop() (the driver was given it to keep)
        self.owns_port = owns_port
        self._needs_init = True
        self._link_down = False
        self._status: int | None = None
        self._fault: p.FaultInfo | None = None
        self._cycle: _Cycle | None = None
        self._identity: dict[str, str] = {"protocol": "id003"}

    # ------------------------------------------------------------ public API (any thread)
    def start(self, post: Post) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name}: already started")
        self._post_cb = post
        self._link.apply_line_settings()
        self._needs_init = True
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"id003-{self.name}", daemon=True)
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

    def enable(self, denominations_minor: frozenset[int]) -> None:
        self._commands.append(("enable", frozenset(denominations_minor)))

    def disable(self) -> None:
        self._commands.append(("disable",))

    def stack(self) -> None:
        self._commands.append(("stack",))

    def return_note(self) -> None:
        self._commands.append(("return",))

    def identity(self) -> dict[str, str]:
        """What the unit says it is (drivers/interfaces.py, ``Identified``): read with the
        version request (0x88) at every start-up, so a swapped unit shows; "firmware" is
        missing until it was read, or when the unit does not answer the request."""
        return dict(self._identity)

    def health(self) -> Health:
        if self._thread is None:
            return Health(HealthState.UNKNOWN, "not started")
        if self._link_down:
            return Health(HealthState.FAULT, "bill validator does not answer")
        fault = self._fault
        if fault is not None:
            return Health(HealthState.FAULT if fault.locking else HealthState.DEGRADED,
                          fault.reason)
        if self._status is None:
            return Health(HealthState.UNKNOWN, "no status yet")
        if self._status == p.PAUSE:
            return Health(HealthState.DEGRADED, "paused")
        return Health(HealthState.OK, p.STATUS_NAMES.get(self._status, "?"))

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
        # No host, no money: leave the acceptor inhibited (one attempt; a dead link is left be).
        if not (self._link_down or self._needs_init or self._link.broken):
            try:
                self._link.transact(p.encode(p.SET_INHIBIT, b"\x01"), "echo", 1)
            except LinkDown:
                log.warning("%s: could not inhibit the acceptor on stop", self.name)

    def release_power_up(self) -> None:
        """The host has recorded what the power-up status means: the reset may go ahead.
        Only the first start is held; later power-ups reset at once."""
        self._hold_power_up.clear()

    def _initialise(self) -> None:
        """Status first (a power-up condition is reported before the reset resolves it), then
        reset, settings, and acceptance inhibited until the host enables it."""
        first = self._status is None
        self._poll()
        if first and self._status not in p.POWER_UP_CONDITIONS:
            # The host restarted, the device did not: report where its note is all the same.
            condition = p.STATUS_AT_HOST_START.get(self._status, "normal")
            self._post(PowerUp(self.name, condition))
        if self._hold_power_up.is_set():
            return  # polled again next tick; the device stays as it is until released
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
            if self._cycle is not None and not self._cycle.done:
                self._cycle.return_requested = True
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
        attempts = 1 if self._link_down else 1 + self.retries  # while down: probe, don't stall
        reply = self._link.transact(raw, expect, attempts)
        if self._link_down:
            self._link_down = False
            log.info("%s: link back", self.name)
            self._post(DeviceFaultCleared(self.name, COMM_FAULT))
        return reply

    # ------------------------------------------------------------ status → events
    def _on_status(self, frame: p.Frame) -> None:
        code = frame.cmd
        previous, self._status = self._status, code
        fault = p.FAULTS.get(code)
        if self._fault is not None and fault is not self._fault:
            self._post(DeviceFaultCleared(self.name, self._fault.code))
            self._fault = None
        if fault is not None:
            if self._fault is None:
                self._fault = fault
                reason = fault.reason
                if frame.data:
                    reason += f" (code 0x{frame.data[0]:02X})"
                self._post(DeviceFault(self.name, fault.code, reason, locking=fault.locking))
            return
        if code in p.POWER_UP_CONDITIONS:
            if previous != code:
                self._post(PowerUp(self.name, p.POWER_UP_CONDITIONS[code]))
            # Where the note is now is for the journal's power-up reconciliation to decide.
            self._cycle = None
            self._needs_init = True
        elif code == p.ESCROW:
            self._on_escrow(frame.data[0])
        elif code == p.VEND_VALID:
            self._on_vend_valid()
        elif code == p.STACKED:
            self._on_stacked()
        elif code == p.RETURNING:
            pass  # NoteReturned when the device is back to idle: then the note is out
        elif code == p.REJECTING:
            self._close_cycle("rejected")
            if previous != code:
                reason = frame.data[0]
                self._post(NoteRejected(self.name, p.reject_reason_text(reason), reason))
        elif code in (p.ENABLE_IDLING, p.DISABLE_INHIBIT, p.ACCEPTING):
            self._close_cycle("device")
        elif code == p.INITIALIZE:
            self._close_cycle("reset")
        elif code in (p.STACKING, p.HOLDING):
            pass
        elif previous != code:
            self._post(DeviceStatus(self.name, p.STATUS_NAMES.get(code, f"0x{code:02X}")))

    def _on_escrow(self, code: int) -> None:
        cycle = self._cycle
        if cycle is not None and not cycle.done:
            if cycle.code == code:
                return  # the same note, seen on another poll
            self._close_cycle("device")
        value = self.channels.value(code)
        self._cycle = _Cycle(code, value)
        if value is None:
            log.warning("%s: escrow of unknown denomination code 0x%02X: returning", self.name,
                        code)
            self._post(DeviceStatus(self.name, "unknown_denomination", f"0x{code:02X}"))
            self._cycle.return_requested = True
            self._commands.appendleft(("return",))  # sent before the next poll
            return
        self._post(NoteEscrowed(self.name, value, code))

    def _on_vend_valid(self) -> None:
        cycle = self._cycle
        if cycle is not None and cycle.credited:
            pass  # the same note again (repeat, reconnect): a new cycle starts only at escrow
        elif cycle is not None and not cycle.done and cycle.value is not None:
            cycle.credited = True
            self._post(NoteCredited(self.name, cycle.value, cycle.code or 0))
        else:  # no escrow of a known note in this instance: never guess a value
            self._cycle = _Cycle(cycle.code if cycle and not cycle.done else None, None,
                                 credited=True)
            self._post(EventsLost(
                self.name, 1,
                "VEND VALID for a note this driver did not see in escrow: value unknown, "
                "to be reconciled from the journal and the device counters"))
        # Credit first, then ACK: if the ACK is lost, the repeat is recognised as this note.
        self._link.send(p.encode(p.ACK))

    def _on_stacked(self) -> None:
        cycle = self._cycle
        if cycle is not None and not cycle.done and cycle.credited:
            if not cycle.stacked_posted and cycle.value is not None:
                self._post(NoteStacked(self.name))
            cycle.stacked_posted = True
            cycle.done = True

    def _close_cycle(self, why: str) -> None:
        """The device is past the note: it was stacked, or it left by the slot."""
        cycle = self._cycle
        if cycle is None or cycle.done:
            return
        cycle.done = True
        if cycle.value is None:
            return  # never announced as escrow (unknown code / unseen): nothing to undo
        if cycle.credited:
            if not cycle.stacked_posted:
                cycle.stacked_posted = True
                self._post(NoteStacked(self.name))
        else:
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
