"""ITL SSP wire format, pure: CRC-16 (poly 0x8005, seed 0xFFFF), 0x7F byte stuffing, packet
encode/decode, a resynchronising packet reader, and command / response / event constants.

Packet (SSP protocol manual GA138, "Transport Layer"):
``STX(0x7F) SEQ/SLAVE_ID LENGTH DATA... CRCL CRCH`` -- bit 7 of the second byte is the sequence
flag, bits 0-6 the slave address; LENGTH counts DATA only; the CRC covers SEQ/SLAVE_ID..DATA
(everything but STX), low byte first, computed before stuffing; every 0x7F after STX is sent
twice.  Nothing here does I/O; a decoding failure raises :class:`FrameError` and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers.errors import FrameError
from drivers.line import LineSettings

#: SSP line: 9600 baud, 8 data bits, no parity, 2 stop bits (manual, "Hardware Layer").
LINE = LineSettings(baudrate=9600, parity="N", stopbits=2)
#: ITL's published default fixed key; units leave the factory with it (manual, "Encryption
#: Keys") -- a site sets its own, and config should carry that one.
DEFAULT_FIXED_KEY = "0123456701234567"

STX = 0x7F
STEX = 0x7E  # first data byte of an encrypted packet (manual, "Encryption Layer")
SEQ_FLAG = 0x80
MAX_DATA_LEN = 255

# ---------------------------------------------------------------- host → slave commands
RESET = 0x01
SET_INHIBITS = 0x02
SETUP_REQUEST = 0x05
HOST_PROTOCOL_VERSION = 0x06
POLL = 0x07
REJECT = 0x08
DISABLE = 0x09
ENABLE = 0x0A
GET_SERIAL = 0x0C
SYNC = 0x11
HOLD = 0x18
SET_GENERATOR = 0x4A
SET_MODULUS = 0x4B
REQUEST_KEY_EXCHANGE = 0x4C
POLL_WITH_ACK = 0x56
EVENT_ACK = 0x57

COMMAND_NAMES = {
    RESET: "RESET", SET_INHIBITS: "SET_INHIBITS", SETUP_REQUEST: "SETUP_REQUEST",
    HOST_PROTOCOL_VERSION: "HOST_PROTOCOL_VERSION", POLL: "POLL", REJECT: "REJECT",
    DISABLE: "DISABLE", ENABLE: "ENABLE", GET_SERIAL: "GET_SERIAL", SYNC: "SYNC", HOLD: "HOLD",
    SET_GENERATOR: "SET_GENERATOR", SET_MODULUS: "SET_MODULUS",
    REQUEST_KEY_EXCHANGE: "REQUEST_KEY_EXCHANGE", POLL_WITH_ACK: "POLL_WITH_ACK",
    EVENT_ACK: "EVENT_ACK",
}

# ---------------------------------------------------------------- generic responses
# First data byte of every slave reply (manual, "Generic Commands and Responses").
OK = 0xF0
COMMAND_NOT_KNOWN = 0xF2
WRONG_PARAMETERS = 0xF3
PARAMETER_OUT_OF_RANGE = 0xF4
CANNOT_PROCESS = 0xF5
SOFTWARE_ERROR = 0xF6
FAIL = 0xF8
KEY_NOT_SET = 0xFA
RESPONSE_NAMES = {
    OK: "ok", COMMAND_NOT_KNOWN: "command not known", WRONG_PARAMETERS: "wrong parameters",
    PARAMETER_OUT_OF_RANGE: "parameter out of range", CANNOT_PROCESS: "cannot process",
    SOFTWARE_ERROR: "software error", FAIL: "fail", KEY_NOT_SET: "key not set",
}

# ---------------------------------------------------------------- poll events (banknote validator)
SLAVE_RESET = 0xF1
READ_NOTE = 0xEF  # + channel; 0 = still reading, >0 = note in escrow
NOTE_CREDIT = 0xEE  # + channel: the credit point (manual, BNV event table)
REJECTING = 0xED
REJECTED = 0xEC
STACKING = 0xCC
STACKED = 0xEB
SAFE_JAM = 0xEA
UNSAFE_JAM = 0xE9
DISABLED = 0xE8
STACKER_FULL = 0xE7
FRAUD_ATTEMPT = 0xE6  # + channel
CASHBOX_REPLACED = 0xE4
CASHBOX_REMOVED = 0xE3
NOTE_CLEARED_INTO_CASHBOX = 0xE2  # + channel (power-up with a note past escrow)
NOTE_CLEARED_FROM_FRONT = 0xE1  # + channel (power-up with a note still in the path)
CHANNEL_DISABLE = 0xB5
INITIALISING = 0xB6

EVENT_NAMES = {
    SLAVE_RESET: "slave_reset", READ_NOTE: "read", NOTE_CREDIT: "credit",
    REJECTING: "rejecting", REJECTED: "rejected", STACKING: "stacking", STACKED: "stacked",
    SAFE_JAM: "safe_jam", UNSAFE_JAM: "unsafe_jam", DISABLED: "disabled",
    STACKER_FULL: "stacker_full", FRAUD_ATTEMPT: "fraud_attempt",
    CASHBOX_REPLACED: "cashbox_replaced", CASHBOX_REMOVED: "cashbox_removed",
    NOTE_CLEARED_INTO_CASHBOX: "note_cleared_into_cashbox",
    NOTE_CLEARED_FROM_FRONT: "note_cleared_from_front", CHANNEL_DISABLE: "channel_disable",
    INITIALISING: "initialising",
}
#: events followed by one channel byte; every other banknote event carries no data
EVENT_DATA_LEN = {READ_NOTE: 1, NOTE_CREDIT: 1, FRAUD_ATTEMPT: 1,
                  NOTE_CLEARED_INTO_CASHBOX: 1, NOTE_CLEARED_FROM_FRONT: 1}
#: events POLL_WITH_ACK repeats until the host sends EVENT_ACK (manual, "POLL WITH ACK"):
#: the ones that move money, so a lost reply can never lose a credit.
ACK_EVENTS = frozenset({NOTE_CREDIT, NOTE_CLEARED_INTO_CASHBOX, NOTE_CLEARED_FROM_FRONT})

#: the lowest SSP protocol version this driver speaks (encryption, expanded setup data)
MIN_PROTOCOL = 6


@dataclass(frozen=True)
class Packet:
    seq: bool
    address: int
    data: bytes

    def encode(self) -> bytes:
        return encode(self.seq, self.address, self.data)


@dataclass(frozen=True)
class Event:
    code: int
    channel: int | None = None

    @property
    def name(self) -> str:
        return EVENT_NAMES.get(self.code, f"0x{self.code:02X}")


# ---------------------------------------------------------------- CRC and stuffing
def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return tuple(table)


_TABLE = _make_table()


def crc16(data: bytes, seed: int = 0xFFFF) -> int:
    """Forward CRC-16, polynomial x^16+x^15+x^2+1 (0x8005), seed 0xFFFF, no reflection
    (manual, "Transport Layer": CRCL/CRCH)."""
    crc = seed
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[(crc >> 8) ^ byte]
    return crc


def stuff(body: bytes) -> bytes:
    """Every 0x7F after STX is doubled so a receiver can tell it from a new STX."""
    return body.replace(b"\x7f", b"\x7f\x7f")


def encode(seq: bool, address: int, data: bytes) -> bytes:
    if not 0 <= address <= 0x7F:
        raise FrameError(f"slave address {address} outside 0..127")
    if not 1 <= len(data) <= MAX_DATA_LEN:
        raise FrameError(f"data length {len(data)} outside 1..{MAX_DATA_LEN}")
    body = bytes([(SEQ_FLAG if seq else 0) | address, len(data)]) + data
    return bytes([STX]) + stuff(body + crc16(body).to_bytes(2, "little"))


def _decode_at(buf: bytes | bytearray) -> tuple[str, Packet | None, int]:
    """Decode the packet whose STX is ``buf[0]``: ("ok", packet, raw length), ("incomplete",
    None, 0), or ("stuffing" | "crc" | "empty", None, 0) for a bad one."""
    out = bytearray()
    need: int | None = None
    i = 1
    while need is None or len(out) < need:
        if i >= len(buf):
            return "incomplete", None, 0
        byte = buf[i]
        if byte == STX:
            if i + 1 >= len(buf):
                return "incomplete", None, 0
            if buf[i + 1] != STX:
                return "stuffing", None, 0  # a lone 0x7F: a new packet starts here
            i += 2
        else:
            i += 1
        out.append(byte)
        if len(out) == 2:
            if out[1] == 0:
                return "empty", None, 0
            need = 2 + out[1] + 2
    body, crc = bytes(out[:-2]), int.from_bytes(out[-2:], "little")
    if crc16(body) != crc:
        return "crc", None, 0
    return "ok", Packet(bool(body[0] & SEQ_FLAG), body[0] & 0x7F, body[2:]), i


def decode(raw: bytes) -> Packet:
    """Exactly one packet, nothing before or after it."""
    if not raw or raw[0] != STX:
        raise FrameError("packet does not start with STX 0x7F")
    status, packet, used = _decode_at(raw)
    if status != "ok" or packet is None:
        raise FrameError(f"bad packet: {status}")
    if used != len(raw):
        raise FrameError(f"{len(raw) - used} trailing byte(s) after the packet")
    return packet


@dataclass
class PacketReader:
    """Feeds on arbitrary chunks, yields whole packets.  A bad CRC, a lone 0x7F (stuffing
    error) or an empty packet is counted and the reader resynchronises at the next STX after
    the bad one's start; bytes before any STX are counted as dropped."""

    frames_ok: int = 0
    frames_bad: int = 0
    stuffing_errors: int = 0
    bytes_dropped: int = 0
    _buf: bytearray = field(default_factory=bytearray)

    @property
    def pending(self) -> bool:
        return bool(self._buf)

    def flush(self) -> None:
        self.bytes_dropped += len(self._buf)
        self._buf.clear()

    def feed(self, data: bytes) -> list[Packet]:
        self._buf.extend(data)
        packets: list[Packet] = []
        while self._buf:
            start = self._buf.find(STX)
            if start < 0:
                self.bytes_dropped += len(self._buf)
                self._buf.clear()
                break
            if start:
                self.bytes_dropped += start
                del self._buf[:start]
            status, packet, used = _decode_at(self._buf)
            if status == "incomplete":
                break
            if status == "ok" and packet is not None:
                self.frames_ok += 1
                packets.append(packet)
                del self._buf[:used]
                continue
            if status == "stuffing":
                self.stuffing_errors += 1
            self.frames_bad += 1
            self.bytes_dropped += 1
            del self._buf[:1]  # drop this STX; the next 0x7F may start a good packet
        return packets


# ---------------------------------------------------------------- replies
def parse_events(data: bytes) -> list[Event]:
    """A poll reply ``F0 [event [channel]]...`` → its events, in order."""
    if not data or data[0] != OK:
        raise FrameError("poll reply is not OK")
    events: list[Event] = []
    i = 1
    while i < len(data):
        code = data[i]
        if code not in EVENT_NAMES:
            raise FrameError(f"unknown event 0x{code:02X}")
        n = EVENT_DATA_LEN.get(code, 0)
        if i + 1 + n > len(data):
            raise FrameError(f"event 0x{code:02X} truncated")
        events.append(Event(code, data[i + 1] if n else None))
        i += 1 + n
    return events


def encode_events(events: list[Event]) -> bytes:
    out = bytearray([OK])
    for ev in events:
        out.append(ev.code)
        if EVENT_DATA_LEN.get(ev.code, 0):
            out.append(ev.channel or 0)
    return bytes(out)


@dataclass(frozen=True)
class Setup:
    """SETUP_REQUEST reply of a banknote validator (manual, "SETUP REQUEST")."""

    unit_type: int
    firmware: str
    country: str
    value_multiplier: int
    channel_values: tuple[int, ...]  # face values as the unit reports them
    real_value_multiplier: int
    protocol_version: int

    def value_minor(self, channel: int) -> int | None:
        """Channel (1-based) → value in minor units: face value × real value multiplier."""
        if not 1 <= channel <= len(self.channel_values):
            return None
        return self.channel_values[channel - 1] * self.real_value_multiplier


def parse_setup(data: bytes) -> Setup:
    if not data or data[0] != OK:
        raise FrameError("setup reply is not OK")
    d = data[1:]
    if len(d) < 12:
        raise FrameError("setup reply truncated")
    n = d[11]
    base = 12 + 2 * n + 4
    if len(d) < base:
        raise FrameError("setup reply truncated in the channel data")
    values = tuple(d[12:12 + n])
    real = int.from_bytes(d[12 + 2 * n:15 + 2 * n], "big")
    version = d[15 + 2 * n]
    if version >= MIN_PROTOCOL and len(d) >= base + 7 * n:
        # v6+: expanded country codes (3 ASCII each), then 4-byte little-endian values
        off = base + 3 * n
        values = tuple(int.from_bytes(d[off + 4 * k:off + 4 * k + 4], "little") for k in range(n))
    try:
        firmware, country = d[1:5].decode("ascii"), d[5:8].decode("ascii")
    except UnicodeDecodeError as exc:
        raise FrameError("setup reply: firmware/country not ASCII") from exc
    return Setup(d[0], firmware, country, int.from_bytes(d[8:11], "big"), values, real, version)


def encode_setup(setup: Setup, expanded: bool) -> bytes:
    n = len(setup.channel_values)
    out = bytearray([OK, setup.unit_type])
    out += setup.firmware.encode("ascii")[:4].ljust(4, b"0")
    out += setup.country.encode("ascii")[:3]
    out += setup.value_multiplier.to_bytes(3, "big")
    out.append(n)
    out += bytes(min(v, 255) for v in setup.channel_values)
    out += bytes([2] * n)  # channel security (obsolete, fixed)
    out += setup.real_value_multiplier.to_bytes(3, "big")
    out.append(setup.protocol_version)
    if expanded:
        out += setup.country.encode("ascii")[:3] * n
        for v in setup.channel_values:
            out += v.to_bytes(4, "little")
    return bytes(out)


def inhibit_bytes(channels: set[int] | frozenset[int]) -> bytes:
    """SET_INHIBITS data: 2 bytes, low first; a *set* bit enables channel bit+1."""
    mask = 0
    for ch in channels:
        if not 1 <= ch <= 16:
            raise FrameError(f"channel {ch} outside 1..16")
        mask |= 1 << (ch - 1)
    return mask.to_bytes(2, "little")


def enabled_channels(data: bytes) -> frozenset[int]:
    mask = int.from_bytes(data[:2], "little")
    return frozenset(b + 1 for b in range(16) if mask & (1 << b))
