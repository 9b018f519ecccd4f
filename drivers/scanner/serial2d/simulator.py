"""A serial 2D scanner on a pty, byte for byte: codes as the scanner frames them (prefix, AIM
id, suffix, CR or CR LF), the faults a line sees (garbage, a line broken off, an over-long
code, the same code read again and again) and Honeywell's host commands (protocol.py): menu
commands echoed with ACK/ENQ/NAK, and in manual trigger mode a code goes out only once the host
sends SYN T CR. Codes sent are counted in the state file."""

from __future__ import annotations

import os

from drivers.scanner.serial2d.protocol import (
    MENU_PREFIX,
    STORAGE,
    SYN,
    TRIGGER_MODES,
    TRIGGER_OFF,
    TRIGGER_ON,
    Framing,
    MenuReply,
    Scan,
    encode_reply,
    encode_scan,
    mask_code,
)
from drivers.simbase import SimulatorBase

HELP = ("scan <code> [aim id, e.g. ]Q1] | repeat [n] | garbage | partial <text> | long <n> | "
        "crlf on|off | counters | status | help (and noise/drop/delay)")
#: the menu settings this simulator keeps: value, default, allowed values (a subset of the
#: guide's: the two trigger modes and the read time-out in ms)
SETTINGS = {"TRGMOD": ("3", "0", set(TRIGGER_MODES.values())),
            "TRGSTO": ("30000", "30000", None)}
MAX_TIMEOUT_MS = 300_000
GARBAGE = b"\x01\xfe\x80A\x07B\r"


class Serial2dSimulator(SimulatorBase):
    help_text = HELP

    def __init__(self, state_path: str | os.PathLike[str] | None = None, prefix: bytes = b"",
                 suffix: bytes = b"", aim: bool = False, trigger_mode: str = "3") -> None:
        super().__init__(state_path)
        if trigger_mode not in TRIGGER_MODES.values():
            raise ValueError(f"trigger_mode must be one of {', '.join(TRIGGER_MODES.values())}")
        self.framing = Framing(prefix, suffix, aim, max_length=4096)
        self.settings = {tag: value for tag, (value, _d, _a) in SETTINGS.items()}
        self.settings["TRGMOD"] = trigger_mode
        self.crlf = False
        self.triggered = False
        self.held: bytes | None = None  # manual trigger: a code in view, read at the next SYN T CR
        self.last: Scan | None = None
        self._host = bytearray()
        self._out = bytearray()
        state = self.state_file.load({"codes_sent": 0})
        self.codes_sent = int(state["codes_sent"])

    # ------------------------------------------------------------ host side
    def on_bytes(self, data: bytes) -> bytes:
        self._host += data
        reply = bytearray()
        while self._host:
            if self._host.startswith(TRIGGER_ON):
                del self._host[: len(TRIGGER_ON)]
                reply += self._trigger(True)
            elif self._host.startswith(TRIGGER_OFF):
                del self._host[: len(TRIGGER_OFF)]
                self.triggered = False
            elif self._host.startswith(MENU_PREFIX):
                end = next((i for i, b in enumerate(self._host) if b in STORAGE), None)
                if end is None:
                    break  # the rest of the command is still on its way
                body = bytes(self._host[len(MENU_PREFIX):end]).decode("latin-1")
                storage = chr(self._host[end])
                del self._host[: end + 1]
                reply += encode_reply(self._menu(body), storage)
            elif self._host[0] == SYN and len(self._host) < 3:
                break  # a command's first bytes
            else:
                del self._host[0]  # not a command: a real scanner ignores it
        return bytes(reply)

    def _menu(self, body: str) -> MenuReply:
        tag, data = body[:6].upper(), body[6:]
        if tag not in SETTINGS:
            return MenuReply(body, "enq")
        value, default, allowed = SETTINGS[tag]
        if data == "?":
            return MenuReply(tag + self.settings[tag], "ack")
        if data == "^":
            return MenuReply(tag + default, "ack")
        if data == "*":
            return MenuReply(tag + ("|".join(sorted(allowed)) if allowed else
                                    f"0-{MAX_TIMEOUT_MS}"), "ack")
        ok = data in allowed if allowed else data.isdigit() and int(data) <= MAX_TIMEOUT_MS
        if not ok:
            return MenuReply(body, "nak")
        self.settings[tag] = data
        if tag == "TRGMOD":
            self.triggered = False
        return MenuReply(body, "ack")

    def _trigger(self, on: bool) -> bytes:
        self.triggered = on
        if on and self.held is not None:
            code, self.held = self.held, None
            self.triggered = False  # one read per trigger
            return code
        return b""

    @property
    def presentation(self) -> bool:
        return self.settings["TRGMOD"] == TRIGGER_MODES["presentation"]

    def on_tick(self) -> bytes:
        out, self._out = bytes(self._out), bytearray()
        return out

    def _save(self) -> None:
        self.state_file.save({"codes_sent": self.codes_sent})

    # ------------------------------------------------------------ bench
    def scan(self, text: str, aim: str = "]Q1") -> bytes:
        """A code read now (or, in manual trigger mode, held until the host triggers a read)."""
        scan = Scan(text, aim)
        wire = encode_scan(scan, self.framing, self.crlf)
        with self._lock:
            self.last = scan
            self.codes_sent += 1
            self._save()
            if self.presentation or self.triggered:
                self.triggered = False
                self._out += wire
            else:
                self.held = wire
        return wire

    def _command(self, cmd: str, args: list[str]) -> str:
        if cmd == "scan":
            if len(args) not in (1, 2) or not args[0].isascii() or not args[0].isprintable():
                raise ValueError("usage: scan <code: printable ASCII> [aim id]")
            self.scan(args[0], *args[1:])
            where = "sent" if self.held is None else "held until the host triggers a read"
            return f"code {mask_code(args[0])} {where}"
        if cmd == "repeat":
            n = int(args[0]) if args else 3
            if self.last is None or not 1 <= n <= 100:
                raise ValueError("usage: repeat [1-100] (after a scan)")
            for _ in range(n):
                self.scan(self.last.text, self.last.aim)
            return f"code {mask_code(self.last.text)} sent {n} more times"
        if cmd == "garbage":
            self._out += GARBAGE
            return f"sent {len(GARBAGE)} bytes of garbage ending in CR"
        if cmd == "partial":
            if len(args) != 1:
                raise ValueError("usage: partial <text>")
            self._out += self.framing.prefix + args[0].encode("ascii")
            return "sent a line with no CR"
        if cmd == "long":
            if len(args) != 1 or not args[0].isdigit() or not 1 <= int(args[0]) <= 100_000:
                raise ValueError("usage: long <characters, 1-100000>")
            self._out += encode_scan(Scan("9" * int(args[0]), "]Q1"), self.framing, self.crlf)
            return f"sent a {args[0]}-character code"
        if cmd == "crlf":
            if args not in (["on"], ["off"]):
                raise ValueError("usage: crlf on|off")
            self.crlf = args[0] == "on"
            return f"lines end in {'CR LF' if self.crlf else 'CR'}"
        if cmd == "counters":
            return f"codes sent {self.codes_sent}"
        if cmd == "status":
            mode = "presentation" if self.presentation else "manual trigger"
            return (f"{mode} mode; {'triggered' if self.triggered else 'idle'}; "
                    f"{'a code held' if self.held else 'nothing held'}; read time-out "
                    f"{self.settings['TRGSTO']} ms; {'CR LF' if self.crlf else 'CR'}")
        if cmd == "help":
            return HELP
        return f"error: unknown command {cmd!r} ({HELP})"

