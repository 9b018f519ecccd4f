"""An NXP PN532 on HSU played byte for byte on a pty, with a MIFARE Classic 1K card model
(drivers/card_reader/pn532/card.py), bench commands, fault knobs and a state file that keeps
the cards' memory and the counters (and which card lies on the reader) across restarts.

Device behaviour modelled (UM0701-02):
- a new instance is a PN532 just switched on: it sleeps and drops every byte until the HSU
  wake-up 0x55 (7.2.11); ``power-cycle`` puts it back there and forgets its configuration;
- every well-formed command frame is answered by the ACK frame at once, then by its answer
  (6.2, dialog structure); a host ACK aborts a command still waiting (6.2.1.3), a host NACK asks
  for the last answer again (6.2.1.4); an unknown command or bad parameters get the error
  frame (6.2.1.5); frames with bad checksums are dropped and counted;
- InListPassiveTarget with nothing in the field and MxRtyPassiveActivation at its power-on
  value 0xFF waits until a card comes (7.3.1); with a finite value it answers NbTg 0;
- InDataExchange with MIFARE authenticate A/B, READ and WRITE; a card that left the field
  answers nothing, which the PN532 reports as status 0x01 (timeout).  A command the card
  refuses (NAK: a block outside the authenticated sector, a write to block 0) is reported as
  status 0x27 here -- the simulator's choice, the driver treats any non-zero status as refused.

Tearing (``tear N``): the next WRITE's 16 data bytes reach the card one by one and the card is
pulled after N of them.  N = 0: the block is unchanged; 1..15: the block holds the first N new
bytes and the old bytes after them (torn); N >= 16: the whole block is written but the card
leaves before its acknowledgement, so the PN532 still reports the timeout.  The card is then out
of the field; ``present`` brings the same card (same memory) back.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from drivers.card_reader.pn532 import protocol as p
from drivers.card_reader.pn532.card import Classic1K
from drivers.simbase import SimulatorBase

log = logging.getLogger(__name__)

HELP = (
    "commands: present <uid hex, 4 or 7 bytes> | remove | tear <n bytes> | "
    "keys <sector> <key A hex> <key B hex> | block <n> | noise <hex bytes> | drop <n> | "
    "corrupt <n> | delay <ms> | power-cycle | clear | counters | status | help"
)
FIRMWARE = bytes([0x32, 0x01, 0x06, 0x07])  # PN532, firmware 1.6, types A, B and ISO 18092
INTER_BYTE_TIMEOUT = 0.1  # seconds of silence that end a partial frame
COUNTER_KEYS = ("presentations", "commands", "lists", "auths", "auth_failures", "reads",
                "writes", "torn_writes", "refused", "aborts", "nacks", "syntax_errors")


def _fresh_state() -> dict[str, Any]:
    return {"cards": {}, "present": None, "counters": {k: 0 for k in COUNTER_KEYS}}


class Pn532Simulator(SimulatorBase):
    help_text = HELP

    def __init__(self, state_path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(state_path)
        state = self.state_file.load(_fresh_state())
        self.cards: dict[str, Classic1K] = {}
        for uid, blocks in dict(state.get("cards") or {}).items():
            try:
                self.cards[uid] = Classic1K.from_json(uid, blocks)
            except (ValueError, TypeError):
                log.warning("simulator state: unusable card %s dropped", uid)
        present = state.get("present")
        self.present_uid: str | None = present if present in self.cards else None
        self.counters = {k: int(dict(state.get("counters") or {}).get(k, 0))
                         for k in COUNTER_KEYS}
        self._reader = p.FrameReader(expect_tfi=p.TFI_HOST)
        self._last_rx = 0.0
        self.tear_after: int | None = None
        self.corrupt_replies = 0
        self._power_on()

    def _power_on(self) -> None:
        """Volatile memory as after power-on."""
        self.asleep = True
        self.max_passive_retries = 0xFF
        self.sam_mode: int | None = None
        self._target: str | None = None  # UID of the listed (selected) target, Tg 1
        self._auth_sector: int | None = None
        self._pending_list = False
        self._last_answer = b""
        self._reader = p.FrameReader(expect_tfi=p.TFI_HOST)

    def _save(self) -> None:
        self.state_file.save({
            "cards": {uid: c.to_json() for uid, c in self.cards.items()},
            "present": self.present_uid,
            "counters": self.counters,
        })

    @property
    def card(self) -> Classic1K | None:
        return self.cards.get(self.present_uid) if self.present_uid else None

    @property
    def host_stats(self) -> dict[str, int]:
        return dict(self._reader.stats)

    # ------------------------------------------------------------ wire side
    def on_bytes(self, data: bytes) -> bytes:
        self._last_rx = time.monotonic()
        if self.asleep:
            at = data.find(0x55)
            if at < 0:
                return b""  # asleep: the UART is not listening
            self.asleep = False
            data = data[at:].lstrip(b"\x55")
        out = b""
        for frame in self._reader.feed(data):
            out += self._on_frame(frame)
        return out

    def on_tick(self) -> bytes:
        if self._reader.pending and time.monotonic() - self._last_rx > INTER_BYTE_TIMEOUT:
            self._reader.flush()  # the rest of the frame never came
        if self._pending_list and self.card is not None:
            self._pending_list = False
            return self._answer(p.IN_LIST_PASSIVE_TARGET + 1, self._list_now())
        return b""

    def _on_frame(self, frame: p.Frame) -> bytes:
        if frame.kind == "ack":
            if self._pending_list:
                self._pending_list = False
                self.counters["aborts"] += 1
            return b""
        if frame.kind == "nack":
            self.counters["nacks"] += 1
            return self._last_answer
        if frame.kind != "info":
            return b""
        self.counters["commands"] += 1
        self._pending_list = False  # a new command replaces a waiting one
        try:
            answer = self._command_frame(frame.code or 0, frame.params)
        except ValueError:
            self.counters["syntax_errors"] += 1
            return p.ACK_FRAME + p.ERROR_FRAME
        return p.ACK_FRAME + answer

    def _answer(self, code: int, params: bytes = b"") -> bytes:
        raw = p.answer(code, params)
        self._last_answer = raw
        if self.corrupt_replies > 0:
            self.corrupt_replies -= 1
            raw = raw[:-2] + bytes([raw[-2] ^ 0x5A]) + raw[-1:]  # a bad DCS on the wire
        return raw

    def _command_frame(self, code: int, params: bytes) -> bytes:
        """The answer to one command; ValueError -> the error frame (syntax error)."""
        if code == p.GET_FIRMWARE_VERSION and not params:
            return self._answer(code + 1, FIRMWARE)
        if code == p.SAM_CONFIGURATION and 1 <= len(params) <= 3 and 1 <= params[0] <= 4:
            self.sam_mode = params[0]
            return self._answer(code + 1)
        if code == p.RF_CONFIGURATION and params[:1] == bytes([p.RF_ITEM_MAX_RETRIES]):
            if len(params) != 4:
                raise ValueError("RFConfiguration item 5 takes 3 bytes")
            self.max_passive_retries = params[3]
            return self._answer(code + 1)
        if code == p.RF_CONFIGURATION and params:
            return self._answer(code + 1)  # other items: accepted, not modelled
        if code == p.IN_LIST_PASSIVE_TARGET and len(params) >= 2:
            if params[0] not in (1, 2) or params[1] != p.BRTY_106_TYPE_A:
                raise ValueError("only 106 kbps type A is modelled")
            self.counters["lists"] += 1
            if self.card is None and self.max_passive_retries == 0xFF:
                self._pending_list = True  # waits for a card (or the host's abort)
                return b""
            return self._answer(code + 1, self._list_now())
        if code == p.IN_DATA_EXCHANGE and len(params) >= 2:
            status, data = self._exchange(params[0], params[1:])
            return self._answer(code + 1, bytes([status]) + data)
        if code == p.IN_RELEASE and len(params) == 1:
            self._target, self._auth_sector = None, None
            return self._answer(code + 1, b"\x00")
        raise ValueError(f"command 0x{code:02X} not supported")

    def _list_now(self) -> bytes:
        card = self.card
        self._auth_sector = None
        if card is None:
            self._target = None
            return b"\x00"
        self._target = card.uid_hex
        target = p.Target(1, card.sens_res, 0x08, card.uid)
        return b"\x01" + p.encode_target(target)

    def _exchange(self, tg: int, payload: bytes) -> tuple[int, bytes]:
        if tg & 0x3F != 1 or self._target is None:
            return p.STATUS_NOT_ACCEPTABLE, b""
        card = self.card
        if card is None or card.uid_hex != self._target:
            self._target = None
            return p.STATUS_TIMEOUT, b""  # the listed card is gone: no answer over the air
        cmd, args = payload[0], payload[1:]
        if cmd in (p.MIFARE_AUTH_A, p.MIFARE_AUTH_B) and len(args) == 11:
            return self._auth(card, "A" if cmd == p.MIFARE_AUTH_A else "B", args)
        if cmd == p.MIFARE_READ and len(args) == 1 and args[0] < p.BLOCKS_1K:
            if p.sector_of(args[0]) != self._auth_sector:
                self.counters["refused"] += 1
                return p.STATUS_NOT_ACCEPTABLE, b""
            self.counters["reads"] += 1
            return p.STATUS_OK, card.read(args[0])
        if cmd == p.MIFARE_WRITE and len(args) == 17 and args[0] < p.BLOCKS_1K:
            return self._write(card, args[0], bytes(args[1:]))
        return p.STATUS_TIMEOUT, b""  # a MIFARE Classic does not answer what it does not know

    def _auth(self, card: Classic1K, key_type: str, args: bytes) -> tuple[int, bytes]:
        block, key, uid4 = args[0], bytes(args[1:7]), bytes(args[7:11])
        self.counters["auths"] += 1
        if block >= p.BLOCKS_1K or uid4 != p.auth_key_uid(card.uid) \
                or not card.key_matches(p.sector_of(block), key_type, key):
            self._auth_sector = None
            self.counters["auth_failures"] += 1
            return p.STATUS_AUTH_ERROR, b""
        self._auth_sector = p.sector_of(block)
        return p.STATUS_OK, b""

    def _write(self, card: Classic1K, block: int, data: bytes) -> tuple[int, bytes]:
        if p.sector_of(block) != self._auth_sector or block == 0:
            self.counters["refused"] += 1
            return p.STATUS_NOT_ACCEPTABLE, b""
        self.counters["writes"] += 1
        if self.tear_after is not None:
            n, self.tear_after = min(self.tear_after, 16), None
            card.blocks[block] = data[:n] + card.blocks[block][n:]
            self.counters["torn_writes"] += 1
            self.present_uid, self._target = None, None  # pulled out of the field
            self._save()
            log.info("simulated card pulled after %d bytes of the write of block %d", n, block)
            return p.STATUS_TIMEOUT, b""
        card.blocks[block] = data
        self._save()
        return p.STATUS_OK, b""

    # ------------------------------------------------------------ bench
    def present(self, uid_hex: str) -> Classic1K:
        uid = bytes.fromhex(uid_hex.strip())
        with self._lock:
            key = uid.hex().upper()
            if key not in self.cards:
                self.cards[key] = Classic1K(uid)
            self.present_uid = key
            self.counters["presentations"] += 1
            self._save()
            return self.cards[key]

    def remove(self) -> bool:
        with self._lock:
            had = self.present_uid is not None
            self.present_uid = None
            self._save()
            return had

    def power_cycle(self) -> None:
        with self._lock:
            self._power_on()

    def status_line(self) -> str:
        with self._lock:
            return (f"card {self.present_uid or 'none'}; {'asleep' if self.asleep else 'awake'}; "
                    f"sam {self.sam_mode if self.sam_mode is not None else '-'}; "
                    f"passive retries 0x{self.max_passive_retries:02X}; "
                    f"tear {self.tear_after if self.tear_after is not None else '-'}; "
                    f"delay {round(self.reply_delay * 1000)} ms")

    def _command(self, verb: str, args: list[str]) -> str:
        if verb == "present":
            if len(args) != 1:
                raise ValueError("usage: present <uid hex, 4 or 7 bytes>")
            return f"ok: card {self.present(args[0]).uid_hex} in the field"
        if verb == "remove":
            return "ok: card removed" if self.remove() else "ok: no card was present"
        if verb == "keys":
            card = self.card
            if card is None or len(args) != 3:
                raise ValueError("usage: keys <sector> <key A hex> <key B hex> (card present)")
            sector = int(args[0])
            if not 0 <= sector < 16:
                raise ValueError("sector must be 0..15")
            card.set_keys(sector, bytes.fromhex(args[1]), bytes.fromhex(args[2]))
            self._save()
            return f"ok: sector {sector} keys set"
        if verb == "block":
            card = self.card
            if card is None or len(args) != 1 or not args[0].isdigit():
                raise ValueError("usage: block <n> (card present)")
            p.check_block(int(args[0]))
            return card.blocks[int(args[0])].hex().upper()
        if verb in ("tear", "corrupt"):
            if len(args) != 1 or not args[0].isdigit():
                raise ValueError(f"usage: {verb} <n>")
            n = int(args[0])
            if verb == "tear":
                self.tear_after = n
            else:
                self.corrupt_replies = n
            return f"ok: {verb} {n}"
        if verb == "power-cycle":
            self.power_cycle()
            return "ok: power cycled; asleep until the HSU wake-up"
        if verb == "clear":
            self.tear_after, self.drop_replies, self.corrupt_replies = None, 0, 0
            self.reply_delay = 0.0
            return "ok: knobs cleared"
        if verb == "counters":
            return json.dumps({**self.counters, "host_frames_bad": self._reader.frames_bad},
                              sort_keys=True, separators=(",", ":"))
        if verb == "status":
            return self.status_line()
        if verb == "help":
            return HELP
        return f"error: unknown command {verb!r} (try help)"
