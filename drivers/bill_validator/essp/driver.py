"""ITL eSSP bill validator driver: one poll thread owns the port, negotiates the protocol
version and the AES key, polls with POLL_WITH_ACK every ``poll_interval`` and posts immutable
events.  A drop-in for the ID-003 driver: the same public methods and the same typed events.

Money rule: only NOTE CREDIT (0xEE) is money (:class:`NoteCredited`), once per note cycle; a
cycle starts only at a READ with a channel (the note in escrow), so a credit the unit repeats
because our EVENT_ACK was lost is the same note.  The credit is posted (journaled by the host)
*before* EVENT_ACK goes out, so a crash in between leaves the event with the unit, which
reports it again (SSP protocol manual GA138, "POLL WITH ACK" / "EVENT ACK").  A credit this
instance never saw in escrow is not guessed at: it is reported as :class:`EventsLost`.
Replies that fail decryption or carry a stale eCOUNT are refused whole: no event, a locking
``encryption`` fault, and the session is re-keyed.
"""

from __future__ import annotations

import logging
from typing import Any

from drivers.bill_validator.common.poll import COMM_FAULT, PollDriver
from drivers.bill_validator.common.status import FaultInfo
from drivers.bill_validator.essp import crypto
from drivers.bill_validator.essp import protocol as p
from drivers.bill_validator.essp.link import (LINE_SETTINGS, EncryptionRefused, KeyLost, Link,
                                              LinkDown)
from drivers.errors import FrameError
from drivers.interfaces import (ChannelMap, DeviceFault, DeviceFaultCleared, DeviceStatus,
                                EventsLost, Health, HealthState, NoteCredited, NoteRejected,
                                PowerUp)

__all__ = ["COMM_FAULT", "CRYPTO_FAULT", "LINE_SETTINGS", "EsspDriver"]

log = logging.getLogger(__name__)

CRYPTO_FAULT = "encryption"


#: poll events that are faults (same codes as the ID-003 driver's); all lock the terminal
FAULTS = {
    p.UNSAFE_JAM: FaultInfo("acceptor_jam", "unsafe jam: note jammed where it can be reached"),
    p.SAFE_JAM: FaultInfo("stacker_jam", "safe jam: note jammed inside the validator"),
    p.STACKER_FULL: FaultInfo("stacker_full", "stacker (cash box) full"),
    p.FRAUD_ATTEMPT: FaultInfo("cheated", "fraud attempt detected"),
    p.CASHBOX_REMOVED: FaultInfo("stacker_open", "cash box removed", latched=True),
}


class EsspDriver(PollDriver):
    PROTOCOL = "essp"
    REQUEUE_ON = (LinkDown, EncryptionRefused, KeyLost)
    # The unknown note's REJECT is the host's decision, taken when the queued return runs.
    MARK_UNKNOWN_RETURN = False

    def __init__(self, name: str, port: Any, channels: ChannelMap, poll_interval: float = 0.1,
                 reply_timeout: float = 0.3, retries: int = 3, hold_power_up: bool = False,
                 fixed_key: str | bytes = crypto.DEFAULT_FIXED_KEY, address: int = 0,
                 max_protocol: int = 8, owns_port: bool = False) -> None:
        # What resolves the power-up (acknowledging a note cleared at power-up, returning one
        # held in escrow) is held until the host's journal has it (common/poll.py).
        super().__init__(name, port, channels, poll_interval, reply_timeout, retries,
                         hold_power_up, owns_port, {"polls": 0, "refused": 0, "bad_events": 0},
                         match_channel=True)
        self.max_protocol = max_protocol
        self._fixed_key = crypto.parse_fixed_key(fixed_key)  # never logged
        self._link = Link(name, port, address, reply_timeout, self.stats)
        self._first_contact = True  # this instance has not yet said where the note is
        self._deferred: list[str] = []  # power-up actions waiting for release_power_up()
        self._crypto_fault: str | None = None
        self._faults: dict[int, FaultInfo] = {}
        self._polled = False
        self._unit_disabled = True
        self._wanted: frozenset[int] | None = None  # enabled channels; None = disabled
        self.setup: p.Setup | None = None
        self.serial_number: int | None = None
        self.protocol_version: int | None = None

    def identity(self) -> dict[str, Any]:
        """What the unit said about itself (for ``kiosk devices`` / ``kiosk diag``)."""
        s = self.setup
        return {"protocol": "essp", "protocol_version": self.protocol_version,
                "serial_number": self.serial_number,
                "firmware": s.firmware if s else None, "country": s.country if s else None,
                "channels": {ch: s.value_minor(ch) for ch in range(1, len(s.channel_values) + 1)}
                if s else {}}

    def _device_health(self) -> Health:
        if self._crypto_fault is not None:
            return Health(HealthState.FAULT, self._crypto_fault)
        for info in list(self._faults.values()):
            return Health(HealthState.FAULT, info.reason)
        if not self._polled:
            return Health(HealthState.UNKNOWN, "no status yet")
        return Health(HealthState.OK, "disabled" if self._unit_disabled else "idle")

    # ------------------------------------------------------------ poll thread
    def _step(self) -> None:
        try:
            if self._needs_init:
                self._initialise()
            elif self._first_contact:
                self._first_poll()
            elif self._deferred and self._hold_power_up.is_set():
                self._cmd(p.HOLD)  # keep-alive that never moves a note
            else:
                self._run_deferred()
                self._run_commands()
                self._poll()
        except EncryptionRefused as exc:
            self._refused(str(exc))
        except KeyLost:
            log.warning("%s: validator lost the key (it reset): negotiating again", self.name)
            self._needs_init = True

    def _on_link_down(self, exc: LinkDown) -> None:
        self._needs_init = True  # the key and the sequence are in doubt: start over
        super()._on_link_down(exc)

    def _leave_disabled(self) -> None:
        self._link.command(bytes([p.DISABLE]), 1)

    def _cmd(self, code: int, data: bytes = b"", encrypt: bool | None = None) -> bytes:
        reply = self._link.command(bytes([code]) + data, self._attempts(), encrypt)
        self._link_up()
        if reply[0] != p.OK:
            self.stats["refused"] += 1
            log.info("%s: %s answered %s", self.name, p.COMMAND_NAMES.get(code, hex(code)),
                     p.RESPONSE_NAMES.get(reply[0], f"0x{reply[0]:02X}"))
        if reply[0] == p.KEY_NOT_SET:
            raise KeyLost("KEY_NOT_SET")
        return reply

    def _refused(self, reason: str) -> None:
        """A reply we cannot trust: nothing in it happened; lock, and re-key from scratch."""
        self._needs_init = True
        log.error("%s: encrypted reply refused: %s", self.name, reason)
        if self._crypto_fault is None:
            self._crypto_fault = f"encrypted reply refused ({reason})"
            self._post(DeviceFault(self.name, CRYPTO_FAULT, self._crypto_fault, locking=True))

    def _initialise(self) -> None:
        """SYNC, protocol version negotiated down from what the unit reports, key exchange,
        then (encrypted) identity, channel inhibits and enable state."""
        self._link.sync(self._attempts())
        reported = p.parse_setup(self._cmd(p.SETUP_REQUEST, encrypt=False)).protocol_version
        version = min(reported, self.max_protocol)
        while version >= p.MIN_PROTOCOL:
            if self._cmd(p.HOST_PROTOCOL_VERSION, bytes([version]), encrypt=False)[0] == p.OK:
                break
            version -= 1
        else:
            self._refused(f"unit speaks SSP v{reported}; eSSP needs v{p.MIN_PROTOCOL}+")
            return
        self.protocol_version = version
        gen, mod, secret = crypto.host_numbers()
        ok = [self._cmd(p.SET_GENERATOR, gen.to_bytes(8, "little"), encrypt=False)[0],
              self._cmd(p.SET_MODULUS, mod.to_bytes(8, "little"), encrypt=False)[0]]
        inter = crypto.intermediate(gen, secret, mod).to_bytes(8, "little")
        reply = self._cmd(p.REQUEST_KEY_EXCHANGE, inter, encrypt=False)
        if ok != [p.OK, p.OK] or reply[0] != p.OK or len(reply) != 9:
            raise EncryptionRefused("key exchange refused by the unit")
        slave = int.from_bytes(reply[1:9], "little")
        self._link.session = crypto.Session(self._fixed_key, pow(slave, secret, mod))
        try:
            self.setup = p.parse_setup(self._cmd(p.SETUP_REQUEST))
        except LinkDown as exc:  # it answered in plain, not encrypted: the keys differ
            raise EncryptionRefused("no answer to encrypted commands: fixed key mismatch?") from exc
        serial_reply = self._cmd(p.GET_SERIAL)
        self.serial_number = int.from_bytes(serial_reply[1:5], "big")
        self._check_channels()
        self._apply_enable()
        self._needs_init = False
        if self._crypto_fault is not None:
            self._crypto_fault = None
            self._post(DeviceFaultCleared(self.name, CRYPTO_FAULT))
        log.info("%s: eSSP v%d unit %s firmware %s, encrypted session up", self.name, version,
                 self.serial_number, self.setup.firmware)

    def _check_channels(self) -> None:
        assert self.setup is not None
        for ch, value in sorted(self.channels.values.items()):
            if self.setup.value_minor(ch) != value:
                log.warning("%s: config says channel %d is %d, the unit says %s: not enabled",
                            self.name, ch, value, self.setup.value_minor(ch))
                self._post(DeviceStatus(self.name, "channel_mismatch",
                                        f"channel {ch}: config {value}, unit "
                                        f"{self.setup.value_minor(ch)}"))

    def _usable(self, ch: int | None) -> bool:
        return (ch is not None and 1 <= ch <= 16 and self.setup is not None
                and self.setup.value_minor(ch) == self.channels.value(ch))

    def _apply_enable(self) -> None:
        wanted = self._wanted
        chans = frozenset(ch for ch in (wanted or ()) if self._usable(ch))
        self._cmd(p.SET_INHIBITS, p.inhibit_bytes(chans))
        self._cmd(p.ENABLE if chans else p.DISABLE)

    def _first_poll(self) -> None:
        """Where the note is, once per instance: HOLD answers OK only with a note in escrow
        (which a POLL would accept); otherwise the first poll's events tell."""
        if self._cmd(p.HOLD)[0] == p.OK:
            self._first_contact = False
            self._deferred.append("reject")  # the host never decided on it in this life
            self._post(PowerUp(self.name, "bill_in_acceptor"))
            if not self._hold_power_up.is_set():
                self._run_deferred()
            return
        events = self._poll_events()
        if events is None:
            return
        codes = {ev.code for ev in events}
        if p.NOTE_CLEARED_INTO_CASHBOX in codes or codes & {p.STACKING, p.NOTE_CREDIT}:
            condition = "bill_in_stacker"
        elif p.NOTE_CLEARED_FROM_FRONT in codes or p.REJECTING in codes:
            condition = "bill_in_acceptor"
        else:
            condition = "normal"
        self._first_contact = False
        self._post(PowerUp(self.name, condition))
        self._on_events(events, at_power_up=True)
        if codes & p.ACK_EVENTS:
            self._deferred.append("ack")
        if not self._hold_power_up.is_set():
            self._run_deferred()

    def _run_deferred(self) -> None:
        while self._deferred:
            action = self._deferred.pop(0)
            self._cmd(p.EVENT_ACK if action == "ack" else p.REJECT)

    def _execute(self, op: tuple[Any, ...]) -> None:
        kind, cycle = op[0], self._escrow.cycle
        if kind == "enable":
            wanted = {v: self.channels.channel_for(v) for v in op[1]}
            unusable = sorted(v for v, ch in wanted.items() if not self._usable(ch))
            if unusable:
                log.warning("%s: no matching unit channel for %s; not enabled", self.name,
                            unusable)
            self._wanted = frozenset(ch for ch in wanted.values() if ch is not None)
            self._apply_enable()
        elif kind == "disable":
            self._wanted = None
            self._cmd(p.DISABLE)
        elif kind in ("stack", "return"):
            if cycle is None or cycle.done or cycle.decided:
                log.warning("%s: %s with no note in escrow: ignored", self.name, kind)
                return
            self._escrow.request(kind)
            if kind == "return":
                self._cmd(p.REJECT)
            # "stack": the next POLL (instead of HOLD) accepts the note (manual, "HOLD")

    def _poll(self) -> None:
        cycle = self._escrow.cycle
        if cycle is not None and not cycle.done and not cycle.decided:
            self.stats["polls"] += 1
            if self._cmd(p.HOLD)[0] != p.OK:  # the unit no longer holds it (timed out)
                cycle.timed_out = True
            return
        events = self._poll_events()
        if events is None:
            return
        self._on_events(events, at_power_up=False)
        if any(ev.code in p.ACK_EVENTS for ev in events):
            self._cmd(p.EVENT_ACK)  # after the events are posted: journal first, then ack

    def _poll_events(self) -> list[p.Event] | None:
        self.stats["polls"] += 1
        reply = self._cmd(p.POLL_WITH_ACK)
        try:
            events = p.parse_events(reply)
        except FrameError as exc:
            self.stats["bad_events"] += 1
            log.warning("%s: poll reply %s not understood (%s): not acknowledged", self.name,
                        reply.hex(), exc)
            return None
        self._polled = True
        return events

    # ------------------------------------------------------------ events → typed events
    def _on_events(self, events: list[p.Event], at_power_up: bool) -> None:
        codes = {ev.code for ev in events}
        self._unit_disabled = p.DISABLED in codes
        for code, info in list(self._faults.items()):
            cleared = (p.CASHBOX_REPLACED in codes or p.SLAVE_RESET in codes) if info.latched \
                else code not in codes
            if cleared:
                del self._faults[code]
                self._post(DeviceFaultCleared(self.name, info.code))
        for ev in events:
            self._on_event(ev, at_power_up)

    def _on_event(self, ev: p.Event, at_power_up: bool) -> None:
        code, ch = ev.code, ev.channel
        info = FAULTS.get(code)
        if info is not None:
            if code not in self._faults:
                self._faults[code] = info
                reason = info.reason + (f" (channel {ch})" if ch else "")
                self._post(DeviceFault(self.name, info.code, reason, locking=True))
        elif code == p.SLAVE_RESET:
            if not at_power_up:
                self._post(PowerUp(self.name, "normal"))
        elif code == p.READ_NOTE and ch:
            self._escrowed(ch, self.channels.value(ch) if self._usable(ch) else None,
                           f"channel {ch}")
        elif code == p.NOTE_CREDIT:
            ch = ch or 0
            # Repeated until our EVENT_ACK got through: the same note (common/escrow.py).
            self._escrow.credit(ch, f"NOTE CREDIT on channel {ch} for a note this driver did "
                                "not see in escrow: to be reconciled from the journal and the "
                                "unit's counters")
        elif code == p.STACKED:
            self._escrow.stacked()
        elif code == p.REJECTED:
            cycle = self._escrow.cycle
            if cycle is not None and not cycle.done and not cycle.credited:
                self._escrow.close("device")
            elif cycle is None or cycle.done:
                self._post(NoteRejected(self.name, "note rejected by the validator", code))
        elif code in (p.NOTE_CLEARED_FROM_FRONT, p.NOTE_CLEARED_INTO_CASHBOX):
            self._on_cleared(code, ch or 0, at_power_up)

    def _on_cleared(self, code: int, ch: int, at_power_up: bool) -> None:
        """A note the unit cleared by itself after a reset (manual, BNV event table)."""
        cycle = self._escrow.cycle
        into_box = code == p.NOTE_CLEARED_INTO_CASHBOX
        value = self.channels.value(ch) if self._usable(ch) else None
        self._post(DeviceStatus(self.name, p.EVENT_NAMES[code],
                                f"channel {ch}, value {value if value is not None else '?'}"))
        if at_power_up or cycle is None or cycle.done or cycle.value is None:
            # The host's power-up reconciliation settles the journaled note from PowerUp's
            # condition (and flags it); a note nobody journaled is flagged for the operator.
            if not at_power_up:
                self._post(EventsLost(self.name, 1, f"{p.EVENT_NAMES[code]} channel {ch} "
                                      "after a validator reset, for no note in escrow here"))
            return
        if into_box and not cycle.credited:
            cycle.credited = True  # in the cash box: money, and flagged for the collection
            self._post(NoteCredited(self.name, cycle.value, ch))
            self._post(EventsLost(self.name, 0, f"note of {cycle.value} cleared into the cash "
                                  "box after a validator reset: credited, check at collection"))
        self._escrow.close("reset")
