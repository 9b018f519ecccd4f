"""NXP PN532 host controller protocol over HSU: pure framing, checksums, a resynchronising stream
reader, command builders and answer parsers.  No I/O here.

Frames (PN532 User Manual UM0701-02, section 6.2.1):
  normal information frame  00 00 FF LEN LCS TFI PD0..PDn DCS 00      (6.2.1.1)
  extended information frame 00 00 FF FF FF LENM LENL LCS TFI .. DCS 00 (6.2.1.2)
  ACK  00 00 FF 00 FF 00 (6.2.1.3), NACK 00 00 FF FF 00 00 (6.2.1.4),
  error frame 00 00 FF 01 FF 7F 81 00 (6.2.1.5: syntax error at application level).
LEN counts TFI and the data bytes; LEN + LCS = 0 mod 256; TFI + PD0 + .. + PDn + DCS = 0 mod 256.
The preamble and postamble "can be composed with an undetermined number of bytes" (6.2.1.6), so
the reader skips zero bytes between frames without counting them as garbage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from drivers.errors import FrameError
from drivers.line import LineSettings

#: HSU: 115200 baud, 8 data bits, no parity, 1 stop bit (UM0701-02, section 6.2: the HSU
#: default speed).
LINE = LineSettings(baudrate=115200)

TFI_HOST = 0xD4  # host controller -> PN532 (6.2.1.1)
TFI_PN532 = 0xD5  # PN532 -> host controller (6.2.1.1)
TFI_ERROR = 0x7F  # the only byte of an error frame's data field (6.2.1.5)
ERROR_CODE = 0x81  # ... followed by its DCS
START = b"\x00\xff"
ACK_FRAME = b"\x00\x00\xff\x00\xff\x00"
NACK_FRAME = b"\x00\x00\xff\xff\x00\x00"
ERROR_FRAME = b"\x00\x00\xff\x01\xff\x7f\x81\x00"
#: HSU wake-up: 0x55 0x55 then dummy zeros long enough for the chip to come out of power-down
#: before the first command (UM0701-02, section 7.2.11, PowerDown: "HSU wake up condition").
WAKEUP = b"\x55\x55" + b"\x00" * 14
MAX_NORMAL_LEN = 255  # LEN of a normal frame, TFI included (6.2.1.1)
MAX_EXTENDED_LEN = 265  # firmware limit: 264 data bytes + TFI (6.2.1.2)

# Command codes (UM0701-02, chapter 7 command table, p. 65); an answer's code is the command's + 1.
GET_FIRMWARE_VERSION = 0x02
SAM_CONFIGURATION = 0x14
RF_CONFIGURATION = 0x32
IN_DATA_EXCHANGE = 0x40
IN_LIST_PASSIVE_TARGET = 0x4A
IN_RELEASE = 0x52

SAM_NORMAL = 0x01  # SAMConfiguration mode 1: normal mode, the SAM is not used (7.2.10)
BRTY_106_TYPE_A = 0x00  # InListPassiveTarget BrTy 0: 106 kbps ISO/IEC 14443 type A (7.3.5)
RF_ITEM_MAX_RETRIES = 0x05  # RFConfiguration CfgItem 5: MxRtyATR, MxRtyPSL, MxRtyPassiveActivation

# MIFARE Classic commands carried by InDataExchange (UM0701-02, 7.3.8; MIFARE Classic datasheet).
MIFARE_AUTH_A = 0x60
MIFARE_AUTH_B = 0x61
MIFARE_READ = 0x30
MIFARE_WRITE = 0xA0
BLOCK_SIZE = 16
BLOCKS_1K = 64

# Status byte of InDataExchange and friends (UM0701-02, chapter 7 error code table, p. 67).
STATUS_OK = 0x00
STATUS_TIMEOUT = 0x01  # the target did not answer: for us, the card left the field
STATUS_AUTH_ERROR = 0x14  # MIFARE authentication error
STATUS_NOT_ACCEPTABLE = 0x27  # command not acceptable in the current context
STATUS_CARD_DISAPPEARED = 0x2B
STATUS_NAMES = {
    0x00: "ok", 0x01: "timeout", 0x02: "CRC error", 0x03: "parity error",
    0x04: "wrong bit count", 0x05: "framing error", 0x06: "bit collision",
    0x07: "buffer too small", 0x09: "RF buffer overflow", 0x0A: "RF field not switched on",
    0x0B: "RF protocol error", 0x0D: "overheating", 0x0E: "internal buffer overflow",
    0x10: "invalid parameter", 0x13: "data format error", 0x14: "MIFARE authentication error",
    0x23: "UID check byte wrong", 0x25: "invalid device state", 0x26: "operation not allowed",
    0x27: "command not acceptable", 0x29: "target released", 0x2A: "card exchanged",
    0x2B: "card disappeared", 0x2C: "NFCID3 mismatch", 0x2D: "over-current",
    0x2E: "NAD missing",
}
CARD_GONE_STATUSES = frozenset({STATUS_TIMEOUT, STATUS_CARD_DISAPPEARED, 0x2A})


def checksum(data: Iterable[int]) -> int:
    """The byte that makes ``sum(data) + it`` zero mod 256 (both LCS and DCS, 6.2.1.1)."""
    return (-sum(data)) & 0xFF


@dataclass(frozen=True)
class Frame:
    """``kind``: ``info``, ``ack``, ``nack`` or ``error``.  For ``info`` frames ``tfi`` is D4/D5
    and ``data`` starts with the command (or answer) code."""

    kind: str
    tfi: int = 0
    data: bytes = b""

    @property
    def code(self) -> int | None:
        return self.data[0] if self.kind == "info" and self.data else None

    @property
    def params(self) -> bytes:
        return self.data[1:]

    def encode(self) -> bytes:
        if self.kind == "ack":
            return ACK_FRAME
        if self.kind == "nack":
            return NACK_FRAME
        if self.kind == "error":
            return ERROR_FRAME
        return encode_info(self.tfi, self.data)

    def hex(self) -> str:
        return self.encode().hex(" ").upper()


ACK = Frame("ack")
NACK = Frame("nack")
ERROR = Frame("error")


def encode_info(tfi: int, data: bytes) -> bytes:
    """A normal information frame, or an extended one when TFI + data exceed 255 bytes."""
    if tfi not in (TFI_HOST, TFI_PN532):
        raise ValueError(f"TFI must be D4 or D5, got {tfi:#04x}")
    data = bytes(data)
    length = 1 + len(data)
    if len(data) < 1 or length > MAX_EXTENDED_LEN:
        raise ValueError(f"data must be 1..{MAX_EXTENDED_LEN - 1} bytes, got {len(data)}")
    body = bytes([tfi]) + data
    if length <= MAX_NORMAL_LEN:
        head = bytes([length, checksum([length])])
    else:
        lenm, lenl = divmod(length, 256)
        head = bytes([0xFF, 0xFF, lenm, lenl, checksum([lenm, lenl])])
    return b"\x00" + START + head + body + bytes([checksum(body)]) + b"\x00"


def command(code: int, params: bytes = b"") -> bytes:
    """A host -> PN532 command frame."""
    return encode_info(TFI_HOST, bytes([code]) + bytes(params))


def answer(code: int, params: bytes = b"") -> bytes:
    """A PN532 -> host answer frame (``code`` is the answer code, command + 1)."""
    return encode_info(TFI_PN532, bytes([code]) + bytes(params))


class FrameReader:
    """Byte stream -> frames.  Hunts for the start code 00 FF; a frame whose LCS, DCS, TFI or
    postamble is wrong is dropped and counted, and the search resumes one byte after the start
    code that began it, so a good frame hidden in the bytes of a bad one is still found.
    ``expect_tfi``: information frames in the other direction are dropped and counted too."""

    STAT_KEYS = ("frames_ok", "acks", "nacks", "error_frames", "bad_lcs", "bad_dcs",
                 "bad_postamble", "malformed", "wrong_direction", "garbage_bytes", "flushed")

    def __init__(self, expect_tfi: int | None = None) -> None:
        self.expect_tfi = expect_tfi
        self._buf = bytearray()
        self.stats = {k: 0 for k in self.STAT_KEYS}

    @property
    def pending(self) -> bool:
        return bool(self._buf.strip(b"\x00"))

    @property
    def frames_bad(self) -> int:
        s = self.stats
        return (s["bad_lcs"] + s["bad_dcs"] + s["bad_postamble"] + s["malformed"]
                + s["wrong_direction"])

    def flush(self) -> None:
        """Drop a partial frame (the link gave up waiting for the rest)."""
        if self.pending:
            self.stats["flushed"] += 1
        self._buf.clear()

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        out: list[Frame] = []
        while True:
            frame, consumed = self._parse_one()
            if consumed == 0:
                return out
            del self._buf[:consumed]
            if frame is not None:
                out.append(frame)

    def _drop(self, upto: int) -> None:
        self.stats["garbage_bytes"] += sum(1 for b in self._buf[:upto] if b != 0)

    def _bad(self, key: str, start: int) -> tuple[None, int]:
        self.stats[key] += 1
        return None, start + 1  # resync just past this start code's 00

    def _parse_one(self) -> tuple[Frame | None, int]:
        """(frame or None, bytes consumed); consumed 0 means "need more bytes"."""
        buf = self._buf
        start = buf.find(START)
        if start < 0:
            keep = 1 if buf.endswith(b"\x00") else 0  # a 00 may be the first half of 00 FF
            self._drop(len(buf) - keep)
            return None, len(buf) - keep
        if start:
            self._drop(start)
            return None, start
        if len(buf) < 4:
            return None, 0
        length, lcs = buf[2], buf[3]
        if length == 0x00 and lcs == 0xFF:
            return self._special(ACK, "acks")
        if length == 0xFF and lcs == 0x00:
            return self._special(NACK, "nacks")
        if length == 0xFF and lcs == 0xFF:  # extended information frame (6.2.1.2)
            if len(buf) < 7:
                return None, 0
            lenm, lenl, elcs = buf[4], buf[5], buf[6]
            if (lenm + lenl + elcs) & 0xFF:
                return self._bad("bad_lcs", 0)
            length = lenm * 256 + lenl
            if length <= MAX_NORMAL_LEN or length > MAX_EXTENDED_LEN:
                return self._bad("malformed", 0)
            head = 7
        else:
            if (length + lcs) & 0xFF:
                return self._bad("bad_lcs", 0)
            if length == 0:
                return self._bad("malformed", 0)
            head = 4
        end = head + length + 2  # body, DCS, postamble
        if len(buf) < end:
            return None, 0
        body = bytes(buf[head:head + length])
        if (sum(body) + buf[head + length]) & 0xFF:
            return self._bad("bad_dcs", 0)
        if buf[end - 1] != 0x00:
            return self._bad("bad_postamble", 0)
        if body == bytes([TFI_ERROR]):
            self.stats["error_frames"] += 1
            return ERROR, end
        tfi = body[0]
        if tfi not in (TFI_HOST, TFI_PN532) or length < 2:
            return self._bad("malformed", 0)
        if self.expect_tfi is not None and tfi != self.expect_tfi:
            return self._bad("wrong_direction", 0)
        self.stats["frames_ok"] += 1
        return Frame("info", tfi, body[1:]), end

    def _special(self, frame: Frame, key: str) -> tuple[Frame | None, int]:
        if len(self._buf) < 5:
            return None, 0
        if self._buf[4] != 0x00:
            return self._bad("bad_postamble", 0)
        self.stats[key] += 1
        return frame, 5


def decode(raw: bytes) -> Frame:
    """Exactly one frame (one leading preamble byte, as the PN532 sends) -> Frame; anything
    else raises FrameError."""
    raw = bytes(raw)
    if not raw.startswith(b"\x00" + START):
        raise FrameError("a frame starts 00 00 FF")
    reader = FrameReader()
    frames = reader.feed(raw)
    if len(frames) != 1 or reader.pending or reader.frames_bad or reader.stats["garbage_bytes"]:
        raise FrameError(f"not exactly one valid frame: {raw.hex(' ').upper()}")
    if frames[0].encode() != raw:
        raise FrameError("trailing bytes after the frame")
    return frames[0]


# ---------------------------------------------------------------- command builders
def get_firmware_version() -> bytes:
    return command(GET_FIRMWARE_VERSION)


def sam_configuration(mode: int = SAM_NORMAL, timeout: int = 0x14, irq: int = 0x01) -> bytes:
    """SAMConfiguration (7.2.10); ``timeout`` only matters in virtual card mode (50 ms units)."""
    return command(SAM_CONFIGURATION, bytes([mode, timeout, irq]))


def rf_max_retries(atr: int = 0xFF, psl: int = 0x01, passive_activation: int = 0x02) -> bytes:
    """RFConfiguration item 5 (7.3.1).  MxRtyPassiveActivation 0xFF (the power-on default) makes
    InListPassiveTarget wait for a card forever; a small number makes it answer NbTg 0."""
    return command(RF_CONFIGURATION, bytes([RF_ITEM_MAX_RETRIES, atr, psl, passive_activation]))


def in_list_passive_target(max_targets: int = 1, brty: int = BRTY_106_TYPE_A) -> bytes:
    return command(IN_LIST_PASSIVE_TARGET, bytes([max_targets, brty]))


def in_data_exchange(tg: int, payload: bytes) -> bytes:
    return command(IN_DATA_EXCHANGE, bytes([tg]) + bytes(payload))


def in_release(tg: int = 0) -> bytes:
    """InRelease (7.3.11); Tg 0 releases every target."""
    return command(IN_RELEASE, bytes([tg]))


def auth_key_uid(uid: bytes) -> bytes:
    """The 4 UID bytes MIFARE Classic authentication takes: all of a 4-byte NUID, the last four
    of a 7-byte UID (NXP AN10927, MIFARE and handling of UIDs)."""
    if len(uid) not in (4, 7, 10):
        raise ValueError(f"a type A UID is 4, 7 or 10 bytes, got {len(uid)}")
    return bytes(uid[-4:])


def mifare_auth(block: int, key: bytes, uid: bytes, key_type: str = "A") -> bytes:
    """InDataExchange payload: authenticate ``block``'s sector with key A (0x60) or B (0x61)."""
    if key_type not in ("A", "B"):
        raise ValueError(f"key_type is 'A' or 'B', got {key_type!r}")
    if len(key) != 6:
        raise ValueError(f"a MIFARE key is 6 bytes, got {len(key)}")
    check_block(block)
    code = MIFARE_AUTH_A if key_type == "A" else MIFARE_AUTH_B
    return bytes([code, block]) + bytes(key) + auth_key_uid(uid)


def mifare_read(block: int) -> bytes:
    check_block(block)
    return bytes([MIFARE_READ, block])


def mifare_write(block: int, data16: bytes) -> bytes:
    check_block(block)
    if len(data16) != BLOCK_SIZE:
        raise ValueError(f"a MIFARE Classic block is {BLOCK_SIZE} bytes, got {len(data16)}")
    return bytes([MIFARE_WRITE, block]) + bytes(data16)


def check_block(block: int) -> None:
    if not isinstance(block, int) or not 0 <= block < BLOCKS_1K:
        raise ValueError(f"block must be 0..{BLOCKS_1K - 1} (MIFARE Classic 1K), got {block!r}")


def is_sector_trailer(block: int) -> bool:
    """MIFARE Classic 1K: the last block of each 4-block sector holds keys and access bits."""
    return block % 4 == 3


def sector_of(block: int) -> int:
    return block // 4


# ---------------------------------------------------------------- answer parsers
@dataclass(frozen=True)
class Firmware:
    ic: int
    ver: int
    rev: int
    support: int

    def __str__(self) -> str:
        return f"PN5{self.ic:02X} firmware {self.ver}.{self.rev} support 0x{self.support:02X}"


@dataclass(frozen=True)
class Target:
    """One 106 kbps type A target from InListPassiveTarget (7.3.5)."""

    tg: int
    sens_res: bytes  # ATQA, 2 bytes
    sel_res: int  # SAK
    uid: bytes  # NFCID1
    ats: bytes = b""

    @property
    def uid_hex(self) -> str:
        """Upper-case hex, the form the rest of the terminal uses for card ids."""
        return self.uid.hex().upper()


def _expect(frame: Frame, code: int, min_params: int = 0) -> bytes:
    if frame.kind != "info" or frame.tfi != TFI_PN532 or frame.code != code + 1:
        raise FrameError(f"not an answer to 0x{code:02X}: {frame.hex()}")
    if len(frame.params) < min_params:
        raise FrameError(f"answer to 0x{code:02X} too short: {frame.hex()}")
    return frame.params


def parse_firmware(frame: Frame) -> Firmware:
    p = _expect(frame, GET_FIRMWARE_VERSION, 4)
    if len(p) != 4:
        raise FrameError(f"GetFirmwareVersion answer must carry 4 bytes: {frame.hex()}")
    return Firmware(p[0], p[1], p[2], p[3])


def parse_empty(frame: Frame, code: int) -> None:
    """SAMConfiguration and RFConfiguration answer with their code and nothing else."""
    if _expect(frame, code):
        raise FrameError(f"answer to 0x{code:02X} carries unexpected data: {frame.hex()}")


def parse_list_passive_target(frame: Frame) -> list[Target]:
    p = _expect(frame, IN_LIST_PASSIVE_TARGET, 1)
    count, pos, targets = p[0], 1, []
    if count > 2:
        raise FrameError(f"NbTg {count} > 2: {frame.hex()}")
    for _ in range(count):
        if len(p) < pos + 5:
            raise FrameError(f"target data truncated: {frame.hex()}")
        tg, sens, sel, uid_len = p[pos], bytes(p[pos + 1:pos + 3]), p[pos + 3], p[pos + 4]
        pos += 5
        if uid_len not in (4, 7, 10) or len(p) < pos + uid_len:
            raise FrameError(f"bad NFCID length {uid_len}: {frame.hex()}")
        uid = bytes(p[pos:pos + uid_len])
        pos += uid_len
        ats = b""
        if sel & 0x20 and len(p) > pos:  # ISO/IEC 14443-4 compliant: the ATS follows
            ats_len = p[pos]
            if ats_len < 1 or len(p) < pos + ats_len:
                raise FrameError(f"ATS truncated: {frame.hex()}")
            ats, pos = bytes(p[pos:pos + ats_len]), pos + ats_len
        targets.append(Target(tg, sens, sel, uid, ats))
    if pos != len(p):
        raise FrameError(f"trailing bytes in InListPassiveTarget answer: {frame.hex()}")
    return targets


def parse_status(frame: Frame, code: int) -> tuple[int, bytes]:
    """InDataExchange / InRelease answers: (status byte with the MI and NAD bits masked, data)."""
    p = _expect(frame, code, 1)
    return p[0] & 0x3F, bytes(p[1:])


def status_text(status: int) -> str:
    return STATUS_NAMES.get(status, f"status 0x{status:02X}")


def encode_target(t: Target) -> bytes:
    """Target data as InListPassiveTarget carries it (the simulator's side)."""
    out = bytes([t.tg]) + t.sens_res + bytes([t.sel_res, len(t.uid)]) + t.uid
    return out + t.ats


def mask_uid(uid: str) -> str:
    """For logs: keep the last 4 characters only."""
    return "*" * max(0, len(uid) - 4) + uid[-4:]
