"""A JCM ID-003 bill validator played byte for byte on a pty, with fault knobs and counters
that survive a restart (a power cut) in a state file.

The note cycle advances one step per status request, so tests are deterministic: insert →
ACCEPTING → ESCROW (held until STACK/RETURN) → STACKING → VEND VALID (repeated until the host
ACKs) → STACKED → idle/disabled; RETURN → RETURNING → idle; refused → REJECTING → idle.
Faults overlay the status until ``clear`` (cash box and stacker-full also ``cashbox-insert``).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from drivers.bill_validator.common.simulator import ValidatorSimulator
from drivers.bill_validator.id003 import protocol as p
from drivers.errors import FrameError
from drivers.interfaces import ChannelMap

log = logging.getLogger(__name__)

#: fault knob name → status code; the first active one in this order is reported
FAULT_STATUS = {
    "cashbox_removed": p.STACKER_OPEN,
    "stacker_jam": p.STACKER_JAM,
    "acceptor_jam": p.ACCEPTOR_JAM,
    "cheated": p.CHEATED,
    "failure": p.FAILURE,
    "stacker_full": p.STACKER_FULL,
    "comm_error": p.COMMUNICATION_ERROR,
    "pause": p.PAUSE,
}
FAILURE_CODE = 0xA2  # failure data byte reported with 0x49 (a stack motor failure, say)
STAGE_STATUS = {
    "accepting": p.ACCEPTING,
    "escrow": p.ESCROW,
    "stacking": p.STACKING,
    "vend_valid": p.VEND_VALID,
    "stacked": p.STACKED,
    "returning": p.RETURNING,
    "rejecting": p.REJECTING,
}
#: What this simulated unit answers to the version information request (0x88): the string a
#: JCM unit of this kind sends (ID-003 specification, "version information request").
VERSION = "i(CHN)100-SS ID003-05V150-51 26JUN09 9E0C"
BOOT_VERSION = "i(CHN)100-SS BOOT-V1.02 11MAR08"
#: Settings this unit powers up with, read back by 0x81..0x87 until the host writes them: the
#: data as the matching setting command carries it.  C0 and C3 are kept as the mask and the
#: inhibit flag the note cycle uses.
POWER_UP_SETTINGS = {
    p.SET_SECURITY: b"\x00\x00",
    p.SET_COMMUNICATION_MODE: b"\x00",  # polling mode
    p.SET_DIRECTION: b"\x00",  # every insertion direction accepted
    p.SET_OPTIONAL_FUNCTION: b"\x00\x00",
    p.SET_BAR_CODE: b"\x01\x12",  # interleaved 2 of 5, 18 characters
    p.SET_BAR_INHIBIT: b"\xfc",  # notes and bar-code tickets accepted
}
IN_ACCEPTOR = frozenset({"accepting", "escrow", "returning", "rejecting"})
IN_STACKER = frozenset({"stacking", "vend_valid"})
HELP = (
    "commands: insert <yuan> | reject [hex reason] | jam | stacker-jam | stacker-full | "
    "cashbox-remove | cashbox-insert | cheat | failure | comm-error | pause | clear | "
    "noise <hex bytes> | drop <n> | corrupt <n> | ignore-ack <n> | delay <ms> | power-cycle | "
    "version [text|none] | settings | counters | status | help"
)


def _checked_version(text: str | None) -> str | None:
    """A version string the wire cannot carry (not printable ASCII, too long) is a ValueError."""
    if text is not None:
        try:
            p.encode_version(text)
        except FrameError as exc:
            raise ValueError(f"version: {exc}") from None
    return text


class Id003Simulator(ValidatorSimulator):
    help_text = HELP
    STAGES = STAGE_STATUS
    FAULT_NAMES = FAULT_STATUS
    IN_PATH = IN_ACCEPTOR
    IN_STACKER = IN_STACKER
    POWER_UP_STATUS = (p.POWER_UP, p.POWER_UP_BILL_IN_ACCEPTOR, p.POWER_UP_BILL_IN_STACKER)
    FAILURE_STATUS = p.FAILURE
    BENCH_FAULTS = {**ValidatorSimulator.BENCH_FAULTS, "failure": "failure",
                    "comm-error": "comm_error", "pause": "pause"}

    def __init__(
        self, state_path: str | os.PathLike[str] | None = None, channels: ChannelMap | None = None,
        version: str | None = VERSION,
    ) -> None:
        """``version``: the string the unit answers 0x88 with; None plays an older unit that
        answers INVALID COMMAND."""
        super().__init__(state_path)
        self.version = _checked_version(version)
        self.channels = channels if channels is not None else p.cny_channels()
        self._reader = p.FrameReader()
        # Volatile memory: a new instance is a device just switched on.
        self._power_up = True
        self._initializing = False
        self._inhibited = True
        self._mask = b"\x00\x00"
        self.settings: dict[int, bytes] = {}

    # ------------------------------------------------------------ wire side
    def _answer(self, frame: p.Frame) -> bytes:
        cmd = frame.cmd
        if cmd == p.ACK and not frame.data:
            self._host_ack()
            return b""  # the device does not answer the host's ACK
        if cmd == p.STATUS_REQUEST and not frame.data:
            reply = self._report_status()
        elif cmd in p.OPERATION_COMMANDS and not frame.data:
            reply = self._operation(cmd)
        elif cmd in p.SETTING_COMMANDS and self._setting(cmd, frame.data):
            reply = frame.encode()  # setting commands are echoed as received
        elif cmd in p.READ_REQUESTS and not frame.data:
            reply = self._read_back(cmd)
        else:
            reply = p.encode(p.INVALID_COMMAND)
        return self._damaged(reply)

    def current_status(self) -> tuple[int, bytes]:
        """What a status request would answer now (does not advance the cycle)."""
        overlay = self._overlay(FAILURE_CODE)
        if overlay is not None:
            return overlay
        note = self.state["note"]
        if self._initializing:
            return p.INITIALIZE, b""
        if note:
            code = STAGE_STATUS[note["stage"]]
            if code == p.ESCROW:
                return code, bytes([note["code"]])
            if code == p.REJECTING:
                return code, bytes([note["reason"]])
            return code, b""
        return (p.DISABLE_INHIBIT if self._inhibited else p.ENABLE_IDLING), b""

    def _report_status(self) -> bytes:
        code, data = self.current_status()
        if code == p.INITIALIZE:
            self._initializing = False
        elif code in (p.ACCEPTING, p.STACKING, p.STACKED, p.RETURNING, p.REJECTING):
            self._advance(self.state["note"])
        return p.encode(code, data)

    def _advance(self, note: dict[str, Any]) -> None:
        """A transient stage was reported once: move on, as the mechanism would."""
        stage = note["stage"]
        counters = self.state["counters"]
        if stage == "accepting":
            code = note["code"]
            if note.get("reason") is not None:
                self._set_stage("rejecting")
            elif code is None:
                note["reason"] = p.REJECT_UNKNOWN_DENOMINATION
                self._set_stage("rejecting")
            elif self._inhibited or code not in p.enabled_codes(self._mask):
                note["reason"] = p.REJECT_INHIBITED
                self._set_stage("rejecting")
            else:
                self._set_stage("escrow")
        elif stage == "stacking":
            self._set_stage("vend_valid")
        elif stage == "returning":
            counters["returned"] += 1
            self._set_stage(None)
        elif stage == "rejecting":
            counters["rejected"] += 1
            self._set_stage(None)
        elif stage == "stacked":
            self._set_stage(None)

    def _host_ack(self) -> None:
        if self.ignore_acks > 0:  # fault knob: the ACK was lost on the wire
            self.ignore_acks -= 1
            return
        note = self.state["note"]
        if note and note["stage"] == "vend_valid" and not self._power_up:
            self._count_stacked(note)
            self._set_stage("stacked")

    def _operation(self, cmd: int) -> bytes:
        note = self.state["note"]
        ack = p.encode(p.ACK)
        if cmd == p.RESET:
            self._finish_in_flight()
            self._power_up = False
            self._initializing = True
            self._inhibited = True
            return ack
        busy = self._power_up or bool(set(self.state["faults"]) - {"stacker_full"})
        if busy or not note or note["stage"] != "escrow":
            return p.encode(p.INVALID_COMMAND)
        if cmd in (p.STACK_1, p.STACK_2):
            self._set_stage("stacking")
        elif cmd == p.RETURN:
            self._set_stage("returning")
        return ack  # HOLD: keep the note in escrow

    def _setting(self, cmd: int, data: bytes) -> bool:
        need = p.SETTING_DATA_LEN.get(cmd)
        if need is not None and len(data) != need:
            return False
        if cmd == p.SET_INHIBIT:
            if data[0] not in (0, 1):
                return False
            self._inhibited = data[0] == 1
        elif cmd == p.SET_ENABLE:
            self._mask = bytes(data)
        self.settings[cmd] = bytes(data)
        return True

    def setting_data(self, setting_cmd: int) -> bytes:
        """What the unit holds now for ``setting_cmd`` (the data of its read-back)."""
        if setting_cmd == p.SET_ENABLE:
            return self._mask
        if setting_cmd == p.SET_INHIBIT:
            return b"\x01" if self._inhibited else b"\x00"
        return self.settings.get(setting_cmd, POWER_UP_SETTINGS[setting_cmd])

    def _read_back(self, cmd: int) -> bytes:
        """Setting status and version requests are answered in every state, power-up and
        faults included (ID-003 specification, "setting status request")."""
        if cmd == p.VERSION_REQUEST:
            if self.version is None:
                return p.encode(p.INVALID_COMMAND)
            return p.encode_version(self.version)
        if cmd == p.BOOT_VERSION_REQUEST:
            return p.encode(cmd, BOOT_VERSION.encode("ascii"))
        return p.encode(cmd, self.setting_data(p.SETTING_OF_REQUEST[cmd]))

    # ------------------------------------------------------------ knobs (methods)
    @property
    def ready_for_note(self) -> bool:
        """The host has enabled acceptance and no note is in the path: a resident can insert."""
        return not self._inhibited and not self._power_up and self.state["note"] is None

    def insert_note(self, value_minor: int, reject_reason: int | None = None) -> None:
        """A resident pushes a note in.  Raises ValueError when the device cannot take one."""
        self._put_note({"value": int(value_minor),
                        "code": self.channels.channel_for(int(value_minor)),
                        "stage": "accepting", "reason": reject_reason})

    def power_cycle(self) -> int:
        """Power off and on: settings are lost, the note (if any) stays where it is."""
        with self._lock:
            note = self.state["note"]
            if note and note["stage"] == "stacked":
                self._set_stage(None)  # already counted when the host acknowledged it
            self._power_up = True
            self._initializing = False
            self._inhibited = True
            self._mask = b"\x00\x00"
            self.settings.clear()
            self._reader = p.FrameReader()
            return self.current_status()[0]

    def status_line(self) -> str:
        with self._lock:
            code, data = self.current_status()
            name = p.STATUS_NAMES.get(code, "?")
            return self._status_text(
                [f"status 0x{code:02X}{(' ' + data.hex().upper()) if data else ''} {name}"],
                [f"inhibit={'on' if self._inhibited else 'off'}"])

    # ------------------------------------------------------------ bench prompt
    def _own_command(self, verb: str, args: list[str]) -> str | None:
        if verb == "reject":
            reason = int(args[0], 16) if args else 0x72
            if not 0 <= reason <= 0xFF:
                raise ValueError("reason must be one byte")
            self.insert_note(0, reject_reason=reason)
            return f"ok: inserted a note that will be rejected ({p.reject_reason_text(reason)})"
        if verb == "power-cycle":
            code = self.power_cycle()
            return f"ok: power cycled; next status 0x{code:02X} {p.STATUS_NAMES[code]}"
        if verb == "version":
            if args:
                text = " ".join(args)
                self.version = None if text.lower() == "none" else _checked_version(text)
            return f"version {self.version or 'none (answers INVALID COMMAND)'}"
        if verb == "settings":
            return " ".join(f"{cmd:02X}={self.setting_data(cmd).hex().upper()}"
                            for cmd in sorted(p.SETTING_COMMANDS))
        return None
