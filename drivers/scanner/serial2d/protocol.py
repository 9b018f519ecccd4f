"""The common serial mode of 2D barcode scanners, and the host commands of one family.

What a scanner sends: ``[prefix][AIM id]payload[suffix] CR [LF]`` -- the decoded code as
printable ASCII, ended by CR or CR LF, with an optional configured prefix and suffix and an
optional AIM symbology identifier (``]`` + code character + modifier character, ISO/IEC 15424:
``]Q1`` a QR Code, ``]C0`` Code 128, ``]E0`` EAN-13). Nothing frames or checks the payload: a
line broken off, a byte that is not printable ASCII or a line longer than the configured
maximum is dropped and counted, never guessed at.

The host commands are Honeywell's (Xenon / Granit 1900-1981i User Guide, chapter "Serial
Programming Commands": "Menu Command Syntax", "Query Commands", "Responses" and "Trigger
Commands"; the same chapter in the N86XX and Voyager guides):

- a menu command is ``SYN M CR`` (0x16 0x4D 0x0D) + tag (3 characters) + subtag (3) + data +
  storage, where storage ``!`` changes the volatile table (lost at power-off) and ``.`` the
  non-volatile one (the flash wears: the guide asks hosts to prefer ``!``);
- data ``?`` asks the current value, ``^`` the default, ``*`` the range;
- the scanner echoes the command with its status byte inserted before the storage character:
  ACK (0x06) done, ENQ (0x05) unknown tag or subtag, NAK (0x15) data out of range -- no CR;
- ``TRGMOD`` is the trigger mode: ``0`` manual (serial) trigger, ``3`` presentation mode (the
  scanner reads whatever is held in front of it: what a kiosk wants);
- in manual trigger mode ``SYN T CR`` starts a read and ``SYN U CR`` stops it; the scanner
  stops by itself after one code or its read time-out.

Pure: a line codec and a stream decoder; bad bytes raise only FrameError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drivers.errors import FrameError
from drivers.line import LineSettings

CR, LF = 0x0D, 0x0A
SYN, ACK, ENQ, NAK = 0x16, 0x06, 0x05, 0x15
#: Honeywell "Menu Command Syntax": the prefix of every menu command
MENU_PREFIX = bytes([SYN]) + b"M\r"
#: Honeywell "Trigger Commands": activate / deactivate a read in manual trigger mode
TRIGGER_ON = bytes([SYN]) + b"T\r"
TRIGGER_OFF = bytes([SYN]) + b"U\r"
VOLATILE, NON_VOLATILE = "!", "."
STORAGE = frozenset(b"!.,;")
STATUS = {ACK: "ack", ENQ: "enq", NAK: "nak"}
#: TRGMOD data: the two trigger modes a kiosk uses (the guide lists more)
TRIGGER_MODES = {"serial": "0", "presentation": "3"}

#: scanners leave the factory at 9600 8N1 in their RS-232 mode (the guides' "RS232 Baud Rate")
LINE = LineSettings()
BAUD_RATES = (9600, 19200, 38400, 57600, 115200)
DEFAULT_MAX_LENGTH = 256
MAX_LENGTH_RANGE = (8, 4096)
#: a configured prefix or suffix: up to 8 ASCII characters (control characters allowed)
AFFIX = re.compile(r"[\x01-\x7f]{0,8}")
#: ISO/IEC 15424: "]" + code character + modifier character
AIM_ID = re.compile(rb"\][A-Za-z][0-9A-Za-z]")
SYMBOLOGIES = {"Q": "qr", "d": "datamatrix", "C": "code128", "E": "ean_upc", "A": "code39",
               "I": "itf", "L": "pdf417", "z": "aztec", "e": "gs1_databar"}
PRINTABLE = range(0x20, 0x7F)
MENU_TEXT = re.compile(r"[0-9A-Za-z?^*|, -]+")


@dataclass(frozen=True)
class Scan:
    """One decoded code: its text and, when the scanner sends it, its AIM identifier."""

    text: str
    aim: str = ""

    @property
    def symbology(self) -> str:
        """``qr``, ``code128``, ... from the AIM identifier; "" when none came."""
        return SYMBOLOGIES.get(self.aim[1:2], "other") if self.aim else ""


@dataclass(frozen=True)
class MenuReply:
    """The scanner's answer to a menu command: the echoed command and ``ack``/``enq``/``nak``."""

    command: str
    status: str


@dataclass(frozen=True)
class Framing:
    """What the scanner is programmed to send around a code (its prefix/suffix and AIM id
    settings) and the longest code the host takes."""

    prefix: bytes = b""
    suffix: bytes = b""
    aim: bool = False
    max_length: int = DEFAULT_MAX_LENGTH

    def __post_init__(self) -> None:
        lo, hi = MAX_LENGTH_RANGE
        if not lo <= self.max_length <= hi:
            raise ValueError(f"max_length must be from {lo} to {hi}")
        for name in ("prefix", "suffix"):
            value = getattr(self, name)
            if not AFFIX.fullmatch(value.decode("latin-1")) or CR in value:
                raise ValueError(f"{name}: up to 8 ASCII characters, no CR, got {value!r}")

    @property
    def longest_line(self) -> int:
        return len(self.prefix) + 3 * self.aim + self.max_length + len(self.suffix)


def menu_command(body: str, storage: str = VOLATILE) -> bytes:
    """``menu_command("TRGMOD3")`` → SYN M CR ``TRGMOD3!``."""
    if storage not in (VOLATILE, NON_VOLATILE) or not MENU_TEXT.fullmatch(body):
        raise ValueError(f"not a menu command: {body!r}{storage}")
    return MENU_PREFIX + body.encode("ascii") + storage.encode("ascii")


def encode_scan(scan: Scan, framing: Framing = Framing(), crlf: bool = False) -> bytes:
    """What the scanner sends for ``scan`` (the simulator's side)."""
    text = scan.text.encode("ascii")
    aim = scan.aim.encode("ascii") if framing.aim else b""
    return framing.prefix + aim + text + framing.suffix + (b"\r\n" if crlf else b"\r")


def encode_reply(reply: MenuReply, storage: str = VOLATILE) -> bytes:
    """The scanner's echo: the command with its status byte before the storage character."""
    status = {v: k for k, v in STATUS.items()}[reply.status]
    return reply.command.encode("ascii") + bytes([status]) + storage.encode("ascii")


def decode_line(raw: bytes, framing: Framing = Framing()) -> Scan:
    """One line without its CR → Scan; FrameError (saying why) for anything else."""
    raw = bytes(raw)
    if framing.prefix:
        if not raw.startswith(framing.prefix):
            raise FrameError("framing: the configured prefix is missing")
        raw = raw[len(framing.prefix):]
    if framing.suffix:
        if not raw.endswith(framing.suffix) or len(raw) < len(framing.suffix):
            raise FrameError("framing: the configured suffix is missing")
        raw = raw[: len(raw) - len(framing.suffix)]
    aim = ""
    if framing.aim:
        if not AIM_ID.match(raw):
            raise FrameError("framing: no AIM identifier")
        aim, raw = raw[:3].decode("ascii"), raw[3:]
    if not raw:
        raise FrameError("empty: no code in the line")
    if len(raw) > framing.max_length:
        raise FrameError(f"overlong: {len(raw)} characters (at most {framing.max_length})")
    if any(b not in PRINTABLE for b in raw):
        raise FrameError("garbage: a byte that is not printable ASCII")
    return Scan(raw.decode("ascii"), aim)


def _kind(err: FrameError) -> str:
    return str(err).split(":", 1)[0]


class LineDecoder:
    """Byte stream → Scans and MenuReplies. A line ends at CR (an LF right after is the tail of
    CR LF). A line longer than the framing allows is dropped at once and the bytes up to its CR
    skipped; the driver calls ``drop_partial()`` when the line stops mid-way (no CR within its
    gap), so a broken-off line never joins the next one."""

    def __init__(self, framing: Framing = Framing()) -> None:
        self.framing = framing
        self._buf = bytearray()
        self._skipping = False  # inside an over-long line: until its CR
        self._status: int | None = None  # a menu reply's status byte, waiting for the storage
        self.stats = {"lines": 0, "scans": 0, "garbage": 0, "overlong": 0, "partial": 0,
                      "framing": 0, "empty": 0, "menu_replies": 0}

    @property
    def pending(self) -> bool:
        """A line is under way (bytes since the last CR)."""
        return bool(self._buf) or self._skipping

    def feed(self, data: bytes) -> list[Scan | MenuReply]:
        out: list[Scan | MenuReply] = []
        for b in data:
            if self._status is not None:
                item = self._menu_reply(b)
                if item is not None:
                    out.append(item)
                    continue
            if b == CR:
                item = self._end_line()
                if item is not None:
                    out.append(item)
            elif b == LF and not self._buf and not self._skipping:
                continue  # the LF of CR LF
            elif b in STATUS and self._buf and not self._skipping:
                self._status = b
            elif self._skipping:
                continue
            else:
                self._buf.append(b)
                if len(self._buf) > self.framing.longest_line:
                    self.stats["overlong"] += 1
                    self._buf.clear()
                    self._skipping = True
        return out

    def drop_partial(self) -> bool:
        """The line under way broke off: drop it (counted). True when there was one."""
        if not self.pending:
            return False
        if not self._skipping:
            self.stats["partial"] += 1
        self._buf.clear()
        self._skipping = False
        self._status = None
        return True

    def _menu_reply(self, b: int) -> MenuReply | None:
        status, self._status = self._status, None
        text = bytes(self._buf).decode("latin-1")
        if b in STORAGE and MENU_TEXT.fullmatch(text):
            self._buf.clear()
            self.stats["menu_replies"] += 1
            return MenuReply(text, STATUS[status])
        self._buf.append(status)  # not a reply after all: part of a (bad) line
        return None

    def _end_line(self) -> Scan | None:
        raw = bytes(self._buf)
        self._buf.clear()
        if self._skipping:
            self._skipping = False
            return None  # counted when it grew too long
        self.stats["lines"] += 1
        try:
            scan = decode_line(raw, self.framing)
        except FrameError as err:
            self.stats[_kind(err)] += 1
            return None
        self.stats["scans"] += 1
        return scan


def mask_code(text: str) -> str:
    """For logs: a payment code is a bearer token (whoever has it can charge the wallet), so
    only its first two and last four characters are written."""
    if len(text) <= 8:
        return "*" * len(text)
    return text[:2] + "*" * (len(text) - 6) + text[-4:]
