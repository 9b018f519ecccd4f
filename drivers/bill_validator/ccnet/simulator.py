"""A CashCode CCNET bill validator played byte for byte on a pty, with fault knobs and
counters that survive a restart (a power cut) in a state file.

The bill cycle advances one step per POLL, so tests are deterministic: insert → ACCEPTING →
ESCROW POSITION (held until STACK/RETURN/HOLD, or returned by the unit itself when the escrow
period runs out) → STACKING → BILL STACKED (repeated until the controller ACKs) → idle/disabled;
RETURN → RETURNING → BILL RETURNED (repeated until ACKed) → idle; refused → REJECTING → idle.
Faults overlay the state until ``clear`` (cash box and cassette-full also ``cashbox-insert``).
Every data answer wants the controller's ACK; ``unacked`` counts the ones that got none.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable

from drivers.bill_validator.ccnet import protocol as p
from drivers.bill_validator.common.simulator import ValidatorSimulator

log = logging.getLogger(__name__)

#: fault knob name → state; the first active one in this order is reported
FAULT_STATE = {
    "cashbox_removed": p.DROP_CASSETTE_OUT,
    "stacker_jam": p.DROP_CASSETTE_JAMMED,
    "acceptor_jam": p.VALIDATOR_JAMMED,
    "cheated": p.CHEATED,
    "failure": p.FAILURE,
    "stacker_full": p.DROP_CASSETTE_FULL,
    "pause": p.PAUSE,
}
FAILURE_CODE = 0x50  # stack motor failure
#: CCNET manual, section 5.4 (HOLD): a bill is kept in escrow for 10 s, then returned.
ESCROW_TIMEOUT = 10.0
STAGE_STATE = {
    "accepting": p.ACCEPTING,
    "escrow": p.ESCROW_POSITION,
    "holding": p.HOLDING,
    "stacking": p.STACKING,
    "stacked": p.BILL_STACKED,
    "returning": p.RETURNING,
    "returned": p.BILL_RETURNED,
    "rejecting": p.REJECTING,
}
IN_ESCROW = frozenset({"escrow", "holding"})
IN_VALIDATOR = frozenset({"accepting", "escrow", "holding", "returning", "rejecting"})
IN_STACKER = frozenset({"stacking"})
HELP = (
    "commands: insert <yuan> | reject [hex reason] | jam | stacker-jam | stacker-full | "
    "cashbox-remove | cashbox-insert | cheat | failure [hex code] | pause | clear | "
    "noise <hex bytes> | drop <n> | corrupt <n> | ignore-ack <n> | delay <ms> | power-cycle | "
    "counters | status | busy <n> | nak <n> | escrow-timeout <s> | bill-type <type> <yuan> | "
    "bill-table | identity | help"
)


class CcnetSimulator(ValidatorSimulator):
    help_text = HELP
    STAGES = STAGE_STATE
    FAULT_NAMES = FAULT_STATE
    IN_PATH = IN_VALIDATOR
    IN_STACKER = IN_STACKER
    POWER_UP_STATUS = (p.POWER_UP, p.POWER_UP_BILL_IN_VALIDATOR, p.POWER_UP_BILL_IN_STACKER)
    FAILURE_STATUS = p.FAILURE
    BENCH_FAULTS = {**ValidatorSimulator.BENCH_FAULTS, "pause": "pause"}
    KNOBS = {"corrupt": "corrupt_replies", "ignore-ack": "ignore_acks", "busy": "busy_polls",
             "nak": "nak_commands"}
    NOTE_WORD = "bill"

    def __init__(self, state_path: str | os.PathLike[str] | None = None,
                 bill_table: tuple[p.BillType, ...] | None = None,
                 identity: p.Identity | None = None,
                 escrow_timeout: float = ESCROW_TIMEOUT,
                 clock: Callable[[], float] = time.monotonic,
                 address: int = p.ADDR_BILL_VALIDATOR) -> None:
        super().__init__(state_path)
        self.address = address
        table = list(bill_table if bill_table is not None else p.CNY_BILL_TABLE)
        self.bill_table = table + [p.EMPTY_BILL_TYPE] * (p.BILL_TYPES - len(table))
        self.identity = identity or p.Identity("SM-CN1715", "41K123456789", bytes(7))
        self.escrow_timeout = escrow_timeout
        self.clock = clock
        self._reader = p.FrameReader()
        # Volatile memory: a new instance is a device just switched on.
        self._power_up = True
        self._initializing = False
        self._enabled = bytes(3)
        self._escrow = bytes(3)
        self.security = bytes(3)
        self._escrow_since = 0.0
        self._last_answer = b""
        self._awaiting_ack = False
        self._event_reported = False
        self.unacked = 0  # data answers the controller never ACKed
        self.busy_polls = 0
        self.nak_commands = 0
        self.commands_seen: list[int] = []
        self.failure_code = FAILURE_CODE

    # ------------------------------------------------------------ wire side
    def on_bytes(self, data: bytes) -> bytes:
        self._last_rx = time.monotonic()
        bad = self._reader.frames_bad
        frames = self._reader.feed(data)
        out = b"".join(self._answer(frame) for frame in frames)
        if self._reader.frames_bad > bad and not frames:
            out += self._frame(p.NAK)  # section 2.3: a frame with a bad CRC is NAKed
        return out

    def _tick(self) -> None:
        self._escrow_clock()

    def _frame(self, cmd: int, data: bytes = b"") -> bytes:
        return p.encode(cmd, data, self.address)

    def _answer(self, frame: p.Frame) -> bytes:
        if frame.address != self.address:
            return b""  # another peripheral on the bus
        cmd = frame.cmd
        if cmd == p.ACK and not frame.data:
            self._host_ack()
            return b""  # nobody answers an ACK
        if cmd == p.NAK and not frame.data:
            return self._last_answer  # the controller got a bad CRC: the same answer again
        if self._awaiting_ack:
            self.unacked += 1
            self._awaiting_ack = False
        self._event_reported = False
        self.commands_seen.append(cmd)
        if self.nak_commands > 0:
            self.nak_commands -= 1
            return self._frame(p.NAK)
        if p.COMMAND_DATA_LEN.get(cmd) != len(frame.data):
            reply, data_answer = self._frame(p.ILLEGAL_COMMAND), True
        else:
            reply, data_answer = self._command_answer(cmd, frame.data)
        self._awaiting_ack = data_answer
        self._last_answer = reply  # what a NAK gets again: the damage below is the wire's
        return self._damaged(reply)

    def _command_answer(self, cmd: int, data: bytes) -> tuple[bytes, bool]:
        """(answer frame, whether it is a data answer the controller must ACK)."""
        ack = self._frame(p.ACK)
        if cmd == p.POLL:
            return self._report_state(), True
        if cmd == p.RESET:
            self._reset()
            return ack, False
        if cmd == p.GET_STATUS:
            return self._frame(self._enabled[0], self._enabled[1:] + self.security), True
        if cmd == p.IDENTIFICATION:
            return p.from_body(self.identity.encode(), self.address).encode(), True
        if cmd == p.GET_BILL_TABLE:
            return p.from_body(p.encode_bill_table(self.bill_table), self.address).encode(), True
        if self._power_up:
            return self._frame(p.ILLEGAL_COMMAND), True  # nothing else before a RESET
        if cmd == p.SET_SECURITY:
            self.security = bytes(data)
            return ack, False
        if cmd == p.ENABLE_BILL_TYPES:
            self._enabled, self._escrow = bytes(data[:3]), bytes(data[3:])
            return ack, False
        note = self.state["note"]
        busy = bool(set(self.state["faults"]) - {"stacker_full"})
        if busy or not note or note["stage"] not in IN_ESCROW:
            return self._frame(p.ILLEGAL_COMMAND), True
        if cmd == p.STACK:
            self._set_stage("stacking")
        elif cmd == p.RETURN:
            self._set_stage("returning")
        elif cmd == p.HOLD:
            self._escrow_since = self.clock()  # another escrow period
            self._set_stage("holding")
        return ack, False

    def current_state(self) -> tuple[int, bytes]:
        """What a POLL would answer now (does not advance the cycle)."""
        overlay = self._overlay(self.failure_code)
        if overlay is not None:
            return overlay
        note = self.state["note"]
        if self._initializing:
            return p.INITIALIZE, b""
        if self.busy_polls > 0:
            return p.BUSY, b""
        if note:
            code = STAGE_STATE[note["stage"]]
            if code == p.REJECTING:
                return code, bytes([note["reason"]])
            if code in p.STATE_DATA_LEN:
                return code, bytes([note["type"]])
            return code, b""
        return (p.IDLING if any(self._enabled) else p.UNIT_DISABLED), b""

    def _report_state(self) -> bytes:
        self._escrow_clock()
        code, data = self.current_state()
        # Only the answer that reported the event is cleared by the ACK that follows it.
        self._event_reported = code in (p.BILL_STACKED, p.BILL_RETURNED)
        if code == p.INITIALIZE:
            self._initializing = False
        elif code == p.BUSY:
            self.busy_polls -= 1
        elif code in (p.ACCEPTING, p.STACKING, p.RETURNING, p.REJECTING):
            self._advance(self.state["note"])
        return self._frame(code, data)

    def _escrow_clock(self) -> None:
        note = self.state["note"]
        if (note and note["stage"] in IN_ESCROW and not self._power_up
                and self.clock() - self._escrow_since >= self.escrow_timeout):
            self._set_stage("returning")  # nobody decided: the unit gives the bill back

    def _advance(self, note: dict[str, Any]) -> None:
        """A transient stage was reported once: move on, as the mechanism would."""
        stage = note["stage"]
        counters = self.state["counters"]
        if stage == "accepting":
            bill_type = note["type"]
            enabled = p.mask_types(self._enabled)
            if note.get("reason") is not None:
                self._set_stage("rejecting")
            elif bill_type is None:
                note["reason"] = p.REJECT_IDENTIFICATION
                self._set_stage("rejecting")
            elif bill_type not in enabled:
                note["reason"] = p.REJECT_INHIBITED
                self._set_stage("rejecting")
            elif bill_type in p.mask_types(self._escrow):
                self._escrow_since = self.clock()
                self._set_stage("escrow")
            else:
                self._set_stage("stacking")  # escrow off for this type: straight in
        elif stage == "stacking":
            self._count_stacked(note)
            self._set_stage("stacked")
        elif stage == "returning":
            counters["returned"] += 1
            self._set_stage("returned")
        elif stage == "rejecting":
            counters["rejected"] += 1
            self._set_stage(None)

    def _host_ack(self) -> None:
        self._awaiting_ack = False
        reported, self._event_reported = self._event_reported, False
        if not reported:
            return
        if self.ignore_acks > 0:  # fault knob: the ACK was lost on the wire
            self.ignore_acks -= 1
            return
        note = self.state["note"]
        if note and note["stage"] in ("stacked", "returned") and not self._power_up:
            self._set_stage(None)  # the event was delivered: the unit forgets it

    def _reset(self) -> None:
        self._finish_in_flight()
        self._power_up = False
        self._initializing = True
        self._enabled = self._escrow = bytes(3)

    # ------------------------------------------------------------ knobs (methods)
    @property
    def ready_for_note(self) -> bool:
        return any(self._enabled) and not self._power_up and self.state["note"] is None

    def insert_note(self, value_minor: int, reject_reason: int | None = None) -> None:
        """A resident pushes a bill in.  Raises ValueError when the device cannot take one."""
        self._put_note({"value": int(value_minor), "type": self.type_for(value_minor),
                        "stage": "accepting", "reason": reject_reason})

    def type_for(self, value_minor: int) -> int | None:
        for bill_type, entry in enumerate(self.bill_table):
            if entry.value_minor() == value_minor:
                return bill_type
        return None

    def power_cycle(self) -> int:
        """Power off and on: settings are lost, the bill (if any) stays where it is."""
        with self._lock:
            note = self.state["note"]
            if note and note["stage"] in ("stacked", "returned"):
                self._set_stage(None)  # already counted; the unsent event is lost
            self._power_up = True
            self._initializing = False
            self._enabled = self._escrow = bytes(3)
            self._awaiting_ack = False
            self._reader = p.FrameReader()
            return self.current_state()[0]

    def status_line(self) -> str:
        with self._lock:
            code, data = self.current_state()
            name = p.STATE_NAMES.get(code, "?")
            return self._status_text(
                [f"state 0x{code:02X}{(' ' + data.hex().upper()) if data else ''} {name}"],
                [f"enabled={self._enabled.hex().upper()}",
                 f"inhibit={'off' if any(self._enabled) else 'on'}"])

    # ------------------------------------------------------------ bench prompt
    def _own_command(self, verb: str, args: list[str]) -> str | None:
        if verb == "failure":
            if args:
                self.failure_code = _byte(args[0])
            self.set_fault("failure")
            return f"ok: failure ({p.failure_text(self.failure_code)})"
        if verb == "reject":
            reason = _byte(args[0]) if args else 0x61
            self.insert_note(0, reject_reason=reason)
            return f"ok: inserted a bill that will be rejected ({p.reject_reason_text(reason)})"
        if verb == "escrow-timeout":
            self.escrow_timeout = float(args[0])
            return f"ok: escrow-timeout {self.escrow_timeout:g}"
        if verb == "bill-type":
            if len(args) != 2 or not all(a.isdigit() for a in args) or int(args[0]) > 23:
                raise ValueError("usage: bill-type <type 0..23> <yuan, 0 = empty>")
            self.bill_table[int(args[0])] = _entry(int(args[1]))
            return f"ok: bill type {args[0]} = {args[1]} yuan"
        if verb == "bill-table":
            return " ".join(f"{t}:{e.value_minor() // 100}" for t, e in enumerate(self.bill_table)
                            if not e.empty)
        if verb == "identity":
            i = self.identity
            return f"part={i.part_number} serial={i.serial_number} asset={i.asset_number.hex()}"
        if verb == "power-cycle":
            code = self.power_cycle()
            return f"ok: power cycled; next state 0x{code:02X} {p.STATE_NAMES[code]}"
        return None


def _byte(text: str) -> int:
    value = int(text, 16)
    if not 0 <= value <= 0xFF:
        raise ValueError("must be one byte")
    return value


def _entry(yuan: int) -> p.BillType:
    if yuan == 0:
        return p.EMPTY_BILL_TYPE
    power = 0
    while yuan % 10 == 0:
        yuan, power = yuan // 10, power + 1
    if yuan > 0xFF:
        raise ValueError("denomination digit does not fit a byte")
    return p.BillType(yuan, "CHN", power)
