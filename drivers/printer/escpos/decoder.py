"""What a printer makes of an ESC/POS byte stream, pure: a streaming decoder of the command
stream into printer-level events (text lines, QR codes, cuts, status requests), used by the
simulator and by tests that read what the driver sent.

References are to the Epson "ESC/POS Application Programming Guide / Command Reference".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from drivers.printer.escpos.protocol import CR, DC4, DLE, ENQ, EOT, ESC, FF, FS, GS, HT, LF

# ---------------------------------------------------------------- decoder events
#: a run of characters printed at one size: (text, width magnification, height magnification)
Run = tuple[str, int, int]


@dataclass(frozen=True)
class TextLine:
    """One printed line; ``runs`` says at which size each part of it came out."""

    text: str
    runs: tuple[Run, ...] = ()

    @property
    def double(self) -> str:
        """The characters printed larger than normal (wider or taller)."""
        return "".join(t for t, w, h in self.runs if w > 1 or h > 1)


@dataclass(frozen=True)
class QrCode:
    payload: str


@dataclass(frozen=True)
class Cut:
    partial: bool


@dataclass(frozen=True)
class StatusRequest:
    n: int


@dataclass(frozen=True)
class Raster:
    width_bytes: int
    height: int


@dataclass(frozen=True)
class Init:
    pass


Event = TextLine | QrCode | Cut | StatusRequest | Raster | Init

#: ESC t n → Python codec, Epson's standard character code tables.
CODE_PAGES = {
    0: "cp437", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 13: "cp857", 14: "cp737",
    15: "iso8859_7", 16: "cp1252", 17: "cp866", 18: "cp852", 19: "cp858", 32: "cp720",
    33: "cp775", 34: "cp855", 35: "cp861", 36: "cp862", 37: "cp864", 38: "cp869",
    39: "iso8859_2", 40: "iso8859_15", 44: "cp1125", 45: "cp1250", 46: "cp1251", 47: "cp1253",
    48: "cp1254", 49: "cp1255", 50: "cp1256", 51: "cp1257", 52: "cp1258",
}  # fmt: skip

# Commands with a fixed number of parameter bytes after the two command bytes.
_ESC_FIXED = {
    b"@": 0, b"a": 1, b"E": 1, b"!": 1, b"t": 1, b"-": 1, b"M": 1, b"{": 1, b"G": 1, b"d": 1,
    b"J": 1, b"e": 1, b"r": 1, b"2": 0, b"3": 1, b"A": 1, b"+": 1, b"V": 1, b"R": 1, b"=": 1,
    b"p": 3, b" ": 1, b"S": 0, b"L": 0, b"T": 1, b"$": 2, b"\\": 2, b"U": 1, b"%": 1, b"B": 2,
    b"K": 1, b"?": 1, b"<": 0, b"i": 0, b"m": 0, b"u": 1, b"v": 0, b"c": 2, b"f": 2, b"W": 8,
}  # fmt: skip
_GS_FIXED = {
    b"!": 1, b"B": 1, b"b": 1, b"|": 1, b"H": 1, b"f": 1, b"h": 1, b"w": 1, b"L": 2, b"W": 2,
    b"a": 1, b"r": 1, b"I": 1, b"P": 2, b"$": 2, b"\\": 2, b"^": 3, b":": 0, b"T": 1, b"E": 1,
    b"j": 1, b"/": 1,
}  # fmt: skip
_FS_FIXED = {b"&": 0, b".": 0, b"!": 1, b"C": 1, b"-": 1, b"S": 2, b"W": 1, b"p": 2}
_FIXED = {ESC: _ESC_FIXED, GS: _GS_FIXED, FS: _FS_FIXED}
_DLE_DC4_LEN = {1: 5, 2: 5, 3: 5, 7: 4, 8: 10}
#: Longest data block we accept; longer length fields are garbage, not a picture.
MAX_BLOCK = 1 << 20

_NEED_MORE = -1
_TEXT_RUN = re.compile(rb"[^\x00-\x08\x0a-\x1f]+")
#: what a GB2312/GBK printer prints for bytes its font has no glyph for (it prints *something*)
REPLACEMENT = "\ufffd"


def decode_gbk(data: bytes) -> tuple[list[tuple[str, bool]], int]:
    """Bytes in Chinese (Kanji) mode as a GB2312/GBK printer takes them: a byte below 0x80 is
    one ASCII character, a lead byte 0x81-0xFE with a trail byte 0x40-0xFE (not 0x7F) is one
    double-byte character.  GB18030's four-byte sequences (lead, 0x30-0x39, 0x81-0xFE,
    0x30-0x39; the half-width yen sign is 81 30 84 36) are not in GBK: the printer prints a
    wrong glyph, modelled as one REPLACEMENT each; so are lone lead bytes, 0x80, 0xFF and pairs
    outside the font.  Returns [(character, double-byte?)] and how many were unprintable."""
    out: list[tuple[str, bool]] = []
    bad, i, n = 0, 0, len(data)
    while i < n:
        b = data[i]
        if b < 0x80:
            out.append((chr(b), False))
            i += 1
            continue
        nxt = data[i + 1] if i + 1 < n else -1
        if (0x81 <= b <= 0xFE and 0x30 <= nxt <= 0x39 and i + 3 < n
                and 0x81 <= data[i + 2] <= 0xFE and 0x30 <= data[i + 3] <= 0x39):
            out.append((REPLACEMENT, True))
            bad, i = bad + 1, i + 4
        elif 0x81 <= b <= 0xFE and 0x40 <= nxt <= 0xFE and nxt != 0x7F:
            try:
                out.append((data[i : i + 2].decode("gbk"), True))
            except UnicodeDecodeError:
                out.append((REPLACEMENT, True))
                bad += 1
            i += 2
        else:
            out.append((REPLACEMENT, True))
            bad, i = bad + 1, i + 1
    return out, bad


@dataclass
class Decoded:
    events: list[Event] = field(default_factory=list)
    unknown: int = 0
    truncated: int = 0
    unprintable: int = 0

    @property
    def lines(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, TextLine)]

    @property
    def qr(self) -> list[str]:
        return [e.payload for e in self.events if isinstance(e, QrCode)]

    @property
    def cuts(self) -> int:
        return sum(isinstance(e, Cut) for e in self.events)


class EscPosDecoder:
    """Feed bytes in any chunking; get printer-level events.  Unknown bytes and commands are
    skipped and counted in ``unknown``; an incomplete command waits for more bytes."""

    def __init__(self, chinese_default: bool = False) -> None:
        #: the printer's power-up mode (its memory switch): Chinese (Kanji) mode on or off;
        #: ESC @ goes back to it
        self.chinese_default = chinese_default
        self.unknown = 0
        #: characters printed as a wrong glyph (see decode_gbk)
        self.unprintable = 0
        self._pending = b""
        self._reset_modes()
        self._parts: list[Run] = []
        self._seg = bytearray()
        self._qr_store: bytes | None = None

    def _reset_modes(self) -> None:
        self.chinese = self.chinese_default
        self.code_page = 0
        # Character sizes (Epson ESC/POS Command Reference): "ESC !" bits 4/5 set double
        # height/width of alphanumeric (ANK) characters only; "FS !" bits 2/3 set double
        # width/height of Kanji characters only; "GS !" sets the magnification of both.  For
        # each kind the last command received wins, so ESC ! 0 after GS ! 11h leaves the Kanji
        # characters double size until GS ! 0 or FS ! 0.
        self.ank_size = (1, 1)
        self.kanji_size = (1, 1)

    def _flush_seg(self) -> None:
        if not self._seg:
            return
        data = bytes(self._seg)
        self._seg.clear()
        if not self.chinese:
            text = data.decode(CODE_PAGES.get(self.code_page, "cp437"), errors="replace")
            self._add(text, self.ank_size)
            return
        chars, bad = decode_gbk(data)
        self.unprintable += bad
        for ch, wide in chars:
            self._add(ch, self.kanji_size if wide else self.ank_size)

    def _add(self, text: str, size: tuple[int, int]) -> None:
        if self._parts and self._parts[-1][1:] == size:
            last = self._parts[-1]
            self._parts[-1] = (last[0] + text, *size)
        else:
            self._parts.append((text, *size))

    def _end_line(self, out: list[Event], force: bool = True) -> None:
        self._flush_seg()
        if force or self._parts:
            runs = tuple(self._parts)
            out.append(TextLine("".join(r[0] for r in runs), runs))
        self._parts = []

    def feed(self, data: bytes) -> list[Event]:
        buf = self._pending + bytes(data)
        out: list[Event] = []
        i, n = 0, len(buf)
        while i < n:
            b = buf[i]
            if b >= 0x20 or b == HT:
                m = _TEXT_RUN.match(buf, i)
                assert m is not None
                self._seg += m.group()
                i = m.end()
            elif b == LF:
                self._end_line(out)
                i += 1
            elif b == FF:
                self._end_line(out, force=False)
                i += 1
            elif b == CR:  # ignored while auto line feed is off (the default)
                i += 1
            elif b in (ESC, GS, FS, DLE):
                used = self._command(buf, i, out)
                if used == _NEED_MORE:
                    break
                i += used
            else:
                self.unknown += 1
                i += 1
        self._pending = buf[i:]
        return out

    def finish(self) -> Decoded:
        """End of stream: text still in the buffer becomes a line; a cut-off command is counted."""
        out: list[Event] = []
        truncated = 1 if self._pending else 0
        self._pending = b""
        self._end_line(out, force=False)
        return Decoded(out, self.unknown, truncated, self.unprintable)

    # ---- commands; each returns bytes consumed or _NEED_MORE
    def _command(self, buf: bytes, i: int, out: list[Event]) -> int:
        if i + 1 >= len(buf):
            return _NEED_MORE
        lead, op = buf[i], buf[i + 1 : i + 2]
        if lead == DLE:
            return self._dle(buf, i, out)
        table = _FIXED[lead]
        if op in table:
            size = 2 + table[op]
            if i + size > len(buf):
                return _NEED_MORE
            self._apply(lead, op, buf[i + 2 : i + size], out)
            return size
        if op == b"(":  # ESC ( / GS ( / FS ( fn pL pH data
            if i + 5 > len(buf):
                return _NEED_MORE
            return self._block(buf, i, 5, buf[i + 3 : i + 5], out)
        if lead == GS:
            return self._gs_variable(buf, i, out)
        if lead == ESC and op in (b"*", b"D"):
            return self._esc_variable(buf, i, op)
        self.unknown += 1
        return 2

    def _apply(self, lead: int, op: bytes, args: bytes, out: list[Event]) -> None:
        if lead == ESC:
            if op == b"@":
                self._seg.clear()  # ESC @ clears the print buffer: unprinted text is lost
                self._parts = []
                self._qr_store = None
                self._reset_modes()
                out.append(Init())
            elif op == b"t":
                self._flush_seg()
                self.code_page = args[0]
            elif op in (b"d", b"J"):  # print the buffer, then feed
                self._end_line(out, force=False)
            elif op == b"!":
                self._flush_seg()
                n = args[0]
                self.ank_size = (2 if n & 0x20 else 1, 2 if n & 0x10 else 1)
        elif lead == GS and op == b"!":
            # GS !: bits 4-7 width - 1, bits 0-3 height - 1 (1-8 times), ANK and Kanji alike
            self._flush_seg()
            n = args[0]
            self.ank_size = self.kanji_size = ((n >> 4 & 7) + 1, (n & 7) + 1)
        elif lead == FS and op == b"!":
            self._flush_seg()
            n = args[0]
            self.kanji_size = (2 if n & 0x04 else 1, 2 if n & 0x08 else 1)
        elif lead == FS and op in (b"&", b"."):
            # FS & selects Kanji mode, FS . cancels it (ESC/POS Command Reference, "FS &",
            # "FS ."): outside it every byte is a character of the ESC t code page
            self._flush_seg()
            self.chinese = op == b"&"

    def _dle(self, buf: bytes, i: int, out: list[Event]) -> int:
        op = buf[i + 1]
        if op == EOT or op == ENQ:
            if i + 3 > len(buf):
                return _NEED_MORE
            n = buf[i + 2]
            if op == EOT and n in (1, 2, 3, 4):
                out.append(StatusRequest(n))
                return 3
            if op == EOT and n in (7, 8):  # DLE EOT 7/8 a: ink / peripheral status
                return 4 if i + 4 <= len(buf) else _NEED_MORE
            if op == EOT:
                self.unknown += 1
            return 3
        if op == DC4:
            if i + 3 > len(buf):
                return _NEED_MORE
            size = _DLE_DC4_LEN.get(buf[i + 2])
            if size is None:
                self.unknown += 1
                return 3
            return size if i + size <= len(buf) else _NEED_MORE
        self.unknown += 1
        return 2

    def _block(self, buf: bytes, i: int, head: int, length: bytes, out: list[Event]) -> int:
        size = head + int.from_bytes(length, "little")
        if size - head > MAX_BLOCK:
            self.unknown += 1
            return 2
        if i + size > len(buf):
            return _NEED_MORE
        if buf[i] == GS and buf[i + 2 : i + 3] == b"k":
            self._two_d(buf[i + head : i + size], out)
        return size

    def _two_d(self, body: bytes, out: list[Event]) -> None:
        """GS ( k: cn 49 = QR; fn 80 stores the symbol data, fn 81 prints it."""
        if len(body) < 2 or body[0] != 49:
            return
        fn = body[1]
        if fn == 80 and len(body) >= 3:
            self._qr_store = body[3:]
        elif fn == 81:
            self._end_line(out, force=False)
            if self._qr_store is not None:
                out.append(QrCode(self._qr_store.decode("utf-8", errors="replace")))

    def _gs_variable(self, buf: bytes, i: int, out: list[Event]) -> int:
        op, n = buf[i + 1 : i + 2], len(buf)
        if op == b"V":  # cut: m, or m n when m is 65/66/97/98/103/104 (feed then cut)
            if i + 3 > n:
                return _NEED_MORE
            m = buf[i + 2]
            size = 4 if m in (65, 66, 97, 98, 103, 104) else 3 if m in (0, 1, 48, 49) else 0
            if not size:
                self.unknown += 1
                return 3
            if i + size > n:
                return _NEED_MORE
            self._end_line(out, force=False)
            out.append(Cut(partial=m in (1, 49, 66, 98, 104)))
            return size
        if op == b"v":  # GS v 0 m xL xH yL yH d1...dk, k = x * y
            if i + 8 > n:
                return _NEED_MORE
            if buf[i + 2] != 0x30:
                self.unknown += 1
                return 3
            x = int.from_bytes(buf[i + 4 : i + 6], "little")
            y = int.from_bytes(buf[i + 6 : i + 8], "little")
            if x * y > MAX_BLOCK:
                self.unknown += 1
                return 3
            if i + 8 + x * y > n:
                return _NEED_MORE
            self._end_line(out, force=False)
            out.append(Raster(x, y))
            return 8 + x * y
        if op == b"8":  # GS 8 L p1 p2 p3 p4 data: the long form of GS ( L
            if i + 7 > n:
                return _NEED_MORE
            if buf[i + 2 : i + 3] != b"L":
                self.unknown += 1
                return 3
            return self._block(buf, i, 7, buf[i + 3 : i + 7], out)
        if op == b"k":  # barcode: m 0-6 NUL-terminated, m 65-79 with a length byte
            if i + 4 > n:
                return _NEED_MORE
            m = buf[i + 2]
            if 65 <= m <= 79:
                size = 4 + buf[i + 3]
                return size if i + size <= n else _NEED_MORE
            end = buf.find(b"\x00", i + 3, i + 3 + 256)
            if end < 0:
                if n - (i + 3) < 256:
                    return _NEED_MORE
                self.unknown += 1
                return 3
            return end + 1 - i
        if op == b"*":  # GS * x y d1...d(x*y*8): define downloaded bit image
            if i + 4 > n:
                return _NEED_MORE
            size = 4 + buf[i + 2] * buf[i + 3] * 8
            return size if i + size <= n else _NEED_MORE
        self.unknown += 1
        return 2

    def _esc_variable(self, buf: bytes, i: int, op: bytes) -> int:
        n = len(buf)
        if op == b"*":  # ESC * m nL nH d1...dk: bit image, k = n (8-dot) or 3n (24-dot)
            if i + 5 > n:
                return _NEED_MORE
            m, dots = buf[i + 2], int.from_bytes(buf[i + 3 : i + 5], "little")
            if m not in (0, 1, 32, 33):
                self.unknown += 1
                return 3
            size = 5 + dots * (3 if m >= 32 else 1)
            return size if i + size <= n else _NEED_MORE
        end = buf.find(b"\x00", i + 2, i + 2 + 33)  # ESC D n1...nk NUL: tab stops
        if end < 0:
            if n - (i + 2) < 33:
                return _NEED_MORE
            self.unknown += 1
            return 2
        return end + 1 - i


def decode(data: bytes, chinese_default: bool = False) -> Decoded:
    """Decode a whole stream at once."""
    dec = EscPosDecoder(chinese_default)
    events = dec.feed(data)
    tail = dec.finish()
    return Decoded(events + tail.events, tail.unknown, tail.truncated, tail.unprintable)
