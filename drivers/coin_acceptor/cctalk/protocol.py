"""ccTalk framing (simple checksum and CRC-16 modes), the header 229 credit buffer and its event
counter.

Pure: no I/O, no clock.  Wire facts follow the ccTalk Generic Specification (Part 1 for the
message layer, Part 3 for the coin acceptor headers and the error code table).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from drivers.errors import FrameError

# ---- addresses (Part 1 §6: host 1, coin acceptor default 2, 0 = broadcast)
ADDR_BROADCAST = 0
ADDR_HOST = 1
ADDR_COIN_ACCEPTOR = 2

# ---- checksum modes
SIMPLE = "simple"
CRC16 = "crc16"
MODES = (SIMPLE, CRC16)

# ---- headers (Part 3 command table)
HDR_ACK = 0
HDR_RESET_DEVICE = 1
HDR_NAK = 5
HDR_BUSY = 6
HDR_REQUEST_MASTER_INHIBIT_STATUS = 227
HDR_MODIFY_MASTER_INHIBIT_STATUS = 228
HDR_READ_BUFFERED_CREDIT = 229
HDR_REQUEST_INHIBIT_STATUS = 230
HDR_MODIFY_INHIBIT_STATUS = 231
HDR_PERFORM_SELF_CHECK = 232
HDR_REQUEST_SOFTWARE_REVISION = 241
HDR_REQUEST_SERIAL_NUMBER = 242
HDR_REQUEST_PRODUCT_CODE = 244
HDR_REQUEST_EQUIPMENT_CATEGORY = 245
HDR_REQUEST_MANUFACTURER_ID = 246
HDR_SIMPLE_POLL = 254

REPLY_HEADERS = frozenset({HDR_ACK, HDR_NAK, HDR_BUSY})

#: The length byte counts data bytes only.  We cap a message at 255 bytes (LEN <= 250): no
#: header we speak comes near it, and a cap keeps a garbled LEN from stalling the reader.
MAX_DATA = 250
OVERHEAD = 5  # DEST LEN SRC HDR CHK

#: Header 229 reply: event counter + 5 result pairs, newest first (Part 3, header 229).
BUFFER_PAIRS = 5
CREDIT_BUFFER_LEN = 1 + 2 * BUFFER_PAIRS
#: The event counter runs 1..255 and wraps to 1; 0 only after power-up or reset (Part 3, 229).
COUNTER_RING = 255
MAX_COIN_CHANNEL = 16

# ---- self-check fault codes (Part 3, fault code table) that the simulator uses
FAULT_OK = 0
FAULT_CREDIT_SENSOR = 3


@dataclass(frozen=True)
class Frame:
    """One ccTalk message.  In CRC-16 mode the source slot carries the CRC, so ``src`` is None."""

    dest: int
    header: int
    data: bytes = b""
    src: int | None = None


def checksum_simple(data: Iterable[int]) -> int:
    """The byte that makes the whole message sum to 0 mod 256 (``256 - sum`` is wrong at 0)."""
    return (-sum(data)) % 256


def crc16_xmodem(data: bytes) -> int:
    """CRC-16/XMODEM (poly 0x1021, init 0, no reflection), as ccTalk's CRC mode uses it."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def _check_byte(name: str, value: int) -> None:
    if not 0 <= value <= 255:
        raise ValueError(f"{name} {value} is not a byte")


def encode_frame(frame: Frame, mode: str = SIMPLE) -> bytes:
    """Frame → wire bytes.  Programming errors (bad field values) raise ValueError."""
    if mode not in MODES:
        raise ValueError(f"unknown checksum mode {mode!r}")
    if len(frame.data) > MAX_DATA:
        raise ValueError(f"{len(frame.data)} data bytes exceed {MAX_DATA}")
    _check_byte("dest", frame.dest)
    _check_byte("header", frame.header)
    n = len(frame.data)
    if mode == SIMPLE:
        if frame.src is None:
            raise ValueError("simple checksum mode needs a source address")
        _check_byte("src", frame.src)
        body = bytes([frame.dest, n, frame.src, frame.header]) + frame.data
        return body + bytes([checksum_simple(body)])
    # CRC mode: CRC over DEST LEN HDR DATA; low byte in the SRC slot, high byte last.
    crc = crc16_xmodem(bytes([frame.dest, n, frame.header]) + frame.data)
    return bytes([frame.dest, n, crc & 0xFF, frame.header]) + frame.data + bytes([crc >> 8])


def frame_size(length_byte: int) -> int:
    """Total bytes of a message whose LEN byte is ``length_byte``."""
    return length_byte + OVERHEAD


def decode_frame(raw: bytes, mode: str = SIMPLE) -> Frame:
    """Wire bytes of exactly one message → Frame.  Anything else raises FrameError."""
    raw = bytes(raw)
    if mode not in MODES:
        raise FrameError(f"unknown checksum mode {mode!r}")
    if len(raw) < OVERHEAD:
        raise FrameError(f"truncated: {len(raw)} bytes")
    n = raw[1]
    if n > MAX_DATA:
        raise FrameError(f"oversized: LEN {n}")
    if len(raw) != frame_size(n):
        raise FrameError(f"length mismatch: LEN {n} but {len(raw)} bytes")
    data = raw[4:-1]
    if mode == SIMPLE:
        if sum(raw) % 256:
            raise FrameError("bad checksum")
        return Frame(dest=raw[0], header=raw[3], data=data, src=raw[2])
    crc = raw[2] | (raw[-1] << 8)
    if crc != crc16_xmodem(bytes([raw[0], n, raw[3]]) + data):
        raise FrameError("bad CRC")
    return Frame(dest=raw[0], header=raw[3], data=data, src=None)


def decode_reply(
    raw: bytes,
    mode: str = SIMPLE,
    host: int = ADDR_HOST,
    device: int = ADDR_COIN_ACCEPTOR,
    data_len: int | None = None,
) -> Frame:
    """A device's answer to the host: valid frame, addressed to the host, from ``device`` (simple
    mode only: CRC mode has no source byte), header ACK/NAK/BUSY, and — for ACKs where the caller
    knows it — exactly ``data_len`` data bytes.  Narrowing like this keeps stray bytes from ever
    passing as a credit buffer."""
    frame = decode_frame(raw, mode)
    if frame.dest != host:
        raise FrameError(f"reply addressed to {frame.dest}, not host {host}")
    if frame.src is not None and frame.src != device:
        raise FrameError(f"reply from {frame.src}, expected {device}")
    if frame.header not in REPLY_HEADERS:
        raise FrameError(f"reply header {frame.header} is not ACK/NAK/BUSY")
    if frame.header == HDR_ACK and data_len is not None and len(frame.data) != data_len:
        raise FrameError(f"reply has {len(frame.data)} data bytes, expected {data_len}")
    return frame


# ---------------------------------------------------------------- identification
IDENTITY_HEADERS = (
    HDR_REQUEST_MANUFACTURER_ID,
    HDR_REQUEST_PRODUCT_CODE,
    HDR_REQUEST_SERIAL_NUMBER,
    HDR_REQUEST_SOFTWARE_REVISION,
)


@dataclass(frozen=True)
class CoinAcceptorIdentity:
    manufacturer: str
    product: str
    serial: int
    software: str


def parse_identity(answers: dict[int, bytes]) -> CoinAcceptorIdentity:
    """Replies to IDENTITY_HEADERS (data bytes by header) → identity.  246/244/241 answer ASCII;
    242 answers the serial number as 3 bytes, least significant first (Part 3)."""

    def text(header: int) -> str:
        return answers[header].decode("ascii", "replace").strip()

    return CoinAcceptorIdentity(
        manufacturer=text(HDR_REQUEST_MANUFACTURER_ID),
        product=text(HDR_REQUEST_PRODUCT_CODE),
        serial=int.from_bytes(answers[HDR_REQUEST_SERIAL_NUMBER], "little"),
        software=text(HDR_REQUEST_SOFTWARE_REVISION),
    )


# ---------------------------------------------------------------- inhibit masks (header 231)
def inhibit_mask(channels: Iterable[int]) -> bytes:
    """Channels to ENABLE → the 2-byte mask of header 231 (bit set = accept; byte 1 = 1..8)."""
    mask = 0
    for ch in channels:
        if not 1 <= ch <= MAX_COIN_CHANNEL:
            raise ValueError(f"coin channel {ch} outside 1..{MAX_COIN_CHANNEL}")
        mask |= 1 << (ch - 1)
    return bytes([mask & 0xFF, mask >> 8])


def channels_from_mask(mask: bytes) -> frozenset[int]:
    if len(mask) != 2:
        raise FrameError(f"inhibit mask needs 2 bytes, got {len(mask)}")
    bits = mask[0] | (mask[1] << 8)
    return frozenset(ch for ch in range(1, MAX_COIN_CHANNEL + 1) if bits >> (ch - 1) & 1)


# ---------------------------------------------------------------- credit buffer (header 229)
@dataclass(frozen=True)
class CreditBuffer:
    counter: int
    results: tuple[tuple[int, int], ...]  # (result A, result B), newest first


def parse_credit_buffer(data: bytes) -> CreditBuffer:
    if len(data) != CREDIT_BUFFER_LEN:
        raise FrameError(f"credit buffer needs {CREDIT_BUFFER_LEN} bytes, got {len(data)}")
    pairs = tuple((data[i], data[i + 1]) for i in range(1, CREDIT_BUFFER_LEN, 2))
    return CreditBuffer(counter=data[0], results=pairs)


def encode_credit_buffer(buf: CreditBuffer) -> bytes:
    if len(buf.results) != BUFFER_PAIRS:
        raise ValueError("a credit buffer holds exactly 5 result pairs")
    out = bytearray([buf.counter])
    for a, b in buf.results:
        out += bytes([a, b])
    return bytes(out)


def next_counter(counter: int, steps: int = 1) -> int:
    """The device's counter after ``steps`` more events (0 → 1, 255 → 1; never back to 0)."""
    if steps == 0:
        return counter
    return (counter - 1 + steps) % COUNTER_RING + 1 if counter else (steps - 1) % COUNTER_RING + 1


def counter_gap(last: int, current: int) -> int:
    """Events between two non-reset readings (``last`` may be 0: freshly powered up)."""
    if last == 0:
        return current
    return (current - last) % COUNTER_RING


@dataclass(frozen=True)
class BufferedEvent:
    counter: int  # the event counter value this event was given
    result_a: int
    result_b: int

    @property
    def is_credit(self) -> bool:
        return self.result_a != 0


@dataclass(frozen=True)
class TrackResult:
    """What one header 229 reading means: new events (oldest first), a reset, lost events."""

    new: tuple[BufferedEvent, ...] = ()
    reset: bool = False
    lost: int = 0
    first_sync: bool = False
    previous: int | None = None


class EventTracker:
    """Remembers the last event counter and turns each reading into the events that are new.

    Each buffered event is reported once.  A gap over 5 means the oldest events fell out of the
    buffer: only the five still in it are reported, the rest are counted as lost (never guessed).
    A counter of 0 means the device powered up or was reset: resync from there.
    """

    def __init__(self, last: int | None = None) -> None:
        if last is not None and not 0 <= last <= 255:
            raise ValueError(f"event counter {last} is not a byte")
        self.last = last

    def update(self, buf: CreditBuffer) -> TrackResult:
        previous = self.last
        cur = buf.counter
        if cur == 0:
            self.last = 0
            return TrackResult(reset=previous != 0, previous=previous)
        if previous is None:
            # First reading without a remembered counter: what is buffered may have been
            # credited before a restart, so it becomes the baseline and is not credited.
            self.last = cur
            return TrackResult(first_sync=True, previous=None)
        gap = counter_gap(previous, cur)
        self.last = cur
        if gap == 0:
            return TrackResult(previous=previous)
        visible = min(gap, BUFFER_PAIRS)
        events = []
        for i in range(visible - 1, -1, -1):  # oldest of the visible ones first
            a, b = buf.results[i]
            events.append(BufferedEvent(counter=_counter_back(cur, i), result_a=a, result_b=b))
        return TrackResult(new=tuple(events), lost=gap - visible, previous=previous)


def _counter_back(counter: int, steps: int) -> int:
    return (counter - 1 - steps) % COUNTER_RING + 1


# ---------------------------------------------------------------- error codes (Part 3 table)
#: kind: "reject" (coin refused, nothing wrong), "fraud" (refused, suspicious), "fault" (the
#: mechanism needs attention: jams and sensor faults), "info".
ERROR_CODES: dict[int, tuple[str, str]] = {
    0: ("null event", "info"),
    1: ("reject coin", "reject"),
    2: ("inhibited coin", "reject"),
    3: ("multiple window", "reject"),
    4: ("wake-up timeout", "reject"),
    5: ("validation timeout", "reject"),
    6: ("credit sensor timeout", "fault"),
    7: ("sorter opto timeout", "fault"),
    8: ("2nd close coin error", "reject"),
    9: ("accept gate not ready", "reject"),
    10: ("credit sensor not ready", "reject"),
    11: ("sorter not ready", "reject"),
    12: ("reject coin not cleared", "reject"),
    13: ("validation sensor not ready", "fault"),
    14: ("credit sensor blocked", "fault"),
    15: ("sorter opto blocked", "fault"),
    16: ("credit sequence error", "fraud"),
    17: ("coin going backwards", "fraud"),
    18: ("coin too fast (over credit sensor)", "fraud"),
    19: ("coin too slow (over credit sensor)", "fraud"),
    20: ("coin-on-string mechanism activated", "fraud"),
    21: ("DCE opto timeout", "fault"),
    22: ("DCE opto not seen", "fraud"),
    23: ("credit sensor reached too early", "fraud"),
    24: ("reject coin (repeated sequential trip)", "fraud"),
    25: ("reject slug", "fraud"),
    26: ("reject sensor blocked", "fault"),
    27: ("games overload", "fault"),
    28: ("max coin meter pulses exceeded", "fault"),
    29: ("accept gate open not closed", "fault"),
    30: ("accept gate closed not open", "fault"),
    31: ("manifold opto timeout", "fault"),
    32: ("manifold opto blocked", "fault"),
    33: ("manifold not ready", "reject"),
    34: ("security status changed", "fraud"),
    35: ("motor exception", "fault"),
    36: ("swallowed coin", "fault"),
    37: ("coin too fast (over validation sensor)", "fraud"),
    38: ("coin too slow (over validation sensor)", "fraud"),
    39: ("coin incorrectly sorted", "fault"),
    40: ("external light attack", "fraud"),
    253: ("data block request", "info"),
    254: ("coin return mechanism activated (flight deck open)", "reject"),
    255: ("unspecified alarm code", "info"),
}
# 128..159: "inhibited coin (type n)" — a coin of an inhibited channel, reported per type.
ERR_INHIBITED_TYPE_BASE = 127


def describe_error(code: int) -> tuple[str, str]:
    """Error code (result B when result A is 0) → (text, kind)."""
    if code in ERROR_CODES:
        return ERROR_CODES[code]
    if 128 <= code <= 159:
        return (f"inhibited coin (type {code - ERR_INHIBITED_TYPE_BASE})", "reject")
    return (f"unknown error code {code}", "info")


def error_slug(code: int) -> str:
    """A stable code name for DeviceFault/DeviceFaultCleared (``credit_sensor_blocked``)."""
    text = describe_error(code)[0].split(" (")[0]
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")
