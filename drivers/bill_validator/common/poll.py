"""The poll-thread half every bill-validator driver shares (docs/adding-a-protocol.md, "A bill
validator"; the contract is ``BillValidator`` in drivers/interfaces.py): one thread owns the
port, carries out queued host commands, polls every ``poll_interval`` and posts immutable
events; the link going down and coming back is a ``communication`` fault and its clearing.

A protocol's driver subclasses :class:`PollDriver` and writes only what its protocol says:
``_initialise`` (the power-up sequence), ``_poll`` (one status request and what it means),
``_execute`` (one queued host command), ``_leave_disabled`` (what stop() leaves the unit as)
and ``_device_health``.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any, ClassVar, Mapping

from drivers.bill_validator.common.escrow import EscrowTracker
from drivers.bill_validator.common.link import LinkDown, SerialLink
from drivers.interfaces import (ChannelMap, DeviceEvent, DeviceFault, DeviceFaultCleared,
                                DeviceStatus, Health, HealthState, Post, PowerUp)

log = logging.getLogger(__name__)

COMM_FAULT = "communication"


class PollDriver:
    #: the protocol's registry name (the thread is called "<protocol>-<device name>")
    PROTOCOL: ClassVar[str] = "?"
    #: a queued command that fails with one of these is carried out once the unit answers again
    REQUEUE_ON: ClassVar[tuple[type[BaseException], ...]] = (LinkDown,)
    #: what a failed _leave_disabled() is called in the log
    STOP_ACTION: ClassVar[str] = "disable the validator"
    #: an unknown note in escrow is marked "returned by the host" before the return goes out
    MARK_UNKNOWN_RETURN: ClassVar[bool] = True

    _link: SerialLink

    def __init__(self, name: str, port: Any, channels: ChannelMap, poll_interval: float,
                 reply_timeout: float, retries: int, hold_power_up: bool, owns_port: bool,
                 stats: dict[str, int], **escrow_rules: Any) -> None:
        self.name = name
        self.port = port
        self.channels = channels
        self.poll_interval = poll_interval
        self.reply_timeout = reply_timeout
        self.retries = retries
        # Hold the first power-up: what resolves it (returning a note in the acceptor, stacking
        # one in the stacker) waits until the host has journaled its reconciliation, so a
        # second power cut in between cannot leave the journal and the cash box disagreeing.
        self._hold_power_up = threading.Event()
        if hold_power_up:
            self._hold_power_up.set()
        #: frames_ok, frames_bad, timeouts, retries, unexpected, port_errors, polls, refused, …
        self.stats = stats
        self._commands: collections.deque[tuple[Any, ...]] = collections.deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._post_cb: Post | None = None
        #: close ``port`` on stop() (the driver was given it to keep)
        self.owns_port = owns_port
        self._needs_init = True
        self._link_down = False
        self._fault: Any = None  # the status table's fault now (code, reason, locking)
        self._status: int | None = None  # the last status (ID-003) / state (CCNET) reported
        self._escrow = EscrowTracker(name, self._post, channels, **escrow_rules)

    # ------------------------------------------------------------ public API (any thread)
    def start(self, post: Post) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name}: already started")
        self._post_cb = post
        self._link.apply_line_settings()
        self._needs_init = True
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"{self.PROTOCOL}-{self.name}",
                                        daemon=True)
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

    def release_power_up(self) -> None:
        """The host has recorded what the power-up means: what resolves it may go ahead.
        Only the first start is held; later power-ups are resolved at once."""
        self._hold_power_up.clear()

    def health(self) -> Health:
        if self._thread is None:
            return Health(HealthState.UNKNOWN, "not started")
        if self._link_down:
            return Health(HealthState.FAULT, "bill validator does not answer")
        return self._device_health()

    # ------------------------------------------------------------ the protocol's part
    def _device_health(self) -> Health:
        raise NotImplementedError

    def _initialise(self) -> None:
        raise NotImplementedError

    def _poll(self) -> None:
        raise NotImplementedError

    def _execute(self, op: tuple[Any, ...]) -> None:
        raise NotImplementedError

    def _leave_disabled(self) -> None:
        """No host, no money: one attempt to leave the unit refusing notes."""
        raise NotImplementedError

    # ------------------------------------------------------------ poll thread
    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                if self._link.broken:
                    self._link.reopen()
                self._step()
            except LinkDown as exc:
                self._on_link_down(exc)
            except Exception:  # a bug must not silence the device: log it, keep polling
                log.exception("%s: poll loop error", self.name)
            self._stop.wait(max(0.0, started + self.poll_interval - time.monotonic()))
        if not (self._link_down or self._needs_init or self._link.broken):
            try:
                self._leave_disabled()
            except self.REQUEUE_ON:  # a dead link is left be
                log.warning("%s: could not %s on stop", self.name, self.STOP_ACTION)

    def _step(self) -> None:
        """One tick of the poll thread."""
        if self._needs_init:
            self._initialise()
        else:
            self._run_commands()
            self._poll()

    def _on_link_down(self, exc: LinkDown) -> None:
        if not self._link_down:
            self._link_down = True
            log.warning("%s: link down: %s", self.name, exc)
            self._post(DeviceFault(self.name, COMM_FAULT, str(exc), locking=False))

    def _attempts(self) -> int:
        return 1 if self._link_down else 1 + self.retries  # while down: probe, don't stall

    def _link_up(self) -> None:
        """A valid answer arrived: a link that was down is back."""
        if self._link_down:
            self._link_down = False
            log.info("%s: link back", self.name)
            self._post(DeviceFaultCleared(self.name, COMM_FAULT))

    def _run_commands(self) -> None:
        while self._commands:
            op = self._commands.popleft()
            try:
                self._execute(op)
            except self.REQUEUE_ON:
                self._commands.appendleft(op)  # carried out once the device answers again
                raise

    # ------------------------------------------------------------ shared event logic
    def _escrowed(self, channel: int, value: int | None, detail: str) -> None:
        """A note in escrow; one of a denomination we do not take goes back at once."""
        if not self._escrow.escrow(channel, value) or value is not None:
            return
        log.warning("%s: escrow of unknown denomination (%s): returning", self.name, detail)
        self._post(DeviceStatus(self.name, "unknown_denomination", detail))
        if self.MARK_UNKNOWN_RETURN:
            self._escrow.request("return")
        self._commands.appendleft(("return",))  # sent before the next poll

    def _power_up_seen(self, condition: str, changed: bool) -> None:
        """A power-up status: posted once; the cycle is the journal's to settle now."""
        if changed:
            self._post(PowerUp(self.name, condition))
        self._escrow.forget()
        self._needs_init = True

    def _fault_seen(self, fault: Any, detail: str = "") -> bool:
        """The fault a status means (None: none): a new one is posted, one that ended is
        cleared.  True while the unit is in fault."""
        if self._fault is not None and fault is not self._fault:
            self._post(DeviceFaultCleared(self.name, self._fault.code))
            self._fault = None
        if fault is None:
            return False
        if self._fault is None:
            self._fault = fault
            self._post(DeviceFault(self.name, fault.code, fault.reason + detail,
                                   locking=fault.locking))
        return True

    def _status_health(self, pause: int, names: Mapping[int, str], word: str) -> Health:
        """Health from the status table: its fault, "paused", or the status's name."""
        fault = self._fault
        if fault is not None:
            return Health(HealthState.FAULT if fault.locking else HealthState.DEGRADED,
                          fault.reason)
        if self._status is None:
            return Health(HealthState.UNKNOWN, f"no {word} yet")
        if self._status == pause:
            return Health(HealthState.DEGRADED, "paused")
        return Health(HealthState.OK, names.get(self._status, "?"))

    def _poll_at_start(self, power_up: Mapping[int, str], at_host_start: Mapping[int, str]
                       ) -> bool:
        """The start of the power-up sequence: status first (a power-up condition is reported
        before the reset resolves it).  False while the host holds the power-up."""
        first = self._status is None
        self._poll()
        if first and self._status not in power_up:
            # The host restarted, the device did not: report where its note is all the same.
            self._post(PowerUp(self.name, at_host_start.get(self._status, "normal")))
        # While held: polled again next tick; the device stays as it is until released.
        return not self._hold_power_up.is_set()

    def _post(self, event: DeviceEvent) -> None:
        log.debug("%s: event %s", self.name, event)
        if self._post_cb is None:
            return
        try:
            self._post_cb(event)
        except Exception:  # a broken consumer must not stop the poll thread
            log.exception("%s: post callback failed for %s", self.name, event)
