"""CashCode CCNET wire format, pure: CRC-16/KERMIT, frame encode/decode, a resynchronising frame
reader, the bill masks, bill table and identification layouts, and the state / reject /
failure constants named after the manual.

Frame (CCNET manual, section 2.2 "Message format"):
``SYNC(0x02) ADR LNG CMD [DATA...] CRCL CRCH`` -- ADR is the peripheral address (0x03 for a bill
validator, section 2.4), LNG counts the whole frame from SYNC to the last CRC byte, the CRC is
CRC-16 with the reflected polynomial 0x8408 and initial value 0 over SYNC..DATA, sent low byte
first.  Device answers carry no command byte: the first byte after LNG is the answer itself
(ACK 0x00, NAK 0xFF, a POLL state, the first byte of a data block).  There is no byte stuffing.
Nothing here does I/O; every decoding failure raises :class:`drivers.errors.FrameError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from drivers.bill_validator.common.framing import FrameReader as _FrameReader
from drivers.bill_validator.common.framing import Framing, crc16_kermit
from drivers.bill_validator.common.status import FaultInfo
from drivers.errors import FrameError
from drivers.interfaces import ChannelMap
from drivers.line import LineSettings

#: CCNET line (section 2.1 "Data format"): 9600 baud, 8 data bits, no parity, 1 stop bit.
LINE = LineSettings(baudrate=9600, parity="N")

SYNC = 0x02
ADDR_BILL_VALIDATOR = 0x03  # CCNET manual, section 2.4 "Peripheral addresses"
#: SYNC + ADR + LNG + one body byte + CRC (2): the shortest frame (ACK, NAK, POLL, a state).
MIN_FRAME_LEN = 6
#: LNG is one byte; a frame longer than 250 bytes sets LNG to 0 and uses an extended length
#: (section 2.2), which no bill-validator message needs: the longest, the bill table, is 125.
MAX_FRAME_LEN = 250
MAX_BODY_LEN = MAX_FRAME_LEN - 5

# ---------------------------------------------------------------- controller → validator
# CCNET manual, section 5.3 "Controller commands" (bill validator).
RESET = 0x30
GET_STATUS = 0x31
SET_SECURITY = 0x32  # 3 bytes: bill types with high security
POLL = 0x33
ENABLE_BILL_TYPES = 0x34  # 3 bytes enable mask + 3 bytes escrow mask
STACK = 0x35
RETURN = 0x36
IDENTIFICATION = 0x37
HOLD = 0x38  # keep the bill in escrow for another escrow period
GET_BILL_TABLE = 0x41
COMMANDS = frozenset({RESET, GET_STATUS, SET_SECURITY, POLL, ENABLE_BILL_TYPES, STACK, RETURN,
                      IDENTIFICATION, HOLD, GET_BILL_TABLE})
#: data length each command must carry (section 5.4 "Controller command format")
COMMAND_DATA_LEN = {RESET: 0, GET_STATUS: 0, SET_SECURITY: 3, POLL: 0, ENABLE_BILL_TYPES: 6,
                    STACK: 0, RETURN: 0, IDENTIFICATION: 0, HOLD: 0, GET_BILL_TABLE: 0}

# ---------------------------------------------------------------- both directions
ACK = 0x00  # section 2.3: the controller ACKs every data answer; the device ACKs commands
NAK = 0xFF  # section 2.3: sent by whoever received a frame with a bad CRC
ILLEGAL_COMMAND = 0x30  # the device cannot carry out the command now (or does not know it)

# ---------------------------------------------------------------- POLL answer: Z1 [Z2]
# CCNET manual, section 5.4, POLL command: states (Z1) and their second byte (Z2).
POWER_UP = 0x10
POWER_UP_BILL_IN_VALIDATOR = 0x11
POWER_UP_BILL_IN_STACKER = 0x12
INITIALIZE = 0x13
IDLING = 0x14
ACCEPTING = 0x15
STACKING = 0x17
RETURNING = 0x18
UNIT_DISABLED = 0x19
HOLDING = 0x1A
BUSY = 0x1B
REJECTING = 0x1C  # + reject reason
DROP_CASSETTE_FULL = 0x41
DROP_CASSETTE_OUT = 0x42
VALIDATOR_JAMMED = 0x43
DROP_CASSETTE_JAMMED = 0x44
CHEATED = 0x45
PAUSE = 0x46
FAILURE = 0x47  # + failure code
ESCROW_POSITION = 0x80  # + bill type
BILL_STACKED = 0x81  # + bill type: the credit point
BILL_RETURNED = 0x82  # + bill type

STATE_NAMES = {
    POWER_UP: "power_up",
    POWER_UP_BILL_IN_VALIDATOR: "power_up_bill_in_validator",
    POWER_UP_BILL_IN_STACKER: "power_up_bill_in_stacker",
    INITIALIZE: "initialize",
    IDLING: "idle",
    ACCEPTING: "accepting",
    STACKING: "stacking",
    RETURNING: "returning",
    UNIT_DISABLED: "disabled",
    HOLDING: "holding",
    BUSY: "busy",
    REJECTING: "rejecting",
    DROP_CASSETTE_FULL: "drop_cassette_full",
    DROP_CASSETTE_OUT: "drop_cassette_out",
    VALIDATOR_JAMMED: "validator_jammed",
    DROP_CASSETTE_JAMMED: "drop_cassette_jammed",
    CHEATED: "cheated",
    PAUSE: "pause",
    FAILURE: "failure",
    ESCROW_POSITION: "escrow",
    BILL_STACKED: "bill_stacked",
    BILL_RETURNED: "bill_returned",
}
#: states whose answer carries a second byte (Z2); every other state carries none
STATE_DATA_LEN = {REJECTING: 1, FAILURE: 1, ESCROW_POSITION: 1, BILL_STACKED: 1,
                  BILL_RETURNED: 1}

POWER_UP_CONDITIONS = {
    POWER_UP: "normal",
    POWER_UP_BILL_IN_VALIDATOR: "bill_in_acceptor",
    POWER_UP_BILL_IN_STACKER: "bill_in_stacker",
}
#: The host restarted but the validator did not: where its bill is, read from the first POLL.
STATE_AT_HOST_START = {
    ACCEPTING: "bill_in_acceptor",
    ESCROW_POSITION: "bill_in_acceptor",
    HOLDING: "bill_in_acceptor",
    RETURNING: "bill_in_acceptor",
    BILL_RETURNED: "bill_in_acceptor",
    STACKING: "bill_in_stacker",
    BILL_STACKED: "bill_in_stacker",
}


#: Error states, with the same fault codes the ID-003 driver posts so the terminal treats them
#: alike.  All lock the terminal: each needs a person (or the device) to clear it.
FAULTS = {
    DROP_CASSETTE_FULL: FaultInfo("stacker_full", "drop cassette (cash box) full", True),
    DROP_CASSETTE_OUT: FaultInfo("stacker_open", "drop cassette out of position: cash box "
                                 "removed", True),
    VALIDATOR_JAMMED: FaultInfo("acceptor_jam", "bill jammed in the validator", True),
    DROP_CASSETTE_JAMMED: FaultInfo("stacker_jam", "bill jammed in the drop cassette", True),
    CHEATED: FaultInfo("cheated", "cheating detected (bill pulled back or tampering)", True),
    FAILURE: FaultInfo("failure", "validator failure", True),
}

#: Z2 of REJECTING (section 5.4, POLL, "rejecting" codes).
REJECT_REASONS = {
    0x60: "insertion error",
    0x61: "magnetic pattern error",
    0x62: "bill remaining in the head",
    0x63: "multiplying (compensation) error",
    0x64: "conveying error",
    0x65: "identification error",
    0x66: "verification error",
    0x67: "optical pattern error",
    0x68: "denomination inhibited",
    0x69: "capacitance pattern error",
    0x6A: "operation error",
    0x6C: "bill length error",
}
REJECT_INHIBITED = 0x68
REJECT_IDENTIFICATION = 0x65

#: Z2 of FAILURE (section 5.4, POLL, "generic failure codes").
FAILURE_CODES = {
    0x50: "stack motor failure",
    0x51: "transport motor speed failure",
    0x52: "transport motor failure",
    0x53: "aligning motor failure",
    0x54: "initial cassette status failure",
    0x55: "optic canal failure",
    0x56: "magnetic canal failure",
    0x5F: "capacitance canal failure",
}


def reject_reason_text(code: int) -> str:
    return REJECT_REASONS.get(code, f"unknown reject reason 0x{code:02X}")


def failure_text(code: int) -> str:
    return FAILURE_CODES.get(code, f"unknown failure code 0x{code:02X}")


# ---------------------------------------------------------------- bill types and masks
BILL_TYPES = 24  # bill types 0..23 (section 5.4, ENABLE BILL TYPES and GET BILL TABLE)


def bill_mask(types: Iterable[int]) -> bytes:
    """3 bytes, most significant first: bit n (of the 24-bit number) is bill type n."""
    value = 0
    for t in types:
        if not 0 <= t < BILL_TYPES:
            raise FrameError(f"bill type {t} outside 0..23")
        value |= 1 << t
    return value.to_bytes(3, "big")


def mask_types(mask: bytes) -> frozenset[int]:
    if len(mask) != 3:
        raise FrameError(f"bill mask must be 3 bytes, got {len(mask)}")
    value = int.from_bytes(mask, "big")
    return frozenset(t for t in range(BILL_TYPES) if value & (1 << t))


@dataclass(frozen=True)
class BillType:
    """One GET BILL TABLE entry (section 5.4): denomination digit, ISO country code (3 ASCII
    letters), power of ten (bit 7 set: the power is negative)."""

    digit: int
    country: str
    power: int  # signed

    @property
    def empty(self) -> bool:
        return self.digit == 0

    def value_minor(self, minor_per_major: int = 100) -> int | None:
        """The denomination in minor units, or None for an empty entry or a fraction of one."""
        if self.empty:
            return None
        if self.power >= 0:
            return self.digit * 10**self.power * minor_per_major
        scaled, rest = divmod(self.digit * minor_per_major, 10**-self.power)
        return None if rest else scaled

    def encode(self) -> bytes:
        if not 0 <= self.digit <= 0xFF or not -127 <= self.power <= 127:
            raise FrameError(f"bill type entry out of range: {self}")
        country = self.country.encode("ascii")
        if len(country) != 3:
            raise FrameError(f"country code must be 3 letters: {self.country!r}")
        power = self.power if self.power >= 0 else 0x80 | -self.power
        return bytes([self.digit]) + country + bytes([power])


EMPTY_BILL_TYPE = BillType(0, "\x00\x00\x00", 0)


def bill_type_for(value_minor: int, country: str, minor_per_major: int = 100) -> BillType:
    """The table entry (digit x 10^power major units, section 5.4) worth ``value_minor``;
    ValueError when its significant digits do not fit the one digit byte."""
    if value_minor <= 0:
        raise ValueError("a bill is worth more than nothing")
    digit, power = value_minor, -(len(str(minor_per_major)) - 1)  # minor_per_major: 10^n
    while digit % 10 == 0:
        digit, power = digit // 10, power + 1
    if digit > 0xFF:
        raise ValueError(f"{value_minor} minor units do not fit a bill table entry")
    return BillType(digit, country, power)


def decode_bill_table(data: bytes) -> tuple[BillType, ...]:
    if len(data) != 5 * BILL_TYPES:
        raise FrameError(f"bill table must be {5 * BILL_TYPES} bytes, got {len(data)}")
    table = []
    for at in range(0, len(data), 5):
        digit, country, power = data[at], data[at + 1 : at + 4], data[at + 4]
        if digit == 0:
            table.append(EMPTY_BILL_TYPE)
            continue
        try:
            text = country.decode("ascii")
        except UnicodeDecodeError:
            raise FrameError(f"bill type {at // 5}: country code not ASCII") from None
        table.append(BillType(digit, text, -(power & 0x7F) if power & 0x80 else power))
    return tuple(table)


def encode_bill_table(table: Iterable[BillType]) -> bytes:
    entries = list(table)
    if len(entries) > BILL_TYPES:
        raise FrameError("more than 24 bill types")
    entries += [EMPTY_BILL_TYPE] * (BILL_TYPES - len(entries))
    return b"".join(b"\x00" * 5 if e.empty else e.encode() for e in entries)


@dataclass(frozen=True)
class Identity:
    """IDENTIFICATION answer (section 5.4): part number (15 ASCII), serial number (12 ASCII),
    asset number (7 binary bytes)."""

    part_number: str
    serial_number: str
    asset_number: bytes

    def encode(self) -> bytes:
        part = self.part_number.encode("ascii")[:15].ljust(15)
        serial = self.serial_number.encode("ascii")[:12].ljust(12)
        if len(self.asset_number) != 7:
            raise FrameError("asset number must be 7 bytes")
        return part + serial + self.asset_number


IDENTITY_LEN = 34


def decode_identity(data: bytes) -> Identity:
    if len(data) != IDENTITY_LEN:
        raise FrameError(f"identification must be {IDENTITY_LEN} bytes, got {len(data)}")
    try:
        part, serial = data[:15].decode("ascii"), data[15:27].decode("ascii")
    except UnicodeDecodeError:
        raise FrameError("identification: part or serial number not ASCII") from None
    return Identity(part.strip(), serial.strip(), bytes(data[27:]))


#: A CNY bill table and the matching channel map (bill type → fen): the suggested default.
CNY_BILL_TABLE = (
    BillType(1, "CHN", 0), BillType(5, "CHN", 0), BillType(1, "CHN", 1),
    BillType(2, "CHN", 1), BillType(5, "CHN", 1), BillType(1, "CHN", 2),
)
CNY_TYPE_VALUES = {0: 100, 1: 500, 2: 1000, 3: 2000, 4: 5000, 5: 10000}


def cny_channels() -> ChannelMap:
    """A fresh CNY channel map (bill type → fen)."""
    return ChannelMap(dict(CNY_TYPE_VALUES))


# ---------------------------------------------------------------- CRC and frames
#: CCNET CRC (section 2.2): reflected 0x8408, init 0, no final xor (CRC-16/KERMIT).
crc16 = crc16_kermit


@dataclass(frozen=True)
class Frame:
    """``cmd`` is the first byte after LNG (a command, ACK/NAK, a state, or the first byte of a
    data block); ``data`` the rest before the CRC."""

    cmd: int
    data: bytes = b""
    address: int = ADDR_BILL_VALIDATOR

    @property
    def body(self) -> bytes:
        return bytes([self.cmd]) + self.data

    def encode(self) -> bytes:
        return encode(self.cmd, self.data, self.address)

    def hex(self) -> str:
        return self.encode().hex(" ").upper()


def encode(cmd: int, data: bytes = b"", address: int = ADDR_BILL_VALIDATOR) -> bytes:
    if not 0 <= cmd <= 0xFF or not 0 <= address <= 0xFF:
        raise FrameError(f"command or address byte out of range: {cmd!r}, {address!r}")
    if len(data) > MAX_BODY_LEN - 1:
        raise FrameError(f"{len(data)} data bytes exceed the {MAX_BODY_LEN - 1}-byte limit")
    head = bytes((SYNC, address, MIN_FRAME_LEN + len(data), cmd)) + bytes(data)
    return head + crc16(head).to_bytes(2, "little")


def from_body(body: bytes, address: int = ADDR_BILL_VALIDATOR) -> Frame:
    if not body:
        raise FrameError("empty body")
    return Frame(body[0], bytes(body[1:]), address)


def _frame_of(raw: bytes) -> Frame:
    return Frame(raw[3], raw[4:-2], raw[1])


FRAMING = Framing(SYNC, 2, MIN_FRAME_LEN, MAX_FRAME_LEN, _frame_of)
decode = FRAMING.decode


class FrameReader(_FrameReader):
    framing = FRAMING


def state_data_ok(frame: Frame) -> bool:
    """Whether a POLL answer carries the Z2 length its state requires."""
    return frame.cmd in STATE_NAMES and len(frame.data) == STATE_DATA_LEN.get(frame.cmd, 0)
