"""ESC/POS wire facts, pure: real-time status bytes and Chinese text encoding, the pieces the
driver sends (the decoder of a whole command stream is decoder.py).

References are to the Epson "ESC/POS Application Programming Guide / Command Reference".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drivers.errors import FrameError
from drivers.interfaces import PaperState, PrinterStatus

# ---------------------------------------------------------------- constants
LF, FF, CR, HT = 0x0A, 0x0C, 0x0D, 0x09
DLE, EOT, ENQ, DC4 = 0x10, 0x04, 0x05, 0x14
ESC, FS, GS = 0x1B, 0x1C, 0x1D

INIT = b"\x1b@"  # ESC @: clear buffer, reset modes
KANJI_ON = b"\x1c&"  # FS &: select Kanji (Chinese) character mode
KANJI_OFF = b"\x1c."  # FS .: cancel Kanji character mode
#: GS ! 0: every character (ANK and Kanji) back to normal width and height
SIZE_NORMAL = b"\x1d!\x00"
#: FS ! 0: Kanji print mode back to normal (no double width/height, no underline)
KANJI_SIZE_NORMAL = b"\x1c!\x00"


def status_request(n: int) -> bytes:
    """DLE EOT n: real-time status transmission (n = 1 printer, 2 offline cause, 3 error cause,
    4 roll paper sensor).  The printer answers one byte, even while offline."""
    return bytes((DLE, EOT, n))


# Every DLE EOT answer has bit1 and bit4 set, bit0 and bit7 clear (Command Reference, DLE EOT
# "fixed" bits).  A byte that breaks this is noise or a late answer to something else.
STATUS_FIXED_MASK = 0x93
STATUS_FIXED_VALUE = 0x12


@dataclass(frozen=True)
class PrinterByte:
    """n = 1: printer status."""

    offline: bool  # bit3
    drawer_pin_high: bool  # bit2
    waiting_recovery: bool  # bit5
    feed_button: bool  # bit6


@dataclass(frozen=True)
class OfflineCause:
    """n = 2: offline cause."""

    cover_open: bool  # bit2
    feed_button: bool  # bit3
    paper_end_stop: bool  # bit5: printing stopped because the paper ran out
    error: bool  # bit6


@dataclass(frozen=True)
class ErrorCause:
    """n = 3: error cause."""

    recoverable: bool  # bit2
    autocutter: bool  # bit3
    unrecoverable: bool  # bit5
    auto_recoverable: bool  # bit6


@dataclass(frozen=True)
class PaperSensor:
    """n = 4: roll paper sensor.  The manual gives bits 2-3 (near end) and 5-6 (paper end) as
    pairs that are both set or both clear; we treat either bit as set, erring towards *not* OK."""

    near_end: bool
    paper_out: bool


StatusByte = PrinterByte | OfflineCause | ErrorCause | PaperSensor


def _bit(byte: int, n: int) -> bool:
    return bool(byte >> n & 1)


def decode_status(n: int, byte: int) -> StatusByte:
    """Decode the one-byte answer to DLE EOT n; FrameError if the fixed bits are wrong."""
    if not 0 <= byte <= 0xFF or byte & STATUS_FIXED_MASK != STATUS_FIXED_VALUE:
        raise FrameError(f"DLE EOT {n}: byte 0x{byte & 0xFF:02X} fails the fixed-bit pattern")
    if n == 1:
        return PrinterByte(_bit(byte, 3), _bit(byte, 2), _bit(byte, 5), _bit(byte, 6))
    if n == 2:
        return OfflineCause(_bit(byte, 2), _bit(byte, 3), _bit(byte, 5), _bit(byte, 6))
    if n == 3:
        return ErrorCause(_bit(byte, 2), _bit(byte, 3), _bit(byte, 5), _bit(byte, 6))
    if n == 4:
        return PaperSensor(bool(byte & 0x0C), bool(byte & 0x60))
    raise FrameError(f"DLE EOT {n}: no such status request")


def encode_status(st: StatusByte) -> int:
    """The byte a printer sends for ``st`` (the simulator's side of ``decode_status``)."""
    if isinstance(st, PaperSensor):
        return STATUS_FIXED_VALUE | (0x0C if st.near_end else 0) | (0x60 if st.paper_out else 0)
    if isinstance(st, PrinterByte):
        flags = {2: st.drawer_pin_high, 3: st.offline, 5: st.waiting_recovery, 6: st.feed_button}
    elif isinstance(st, OfflineCause):
        flags = {2: st.cover_open, 3: st.feed_button, 5: st.paper_end_stop, 6: st.error}
    else:
        flags = {2: st.recoverable, 3: st.autocutter, 5: st.unrecoverable, 6: st.auto_recoverable}
    return STATUS_FIXED_VALUE | sum(1 << pos for pos, on in flags.items() if on)


def combine_status(
    printer: PrinterByte | None, cause: OfflineCause | None, paper: PaperSensor | None
) -> PrinterStatus:
    """Fold the answers to DLE EOT 1, 2, 4 into a PrinterStatus; a missing answer stays unknown."""
    if paper is None:
        state = PaperState.UNKNOWN
    elif paper.paper_out or (cause is not None and cause.paper_end_stop):
        state = PaperState.OUT
    elif paper.near_end:
        state = PaperState.NEAR_END
    else:
        state = PaperState.OK
    return PrinterStatus(
        online=None if printer is None else not printer.offline,
        cover_open=None if cause is None else cause.cover_open,
        paper=state,
    )


# ---------------------------------------------------------------- Chinese text
#: Characters whose GB18030 form is 4 bytes (or GBK-only) and that GB2312-only printer fonts
#: garble, mapped to a GB2312 character that prints the same meaning.  ``¥`` is the one that
#: matters: the half-width yen sign has no GB2312 code, GB18030 gives it 4 bytes (81 30 84 36)
#: which such printers print as two wrong glyphs; the full-width ``￥`` is A3 A4 everywhere.
GB2312_SAFE = str.maketrans({"\u00a5": "\uffe5", "\u2022": "\u00b7", "\u2013": "-", "\u00a0": " "})

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Control characters in receipt text would be commands to the printer: make them spaces."""
    return _CONTROL.sub(" ", text)


def encode_chinese(text: str) -> bytes:
    """Text for a printer in Chinese (FS &) mode: GB2312-safe substitutions, then GB18030.
    ASCII stays one byte; CJK characters and punctuation (，。：；（）「」、) are two."""
    return clean_text(text).translate(GB2312_SAFE).encode("gb18030", errors="replace")
