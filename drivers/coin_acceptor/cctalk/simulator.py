"""A ccTalk coin acceptor on a pty: echoes the host's bytes (single wire), answers its headers,
keeps the 5-entry credit buffer and event counter in a state file, and has fault knobs."""

from __future__ import annotations

import collections
import logging
import os
import time
from typing import Any

from drivers.coin_acceptor.cctalk import protocol as p
from drivers.errors import FrameError
from drivers.interfaces import ChannelMap
from drivers.simbase import SimulatorBase

log = logging.getLogger(__name__)

DEFAULT_CHANNELS = ChannelMap({1: 10, 2: 50, 3: 100})
ERR_REJECT_COIN = 1
ERR_INHIBITED_COIN = 2
ERR_CREDIT_SENSOR_BLOCKED = 14
SORTER_PATH = 1

HELP = (
    "coin <fen> [<fen>...] | reject | jam | clear | lose <n> | noise <hex> | drop <n> | "
    "delay <ms> | power-cycle | counters | status | help"
)


class CcTalkSimulator(SimulatorBase):
    """Device side of ccTalk.  Inhibit settings are volatile (a real acceptor powers up
    inhibited); the event counter, buffer and coin counts survive a restart via the state file."""

    help_text = HELP

    #: Part 1: a partial message is discarded after 50 ms without a byte.
    INTER_BYTE_TIMEOUT = 0.05

    def __init__(
        self,
        state_path: str | os.PathLike[str] | None = None,
        channels: ChannelMap | dict[int, int] | None = None,
        address: int = p.ADDR_COIN_ACCEPTOR,
        checksum: str = p.SIMPLE,
    ) -> None:
        super().__init__(state_path)
        if checksum not in p.MODES:
            raise ValueError(f"checksum must be one of {p.MODES}")
        if channels is None:
            channels = DEFAULT_CHANNELS
        elif not isinstance(channels, ChannelMap):
            channels = ChannelMap({int(k): int(v) for k, v in channels.items()})
        self.channels = channels
        self.address = address
        self.mode = checksum
        state = self.state_file.load(
            {
                "counter": 0,
                "buffer": [[0, 0]] * p.BUFFER_PAIRS,
                "coins": {},
                "total_minor": 0,
                "rejected": 0,
                "serial": 0x01E240,
            }
        )
        self.counter: int = int(state["counter"])
        self.buffer: list[tuple[int, int]] = [(int(a), int(b)) for a, b in state["buffer"]]
        self.coins: dict[int, int] = {int(k): int(v) for k, v in state["coins"].items()}
        self.total_minor: int = int(state["total_minor"])
        self.rejected: int = int(state["rejected"])
        self.serial: int = int(state["serial"])
        # volatile
        self.master_enabled = False
        self.enabled_channels: frozenset[int] = frozenset()
        self.jammed = False
        #: fault knob: the next n echoes come back with their first byte flipped
        self.corrupt_echo = 0
        self.request_log: collections.deque[tuple[float, int]] = collections.deque(maxlen=100_000)
        self.stats = {"frames": 0, "bad_frames": 0, "ignored": 0}
        self._rx = bytearray()
        self._rx_time = 0.0

    # ------------------------------------------------------------ state
    def _save(self) -> None:
        self.state_file.save(
            {
                "counter": self.counter,
                "buffer": [list(x) for x in self.buffer],
                "coins": {str(k): v for k, v in self.coins.items()},
                "total_minor": self.total_minor,
                "rejected": self.rejected,
                "serial": self.serial,
            }
        )

    def _push(self, a: int, b: int) -> None:
        self.counter = p.next_counter(self.counter)
        self.buffer.insert(0, (a, b))
        del self.buffer[p.BUFFER_PAIRS :]

    # ------------------------------------------------------------ wire
    def on_bytes(self, data: bytes) -> bytes:
        echo = bytes(data)
        if self.corrupt_echo > 0:
            self.corrupt_echo -= 1
            echo = bytes([echo[0] ^ 0xFF]) + echo[1:]
        self.inject(echo)  # the single wire: the host hears itself before any answer
        now = time.monotonic()
        if self._rx and now - self._rx_time > self.INTER_BYTE_TIMEOUT:
            self._rx.clear()
        self._rx += data
        self._rx_time = now
        out = bytearray()
        while len(self._rx) >= 2:
            if self._rx[1] > p.MAX_DATA:
                self.stats["bad_frames"] += 1
                self._rx.clear()
                break
            need = p.frame_size(self._rx[1])
            if len(self._rx) < need:
                break
            raw = bytes(self._rx[:need])
            del self._rx[:need]
            try:
                frame = p.decode_frame(raw, self.mode)
            except FrameError:
                # A device stays silent on a corrupt message; the host times out and retries.
                self.stats["bad_frames"] += 1
                self._rx.clear()
                break
            if frame.dest not in (self.address, p.ADDR_BROADCAST):
                self.stats["ignored"] += 1
                continue
            self.stats["frames"] += 1
            out += self._answer(frame)
        return bytes(out)

    def _reply(self, header: int, data: bytes = b"") -> bytes:
        return p.encode_frame(p.Frame(p.ADDR_HOST, header, data, self.address), self.mode)

    def _answer(self, frame: p.Frame) -> bytes:
        h, d = frame.header, frame.data
        self.request_log.append((time.monotonic(), h))
        ack = self._reply
        if h == p.HDR_SIMPLE_POLL:
            return ack(p.HDR_ACK)
        if h == p.HDR_READ_BUFFERED_CREDIT:
            buf = p.CreditBuffer(self.counter, tuple(self.buffer))
            return ack(p.HDR_ACK, p.encode_credit_buffer(buf))
        if h == p.HDR_MODIFY_INHIBIT_STATUS and len(d) == 2:
            self.enabled_channels = p.channels_from_mask(d)
            return ack(p.HDR_ACK)
        if h == p.HDR_REQUEST_INHIBIT_STATUS:
            return ack(p.HDR_ACK, p.inhibit_mask(self.enabled_channels))
        if h == p.HDR_MODIFY_MASTER_INHIBIT_STATUS and len(d) == 1:
            self.master_enabled = bool(d[0] & 1)  # Part 3, 228: bit 0 = 1 means accept
            return ack(p.HDR_ACK)
        if h == p.HDR_REQUEST_MASTER_INHIBIT_STATUS:
            return ack(p.HDR_ACK, bytes([int(self.master_enabled)]))
        if h == p.HDR_PERFORM_SELF_CHECK:
            return ack(p.HDR_ACK, bytes([p.FAULT_CREDIT_SENSOR if self.jammed else p.FAULT_OK]))
        if h == p.HDR_REQUEST_MANUFACTURER_ID:
            return ack(p.HDR_ACK, b"CPT")
        if h == p.HDR_REQUEST_EQUIPMENT_CATEGORY:
            return ack(p.HDR_ACK, b"Coin Acceptor")
        if h == p.HDR_REQUEST_PRODUCT_CODE:
            return ack(p.HDR_ACK, b"SIMCOIN")
        if h == p.HDR_REQUEST_SERIAL_NUMBER:
            return ack(p.HDR_ACK, self.serial.to_bytes(3, "little"))
        if h == p.HDR_REQUEST_SOFTWARE_REVISION:
            return ack(p.HDR_ACK, b"SIM-1.0")
        if h == p.HDR_RESET_DEVICE:
            reply = ack(p.HDR_ACK)
            self.power_cycle()
            return reply
        return ack(p.HDR_NAK)

    # ------------------------------------------------------------ resident / technician actions
    def insert_coin(self, value_minor: int) -> str:
        with self._lock:
            if self.jammed:
                return f"{value_minor} fen not taken: mechanism jammed (clear first)"
            ch = self.channels.channel_for(value_minor)
            if ch is None:
                self._push(0, ERR_REJECT_COIN)
                self.rejected += 1
                self._save()
                return f"rejected {value_minor} fen: not programmed (event {self.counter})"
            if not self.master_enabled or ch not in self.enabled_channels:
                self._push(0, ERR_INHIBITED_COIN)
                self.rejected += 1
                self._save()
                return f"rejected {value_minor} fen: inhibited (event {self.counter})"
            self._push(ch, SORTER_PATH)
            self.coins[value_minor] = self.coins.get(value_minor, 0) + 1
            self.total_minor += value_minor
            self._save()
            return f"accepted {value_minor} fen on channel {ch} (event {self.counter})"

    def power_cycle(self) -> None:
        with self._lock:
            self.counter = 0
            self.buffer = [(0, 0)] * p.BUFFER_PAIRS
            self.master_enabled = False
            self.enabled_channels = frozenset()
            self._rx.clear()
            self._save()

    def _command(self, cmd: str, args: list[str]) -> str:
        with self._lock:
            if cmd == "coin":
                if not args:
                    raise ValueError("usage: coin <fen> [<fen>...]")
                values = [_int(a, "fen") for a in args]
                return "; ".join(self.insert_coin(v) for v in values)
            if cmd == "reject":
                self._push(0, ERR_REJECT_COIN)
                self.rejected += 1
                self._save()
                return f"coin rejected (event {self.counter})"
            if cmd == "jam":
                self._push(0, ERR_CREDIT_SENSOR_BLOCKED)
                self.jammed = True
                self._save()
                return f"jammed: credit sensor blocked (event {self.counter})"
            if cmd == "clear":
                self.jammed = False
                return "jam cleared"
            if cmd == "lose":
                n = _int(_one(args, "lose <n>"), "n")
                if not 1 <= n <= 254:
                    raise ValueError("n must be 1..254")
                # Events the host can never read: the counter moves on, the buffer fills with
                # null entries (a stale real entry would be credited twice).
                for _ in range(n):
                    self._push(0, 0)
                self._save()
                return f"lost {n} events: counter now {self.counter}"
            if cmd == "power-cycle":
                self.power_cycle()
                return "power cycled: event counter 0, all coins inhibited"
            if cmd == "counters":
                coins = " ".join(f"{v}x{n}" for v, n in sorted(self.coins.items())) or "none"
                return (
                    f"event counter {self.counter}; coins {coins}; "
                    f"total {self.total_minor} fen; rejected {self.rejected}"
                )
            if cmd == "status":
                chans = ",".join(str(c) for c in sorted(self.enabled_channels)) or "none"
                return (
                    f"address {self.address} {self.mode}; master "
                    f"{'accepting' if self.master_enabled else 'inhibited'}; channels {chans};"
                    f" jammed {'yes' if self.jammed else 'no'}; delay "
                    f"{round(self.reply_delay * 1000)} ms; drop {self.drop_replies}"
                )
            if cmd == "help":
                return HELP
            return f"error: unknown command {cmd!r} ({HELP})"


def _one(args: list[str], usage: str) -> str:
    if len(args) != 1:
        raise ValueError(f"usage: {usage}")
    return args[0]


def _int(text: Any, what: str) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a whole number, not {text!r}") from None
    if value < 0:
        raise ValueError(f"{what} must not be negative")
    return value
