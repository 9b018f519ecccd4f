"""JCM ID-003 wire format, pure: CRC-16/KERMIT, frame encode/decode, a resynchronising frame
reader, and the status / command / reject-reason constants named after the manual.

Frame (ID-003 communication specification, "message format"):
``SYNC(0xFC) LNG CMD [DATA...] CRCL CRCH`` -- LNG counts the whole frame, SYNC and CRC included;
the CRC covers SYNC..DATA and is sent low byte first.  Nothing here does I/O; every decoding
failure raises :class:`drivers.errors.FrameError` and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from drivers.bill_validator.common.framing import FrameReader as _FrameReader
from drivers.bill_validator.common.framing import Framing, crc16_kermit
from drivers.bill_validator.common.status import FaultInfo
from drivers.errors import FrameError
from drivers.interfaces import ChannelMap
from drivers.line import LineSettings

#: The ID-003 line: 9600 baud, 8 data bits, EVEN parity, 1 stop bit.
LINE = LineSettings(baudrate=9600, parity="E")

SYNC = 0xFC
#: SYNC + LNG + CMD + CRC (2): a frame with no data.
MIN_FRAME_LEN = 5
#: LNG is one byte, but no ID-003 message we use is near that long (the longest, the version
#: string, is under 50 bytes).  A larger LNG is treated as line noise ("oversized") so that a
#: corrupted length byte cannot make the reader swallow hundreds of good bytes.
MAX_FRAME_LEN = 64
MAX_DATA_LEN = MAX_FRAME_LEN - MIN_FRAME_LEN

# ---------------------------------------------------------------- host → device commands
STATUS_REQUEST = 0x11
ACK = 0x50  # both directions: host acknowledges VEND VALID, device acknowledges operations
# Operation commands: the device answers ACK (or INVALID COMMAND when it cannot do it now).
RESET = 0x40
STACK_1 = 0x41
STACK_2 = 0x42
RETURN = 0x43
HOLD = 0x44
OPERATION_COMMANDS = frozenset({RESET, STACK_1, STACK_2, RETURN, HOLD})
# Setting commands: the device echoes the frame it received.
SET_ENABLE = 0xC0  # 2 data bytes, denomination inhibit mask (bit set = inhibited)
SET_SECURITY = 0xC1
SET_COMMUNICATION_MODE = 0xC2
SET_INHIBIT = 0xC3  # 1 data byte: 0x00 accept, 0x01 inhibit
SET_DIRECTION = 0xC4
SET_OPTIONAL_FUNCTION = 0xC5
SET_BAR_CODE = 0xC6
SET_BAR_INHIBIT = 0xC7
SETTING_COMMANDS = frozenset(range(SET_ENABLE, SET_BAR_INHIBIT + 1))
#: data length each setting command must carry (the rest are passed through as they come)
SETTING_DATA_LEN = {SET_ENABLE: 2, SET_INHIBIT: 1, SET_DIRECTION: 1}
# Setting status requests (ID-003 specification, "setting status request" commands): 0x80 + n
# reads back what setting command 0xC0 + n wrote.  They carry no data; the device answers with
# the same command code followed by the setting's current data, exactly as the setting command
# would carry it (so a read-back of 0x80 is the two-byte C0 inhibit mask).
STATUS_ENABLE = 0x80
STATUS_SECURITY = 0x81
STATUS_COMMUNICATION_MODE = 0x82
STATUS_INHIBIT = 0x83
STATUS_DIRECTION = 0x84
STATUS_OPTIONAL_FUNCTION = 0x85
STATUS_BAR_CODE = 0x86
STATUS_BAR_INHIBIT = 0x87
#: setting status request → the setting command whose data it reads back
SETTING_OF_REQUEST = {STATUS_ENABLE + n: SET_ENABLE + n for n in range(8)}
# Version information request (ID-003 specification, "version information request"): the
# device answers 0x88 followed by its version string in ASCII; the boot program's version
# answers 0x89 the same way.
VERSION_REQUEST = 0x88
BOOT_VERSION_REQUEST = 0x89
READ_REQUESTS = frozenset(SETTING_OF_REQUEST) | {VERSION_REQUEST, BOOT_VERSION_REQUEST}

# ---------------------------------------------------------------- device → host statuses
ENABLE_IDLING = 0x11
ACCEPTING = 0x12
ESCROW = 0x13  # + 1 byte denomination code
STACKING = 0x14
VEND_VALID = 0x15  # the credit point: the host must ACK it
STACKED = 0x16
REJECTING = 0x17  # + 1 byte reject reason
RETURNING = 0x18
HOLDING = 0x19
DISABLE_INHIBIT = 0x1A
INITIALIZE = 0x1B
POWER_UP = 0x40
POWER_UP_BILL_IN_ACCEPTOR = 0x41
POWER_UP_BILL_IN_STACKER = 0x42
STACKER_FULL = 0x43
STACKER_OPEN = 0x44
ACCEPTOR_JAM = 0x45
STACKER_JAM = 0x46
PAUSE = 0x47
CHEATED = 0x48
FAILURE = 0x49  # + 1 byte failure code
COMMUNICATION_ERROR = 0x4A
INVALID_COMMAND = 0x4B

STATUS_NAMES = {
    ENABLE_IDLING: "idle",
    ACCEPTING: "accepting",
    ESCROW: "escrow",
    STACKING: "stacking",
    VEND_VALID: "vend_valid",
    STACKED: "stacked",
    REJECTING: "rejecting",
    RETURNING: "returning",
    HOLDING: "holding",
    DISABLE_INHIBIT: "disabled",
    INITIALIZE: "initialize",
    POWER_UP: "power_up",
    POWER_UP_BILL_IN_ACCEPTOR: "power_up_bill_in_acceptor",
    POWER_UP_BILL_IN_STACKER: "power_up_bill_in_stacker",
    STACKER_FULL: "stacker_full",
    STACKER_OPEN: "stacker_open",
    ACCEPTOR_JAM: "acceptor_jam",
    STACKER_JAM: "stacker_jam",
    PAUSE: "pause",
    CHEATED: "cheated",
    FAILURE: "failure",
    COMMUNICATION_ERROR: "communication_error",
    INVALID_COMMAND: "invalid_command",
}
#: statuses that carry exactly one data byte; every other status carries none
STATUS_DATA_LEN = {ESCROW: 1, REJECTING: 1, FAILURE: 1}

POWER_UP_CONDITIONS = {
    POWER_UP: "normal",
    POWER_UP_BILL_IN_ACCEPTOR: "bill_in_acceptor",
    POWER_UP_BILL_IN_STACKER: "bill_in_stacker",
}

#: The host restarted but the device did not: where its note is, read from the first status.
#: A reset returns a note still in the acceptor and finishes stacking one past escrow.
STATUS_AT_HOST_START = {
    ACCEPTING: "bill_in_acceptor",
    ESCROW: "bill_in_acceptor",
    HOLDING: "bill_in_acceptor",
    RETURNING: "bill_in_acceptor",
    STACKING: "bill_in_stacker",
    VEND_VALID: "bill_in_stacker",
}


#: Error statuses.  Locking ones need a person (jam, full or missing cash box, tampering, failure).
FAULTS = {
    STACKER_FULL: FaultInfo("stacker_full", "stacker (cash box) full", True),
    STACKER_OPEN: FaultInfo("stacker_open", "stacker open: cash box removed", True),
    ACCEPTOR_JAM: FaultInfo("acceptor_jam", "note jammed in the acceptor", True),
    STACKER_JAM: FaultInfo("stacker_jam", "note jammed in the stacker", True),
    CHEATED: FaultInfo("cheated", "cheating detected (note pulled back or tampering)", True),
    FAILURE: FaultInfo("failure", "validator failure", True),
    COMMUNICATION_ERROR: FaultInfo(
        "device_comm_error", "validator reports a communication error", False
    ),
}

#: Reject reason byte of REJECTING (ID-003 specification, "reject data").
REJECT_REASONS = {
    0x71: "insertion error",
    0x72: "magnetic pattern error",
    0x73: "returned: residual note in the head",
    0x74: "calibration / magnification error",
    0x75: "conveying error",
    0x76: "denomination not recognised",
    0x77: "photo pattern error",
    0x78: "photo level error",
    0x79: "denomination inhibited",
    0x7A: "operation error",
    0x7B: "returned: residual note in the stacker",
    0x7C: "conveying error (possible fraud)",
    0x7D: "note length error",
    0x7E: "photo pattern error (2)",
    0x7F: "true-bill feature error",
}
REJECT_INHIBITED = 0x79
REJECT_UNKNOWN_DENOMINATION = 0x76


def reject_reason_text(code: int) -> str:
    return REJECT_REASONS.get(code, f"unknown reject reason 0x{code:02X}")


# ---------------------------------------------------------------- denominations
#: First denomination code of the enable mask: bit n of the C0 mask is code 0x61 + n.
FIRST_DENOMINATION_CODE = 0x61
#: Suggested default for a CNY validator: denomination code → value in fen.
CNY_CODE_VALUES = {0x61: 100, 0x62: 500, 0x63: 1000, 0x64: 2000, 0x65: 5000, 0x66: 10000}


def cny_channels() -> ChannelMap:
    """A fresh CNY channel map (config may use it as the default for ``[bill_validator]``)."""
    return ChannelMap(dict(CNY_CODE_VALUES))


def inhibit_mask(enabled_codes: Iterable[int]) -> bytes:
    """C0 data: 16 bits, low byte first, a *set* bit inhibits code 0x61 + bit."""
    mask = 0xFFFF
    for code in enabled_codes:
        bit = code - FIRST_DENOMINATION_CODE
        if not 0 <= bit < 16:
            raise FrameError(f"denomination code 0x{code:02X} outside the C0 mask")
        mask &= ~(1 << bit)
    return mask.to_bytes(2, "little")


def enabled_codes(mask: bytes) -> frozenset[int]:
    """Inverse of :func:`inhibit_mask`."""
    if len(mask) != 2:
        raise FrameError(f"C0 mask must be 2 bytes, got {len(mask)}")
    value = int.from_bytes(mask, "little")
    return frozenset(FIRST_DENOMINATION_CODE + b for b in range(16) if not value & (1 << b))


# ---------------------------------------------------------------- CRC and frames
@dataclass(frozen=True)
class Frame:
    cmd: int
    data: bytes = b""

    def encode(self) -> bytes:
        return encode(self.cmd, self.data)

    def hex(self) -> str:
        return self.encode().hex(" ").upper()


def encode(cmd: int, data: bytes = b"") -> bytes:
    if not 0 <= cmd <= 0xFF:
        raise FrameError(f"command byte out of range: {cmd!r}")
    if len(data) > MAX_DATA_LEN:
        raise FrameError(f"{len(data)} data bytes exceed the {MAX_DATA_LEN}-byte limit")
    body = bytes((SYNC, MIN_FRAME_LEN + len(data), cmd)) + bytes(data)
    return body + crc16_kermit(body).to_bytes(2, "little")


def _frame_of(raw: bytes) -> Frame:
    return Frame(raw[2], raw[3:-2])


FRAMING = Framing(SYNC, 1, MIN_FRAME_LEN, MAX_FRAME_LEN, _frame_of)
decode = FRAMING.decode


class FrameReader(_FrameReader):
    framing = FRAMING


def status_data_ok(frame: Frame) -> bool:
    """Whether a device status frame carries the data length its status code requires."""
    return len(frame.data) == STATUS_DATA_LEN.get(frame.cmd, 0)


# ---------------------------------------------------------------- read-backs
def setting_request(setting_cmd: int) -> int:
    """The setting status request that reads back ``setting_cmd`` (0xC0..0xC7 → 0x80..0x87)."""
    if setting_cmd not in SETTING_COMMANDS:
        raise FrameError(f"0x{setting_cmd:02X} is not a setting command")
    return setting_cmd - (SET_ENABLE - STATUS_ENABLE)


def decode_setting_status(frame: Frame, request: int) -> bytes:
    """The data of the device's answer to setting status request ``request``."""
    if request not in SETTING_OF_REQUEST:
        raise FrameError(f"0x{request:02X} is not a setting status request")
    if frame.cmd != request:
        raise FrameError(f"answer 0x{frame.cmd:02X} to setting status request 0x{request:02X}")
    need = SETTING_DATA_LEN.get(SETTING_OF_REQUEST[request])
    if need is not None and len(frame.data) != need:
        raise FrameError(f"setting status 0x{request:02X}: {len(frame.data)} data bytes, "
                         f"want {need}")
    return frame.data


#: "<model>(<country>)<...> ID003-<rev>V<firmware> <date> <checksum>" as JCM units print it;
#: everything after the model is optional, so an unusual string still yields its raw text.
_VERSION = re.compile(
    r"^(?P<model>\S*?\((?P<country>[A-Z]{2,3})\)\S*)?\s*"
    r"(?P<protocol>ID\d{3}(?:-\d+)?)?(?P<firmware>V[\w.-]+)?"
    r"(?:\s+(?P<date>\d{2}[A-Z]{3}\d{2}))?(?:\s+(?P<checksum>[0-9A-F]{4}))?\s*$")


def decode_version(data: bytes) -> dict[str, str]:
    """The version string of a 0x88/0x89 answer → {"version", and what it names: "model",
    "country", "protocol_version", "firmware", "date", "checksum"}.  The string is printable
    ASCII (ID-003 specification, "version information"); anything else is a FrameError."""
    if not data:
        raise FrameError("empty version string")
    if any(not 0x20 <= b < 0x7F for b in data):
        raise FrameError(f"version string is not printable ASCII: {data.hex(' ').upper()}")
    text = data.decode("ascii").strip()
    out = {"version": text}
    m = _VERSION.match(text)
    if m:
        names = {"protocol": "protocol_version"}
        out.update({names.get(k, k): v for k, v in m.groupdict().items() if v})
    return out


def encode_version(text: str) -> bytes:
    """The device's 0x88 answer carrying ``text`` (the simulator's side of decode_version)."""
    data = text.encode("ascii")
    decode_version(data)  # the same rules both ways
    return encode(VERSION_REQUEST, data)
