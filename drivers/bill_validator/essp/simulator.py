"""An ITL eSSP banknote validator played byte for byte on a pty: SSP v6+ framing with the
sequence flag and resend cache, the Diffie-Hellman key exchange, AES-128 packets with eCOUNT,
POLL_WITH_ACK / EVENT_ACK, HOLD / REJECT; fault knobs, and counters that survive a restart (a
power cut) in a state file.

The note cycle advances one step per poll, so tests are deterministic: insert → READ 0 →
READ ch (escrow; HOLD keeps it, REJECT returns it, a POLL accepts it) → STACKING → CREDIT ch
(repeated until EVENT_ACK) → STACKING+STACKED → idle.  A refused note: READ 0 → REJECTING →
REJECTED.  Bench words mirror the ID-003 simulator's, plus ``wrong-key``, ``replay`` and
``hold-timeout``.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from typing import Any

from drivers.bill_validator.common.simulator import ValidatorSimulator
from drivers.bill_validator.essp import crypto
from drivers.bill_validator.essp import protocol as p
from drivers.interfaces import ChannelMap

log = logging.getLogger(__name__)

#: CNY channels as an NV-type unit is usually programmed: channel → fen
CNY_CHANNELS = {1: 100, 2: 500, 3: 1000, 4: 2000, 5: 5000, 6: 10000}
#: fault knob → the poll event it is reported as on every poll while it lasts
FAULT_EVENTS = {"acceptor_jam": p.UNSAFE_JAM, "stacker_jam": p.SAFE_JAM,
                "stacker_full": p.STACKER_FULL, "cheated": p.FRAUD_ATTEMPT}
STAGES = ("reading", "escrow", "escrow_wait", "stacking", "credit", "stacked", "rejecting",
          "rejected")
IN_PATH = frozenset({"reading", "escrow", "escrow_wait", "rejecting", "rejected"})
#: commands that move money: taken only encrypted once the unit is encryption-enabled
#: (manual, "Encryption Layer": credit transfer commands only accepted encrypted)
ENCRYPTED_ONLY = frozenset({p.POLL, p.POLL_WITH_ACK, p.EVENT_ACK, p.ENABLE, p.SET_INHIBITS,
                            p.HOLD, p.REJECT})
HELP = ("commands: insert <yuan> | reject | jam | stacker-jam | stacker-full | cashbox-remove | "
        "cashbox-insert | cheat | clear | noise <hex> | drop <n> | corrupt <n> | ignore-ack <n> | "
        "delay <ms> | wrong-key on|off | replay <n> | hold-timeout <s> | power-cycle | counters "
        "| status | help")


class EsspSimulator(ValidatorSimulator):
    help_text = HELP
    STAGES = STAGES
    FAULT_NAMES = frozenset(FAULT_EVENTS) | {"cashbox_removed"}
    KNOBS: dict[str, str] = {}  # eSSP's numeric words take fractions too (_own_command)

    def __init__(self, state_path: str | os.PathLike[str] | None = None,
                 channels: ChannelMap | None = None,
                 fixed_key: str | bytes = crypto.DEFAULT_FIXED_KEY, address: int = 0,
                 protocol_version: int = 7, serial_number: int = 0x01020304,
                 firmware: str = "0430", hold_timeout: float = 10.0) -> None:
        super().__init__(state_path)
        self.channels = channels if channels is not None else ChannelMap(dict(CNY_CHANNELS))
        self.fixed_key = crypto.parse_fixed_key(fixed_key)
        self.address = address
        self.protocol_version = protocol_version
        self.serial_number = serial_number
        self.firmware = firmware
        self.hold_timeout = hold_timeout
        self.wrong_key = False
        self.replay_replies = 0
        self.host_packets_refused = 0
        self._reset_volatile()

    def _reset_volatile(self) -> None:
        """Power on: settings, key, sequence and event queue are lost; the note stays put."""
        self._reader = p.PacketReader()
        self._last_seq: bool | None = None
        self._last_reply = b""
        self._session: crypto.Session | None = None
        self._gen = self._mod = None
        self._host_version = 4
        self._mask = 0
        self._enabled = False
        self._pending: list[p.Event] = []  # waiting for EVENT_ACK
        self._last_encrypted = b""
        self._boot = [p.Event(p.SLAVE_RESET)]
        self._hold_until = 0.0
        note = self.state["note"]
        if note is None:
            return
        counters = self.state["counters"]
        if note["stage"] in IN_PATH:  # pushed back out of the bezel at power-up
            counters["rejected" if note["refuse"] else "returned"] += 1
            self._boot.append(p.Event(p.NOTE_CLEARED_FROM_FRONT, note["channel"] or 0))
        elif note["stage"] == "stacking":  # past escrow: finished into the cash box
            self._count_stacked(note)
            self._boot.append(p.Event(p.NOTE_CLEARED_INTO_CASHBOX, note["channel"]))
        self.state["note"] = None
        self.state_file.save(self.state)

    # ------------------------------------------------------------ wire side
    def _tick(self) -> None:
        note = self.state["note"]
        if note and note["stage"] == "escrow_wait" and time.monotonic() > self._hold_until:
            self._set_stage("rejecting")  # nobody held it: the unit gives it back

    def _answer(self, packet: p.Packet) -> bytes:
        if packet.address != self.address:
            return b""
        data = packet.data
        if data == bytes([p.SYNC]):
            self._last_seq = packet.seq
            self._last_reply = p.encode(packet.seq, self.address, bytes([p.OK]))
            return self._last_reply
        if packet.seq == self._last_seq and self._last_reply:
            return self._last_reply  # a resend: the same answer, nothing done twice
        encrypted = data[0] == p.STEX
        if encrypted and self._session is None:
            reply, encrypted = bytes([p.KEY_NOT_SET]), False
        else:
            if encrypted:
                assert self._session is not None
                try:
                    data = self._session.unwrap(data)
                except crypto.CryptoError:
                    self.host_packets_refused += 1  # wrong key or replay: ignored
                    return b""
            reply = self._wire_command(data, encrypted)
        payload = self._wrap(reply) if encrypted else reply
        raw = self._damaged(p.encode(packet.seq, self.address, payload))
        self._last_seq, self._last_reply = packet.seq, raw
        return raw

    def _wrap(self, reply: bytes) -> bytes:
        assert self._session is not None
        if self.replay_replies > 0 and self._last_encrypted:
            self.replay_replies -= 1
            self._session.count += 1  # the unit believes it sent a fresh one
            return self._last_encrypted
        if self.wrong_key:
            forged = crypto.Session(bytes(b ^ 0xA5 for b in self.fixed_key), 0x1234)
            forged.count = self._session.count
            self._session.count += 1
            payload = forged.wrap(reply)
        else:
            payload = self._session.wrap(reply)
        self._last_encrypted = payload
        return payload

    def _wire_command(self, data: bytes, encrypted: bool) -> bytes:
        code, args = data[0], data[1:]
        if code in ENCRYPTED_ONLY and not encrypted:
            return bytes([p.KEY_NOT_SET if self._session is None else p.CANNOT_PROCESS])
        handler = {
            p.HOST_PROTOCOL_VERSION: self._host_protocol, p.SETUP_REQUEST: self._setup,
            p.GET_SERIAL: lambda a: bytes([p.OK]) + self.serial_number.to_bytes(4, "big"),
            p.SET_GENERATOR: self._set_generator, p.SET_MODULUS: self._set_modulus,
            p.REQUEST_KEY_EXCHANGE: self._key_exchange, p.SET_INHIBITS: self._set_inhibits,
            p.ENABLE: self._enable, p.DISABLE: self._disable, p.POLL: self._poll_plain,
            p.POLL_WITH_ACK: self._poll_with_ack, p.EVENT_ACK: self._event_ack,
            p.HOLD: self._hold, p.REJECT: self._reject, p.RESET: self._reset,
        }.get(code)
        if handler is None:
            return bytes([p.COMMAND_NOT_KNOWN])
        return handler(args)

    # ------------------------------------------------------------ commands
    def _host_protocol(self, args: bytes) -> bytes:
        if len(args) != 1:
            return bytes([p.WRONG_PARAMETERS])
        if not 1 <= args[0] <= self.protocol_version:
            return bytes([p.FAIL])
        self._host_version = args[0]
        return bytes([p.OK])

    def setup_info(self) -> p.Setup:
        faces = tuple(self.channels.values[ch] // 100 for ch in sorted(self.channels.values))
        return p.Setup(0, self.firmware, "CNY", 1, faces, 100, self.protocol_version)

    def _setup(self, args: bytes) -> bytes:
        return p.encode_setup(self.setup_info(), expanded=self._host_version >= p.MIN_PROTOCOL)

    def _number(self, args: bytes) -> int | None:
        return int.from_bytes(args, "little") if len(args) == 8 else None

    def _set_generator(self, args: bytes) -> bytes:
        n = self._number(args)
        if n is None or not crypto.is_prime(n):
            return bytes([p.PARAMETER_OUT_OF_RANGE])  # must be prime (manual, "Encryption Keys")
        self._gen = n
        return bytes([p.OK])

    def _set_modulus(self, args: bytes) -> bytes:
        n = self._number(args)
        if n is None or not crypto.is_prime(n):
            return bytes([p.PARAMETER_OUT_OF_RANGE])
        self._mod = n
        return bytes([p.OK])

    def _key_exchange(self, args: bytes) -> bytes:
        host = self._number(args)
        if host is None or not self._gen or not self._mod:
            return bytes([p.CANNOT_PROCESS])
        secret = secrets.randbits(62) | 1
        mine = pow(self._gen, secret, self._mod)
        self._session = crypto.Session(self.fixed_key, pow(host, secret, self._mod))
        return bytes([p.OK]) + mine.to_bytes(8, "little")

    def _set_inhibits(self, args: bytes) -> bytes:
        if len(args) < 1:
            return bytes([p.WRONG_PARAMETERS])
        self._mask = int.from_bytes(args[:2], "little")
        return bytes([p.OK])

    def _enable(self, args: bytes) -> bytes:
        self._enabled = True
        return bytes([p.OK])

    def _disable(self, args: bytes) -> bytes:
        self._enabled = False
        return bytes([p.OK])

    def _reset(self, args: bytes) -> bytes:
        self._reset_volatile()
        return bytes([p.OK])

    def _hold(self, args: bytes) -> bytes:
        note = self.state["note"]
        if not note or note["stage"] != "escrow_wait":
            return bytes([p.CANNOT_PROCESS])
        self._hold_until = time.monotonic() + self.hold_timeout
        return bytes([p.OK])

    def _reject(self, args: bytes) -> bytes:
        note = self.state["note"]
        if not note or note["stage"] not in ("escrow", "escrow_wait"):
            return bytes([p.CANNOT_PROCESS])
        self._set_stage("rejecting")
        return bytes([p.OK])

    def _event_ack(self, args: bytes) -> bytes:
        if not self._pending:
            return bytes([p.CANNOT_PROCESS])
        if self.ignore_acks > 0:  # fault knob: the unit did not take the ack in
            self.ignore_acks -= 1
        else:
            self._pending = []
        return bytes([p.OK])

    def _poll_plain(self, args: bytes) -> bytes:
        return p.encode_events(self._next_events())

    def _poll_with_ack(self, args: bytes) -> bytes:
        if self._pending:  # repeated until acknowledged; nothing moves meanwhile
            return p.encode_events(self._pending + self._conditions())
        events = self._next_events()
        self._pending = [ev for ev in events if ev.code in p.ACK_EVENTS]
        return p.encode_events(events)

    # ------------------------------------------------------------ the note cycle
    def _next_events(self) -> list[p.Event]:
        events, self._boot = list(self._boot), []
        note = self.state["note"]
        if note is not None:
            events += self._advance(note)
        return events + self._conditions()

    def _conditions(self) -> list[p.Event]:
        out = [p.Event(code, 0 if code == p.FRAUD_ATTEMPT else None)
               for name, code in FAULT_EVENTS.items() if name in self.state["faults"]]
        if not self._enabled and self.state["note"] is None:
            out.append(p.Event(p.DISABLED))
        return out

    def _advance(self, note: dict[str, Any]) -> list[p.Event]:
        stage, ch = note["stage"], note["channel"]
        if stage == "reading":
            refused = note["refuse"] or not ch or not self._enabled \
                or not self._mask & (1 << (ch - 1))
            note["refuse"] = bool(refused)
            self._set_stage("rejecting" if refused else "escrow")
            return [p.Event(p.READ_NOTE, 0)]
        if stage == "escrow":
            self._hold_until = time.monotonic() + self.hold_timeout
            self._set_stage("escrow_wait")
            return [p.Event(p.READ_NOTE, ch)]
        if stage == "escrow_wait":  # a poll, not a HOLD: the host accepts the note
            self._set_stage("stacking")
            return [p.Event(p.STACKING)]
        if stage == "stacking":
            self._count_stacked(note)
            self._set_stage("credit")
            return [p.Event(p.NOTE_CREDIT, ch)]
        if stage == "credit":
            self._set_stage("stacked")
            return [p.Event(p.STACKING), p.Event(p.STACKED)]
        if stage == "stacked":
            self._set_stage(None)
            return []
        if stage == "rejecting":
            self._set_stage("rejected")
            return [p.Event(p.REJECTING)]
        self.state["counters"]["rejected" if note["refuse"] else "returned"] += 1
        self._set_stage(None)
        return [p.Event(p.REJECTED)]

    # ------------------------------------------------------------ knobs
    @property
    def ready_for_note(self) -> bool:
        return self._enabled and self.state["note"] is None and not self._boot

    def insert_note(self, value_minor: int, refuse: bool = False) -> None:
        channel = self.channels.channel_for(int(value_minor)) or 0
        self._put_note({"value": int(value_minor), "channel": channel, "stage": "reading",
                        "refuse": refuse})

    def _fault_changed(self, name: str, on: bool) -> None:
        if name == "cashbox_removed":  # reported once, as an event (manual, event table)
            self._boot.append(p.Event(p.CASHBOX_REMOVED if on else p.CASHBOX_REPLACED))

    def power_cycle(self) -> None:
        with self._lock:
            self._reset_volatile()

    def status_line(self) -> str:
        with self._lock:
            parts = [f"enabled={'on' if self._enabled else 'off'}",
                     f"key={'set' if self._session else 'none'}",
                     f"count={self._session.count if self._session else '-'}",
                     f"pending_ack={len(self._pending)}"]
            return self._status_text(parts, [])

    def _own_command(self, verb: str, args: list[str]) -> str | None:
        if verb == "reject":
            self.insert_note(0, refuse=True)
            return "ok: inserted a note that will be rejected"
        if verb == "power-cycle":
            self.power_cycle()
            return "ok: power cycled; next poll reports SLAVE RESET"
        if verb == "wrong-key":
            if args not in (["on"], ["off"]):
                raise ValueError("usage: wrong-key on|off")
            self.wrong_key = args == ["on"]
            return f"ok: wrong-key {args[0]}"
        if verb in ("replay", "hold-timeout", "ignore-ack", "corrupt"):
            if len(args) != 1 or not args[0].replace(".", "", 1).isdigit():
                raise ValueError(f"usage: {verb} <n>")
            n = float(args[0]) if verb == "hold-timeout" else int(float(args[0]))
            attr = {"replay": "replay_replies", "hold-timeout": "hold_timeout",
                    "ignore-ack": "ignore_acks", "corrupt": "corrupt_replies"}[verb]
            setattr(self, attr, n)
            return f"ok: {verb} {args[0]}"
        return None
