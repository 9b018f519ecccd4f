"""A receipt printer on a pty: answers DLE EOT 1/2/4 for its paper/cover/online state, decodes
everything else with the protocol decoder and keeps the receipts it "printed" (one per cut).
Like a real printer it prints nothing while the paper is out, the cover open or it is offline.
Status requests are answered in stream order, after the print data sent before them.

It plays a GB2312/GBK printer: in Chinese (Kanji) mode a GB18030 four-byte sequence comes out
as a wrong glyph (counted in ``unprintable``), and each receipt keeps, per line, the characters
printed larger than normal (``double``), so a title size left on for the body shows.  It powers
up in Western mode unless built with ``chinese_default`` (or told ``power-up chinese``), as many
printers sold in China do."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

from drivers.interfaces import PaperState
from drivers.printer.escpos import decoder as D
from drivers.printer.escpos import protocol as P
from drivers.simbase import SimulatorBase

_COUNTERS = {"receipts": 0, "cuts": 0, "lines": 0, "spoiled": 0, "status_requests": 0, "unknown": 0,
             "unprintable": 0}

HELP = (
    "paper ok|near-end|out|out-after <n> · cover open|closed · offline · online · mute · unmute"
    " · power-up chinese|western · noise <hex> · drop <n> · delay <ms> · last · counters"
    " · status · help"
)


def _count(word: str) -> int:
    value = int(word)
    if value < 0:
        raise ValueError(f"{word} is negative")
    return value


def _new_receipt() -> dict[str, Any]:
    return {"lines": [], "double": [], "qr": [], "spoiled": False}


class EscPosSimulator(SimulatorBase):
    help_text = HELP

    def __init__(
        self, state_path: str | os.PathLike[str] | None = None, chinese_default: bool = False
    ) -> None:
        super().__init__(state_path)
        self._changed = threading.Condition(self._lock)
        self.decoder = D.EscPosDecoder(chinese_default=chinese_default)
        self.counters: dict[str, int] = self.state_file.load(_COUNTERS)
        self.paper = PaperState.OK
        self.cover_open = False
        self.offline = False
        self.muted = False
        #: printed lines left before the paper runs out (None: enough paper)
        self.out_after: int | None = None
        self.receipts: list[dict[str, Any]] = []
        self._current = _new_receipt()

    # ---------------------------------------------------------------- device side
    @property
    def can_print(self) -> bool:
        return not (self.offline or self.cover_open or self.paper is PaperState.OUT)

    def status_byte(self, n: int) -> int:
        out = self.paper is PaperState.OUT
        if n == 1:
            stopped = self.offline or self.cover_open or out  # cover open and paper end go offline
            return P.encode_status(P.PrinterByte(stopped, False, False, False))
        if n == 2:
            return P.encode_status(P.OfflineCause(self.cover_open, False, out, False))
        if n == 3:
            return P.encode_status(P.ErrorCause(False, False, False, False))
        return P.encode_status(P.PaperSensor(self.paper is PaperState.NEAR_END, out))

    def on_bytes(self, data: bytes) -> bytes:
        with self._changed:  # the serve loop holds the lock already; direct callers do not
            return self._on_bytes(data)

    def _on_bytes(self, data: bytes) -> bytes:
        before = dict(self.counters)
        reply = bytearray()
        for event in self.decoder.feed(data):
            if isinstance(event, D.StatusRequest):
                self.counters["status_requests"] += 1
                if not self.muted:
                    reply.append(self.status_byte(event.n))
            elif isinstance(event, D.Init):
                self._close_receipt(recorded=False)
            elif isinstance(event, D.Cut):
                self._on_cut()
            elif not self.can_print:
                self._current["spoiled"] = True  # dropped, like a printer with no paper
            elif isinstance(event, D.TextLine):
                self._on_line(event)
            elif isinstance(event, D.QrCode):
                self._current["qr"].append(event.payload)
        self.counters["unknown"] = self.counters.get("unknown", 0) + self.decoder.unknown
        self.counters["unprintable"] = (self.counters.get("unprintable", 0)
                                        + self.decoder.unprintable)
        self.decoder.unknown = self.decoder.unprintable = 0
        # A printer answers DLE EOT as it receives it (Epson's ESC/POS reference: a real-time
        # command), so an answer never waits for the counters' fsync'd file write: status
        # requests alone are not saved (the count goes to the file with the next print).
        if {**self.counters, "status_requests": 0} != {**before, "status_requests": 0}:
            self.state_file.save(self.counters)
        self._changed.notify_all()
        return bytes(reply)

    def _on_line(self, line: D.TextLine) -> None:
        self._current["lines"].append(line.text)
        self._current["double"].append(line.double)
        self.counters["lines"] += 1
        if self.out_after is not None:
            self.out_after -= 1
            if self.out_after <= 0:
                self.paper, self.out_after = PaperState.OUT, None

    def _on_cut(self) -> None:
        if not self.can_print:
            self._current["spoiled"] = True
            self._close_receipt(recorded=False)
            return
        self.counters["cuts"] += 1
        self._close_receipt(recorded=True)

    def _close_receipt(self, recorded: bool) -> None:
        cur, self._current = self._current, _new_receipt()
        if not (cur["lines"] or cur["qr"] or cur["spoiled"]):
            return
        if recorded and not cur["spoiled"]:
            self.receipts.append({"lines": cur["lines"], "double": cur["double"], "qr": cur["qr"]})
            self.counters["receipts"] += 1
        else:
            self.counters["spoiled"] += 1  # uncut, or part of it lost: not a receipt

    # ---------------------------------------------------------------- test and bench side
    def set_power_up(self, chinese: bool) -> None:
        """Set the power-up mode (the printer's memory switch) and power the printer off and on:
        unprinted data is lost and every mode is back to the power-up one."""
        with self._changed:
            self.decoder = D.EscPosDecoder(chinese_default=chinese)
            self._close_receipt(recorded=False)
    def wait_receipt(self, n: int, timeout: float) -> dict[str, Any]:
        """The n-th receipt (1-based) printed since start; TimeoutError if it does not come."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.receipts) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.receipts)} receipt(s), waited for {n}")
                self._changed.wait(left)
            return self.receipts[n - 1]

    def _command(self, cmd: str, args: list[str]) -> str:
        if cmd == "paper":
            if args[0] == "out-after":
                self.out_after = _count(args[1])
                return f"paper runs out after {self.out_after} line(s)"
            states = {"ok": PaperState.OK, "near-end": PaperState.NEAR_END, "out": PaperState.OUT}
            if args[0] not in states:
                raise ValueError("paper ok|near-end|out|out-after <n>")
            self.paper, self.out_after = states[args[0]], None
            return f"paper {args[0]}"
        if cmd == "cover":
            if args[0] not in ("open", "closed"):
                raise ValueError("cover open|closed")
            self.cover_open = args[0] == "open"
            return f"cover {args[0]}"
        if cmd == "power-up":
            if len(args) != 1 or args[0] not in ("chinese", "western"):
                raise ValueError("power-up chinese|western")
            self.set_power_up(chinese=args[0] == "chinese")
            return f"powers up in {args[0]} mode (power cycled)"
        if cmd in ("offline", "online"):
            self.offline = cmd == "offline"
            return cmd
        if cmd in ("mute", "unmute"):
            self.muted = cmd == "mute"
            return "status requests unanswered" if self.muted else "answering status requests"
        if cmd == "last":
            return json.dumps(self.receipts[-1], ensure_ascii=False) if self.receipts else "none"
        if cmd == "counters":
            return json.dumps(self.counters, sort_keys=True)
        if cmd == "status":
            return (
                f"paper={self.paper.value} cover={'open' if self.cover_open else 'closed'} "
                f"{'offline' if self.offline else 'online'} muted={'yes' if self.muted else 'no'} "
                f"receipts={len(self.receipts)} "
                f"power-up={'chinese' if self.decoder.chinese_default else 'western'}"
            )
        if cmd == "help":
            return HELP
        return f"unknown command {cmd!r}; try help"
