"""The PN532 HSU link under the driver: one command at a time, its ACK, then its answer.

Dialog (UM0701-02, section 6.2, dialog structure): the host sends a command frame, the PN532
answers an ACK frame as soon as the frame is received, then the answer frame once the command
is processed.  An ACK sent by the host aborts the command in progress (6.2.1.3), which is how a
timed-out command is abandoned before the next one is sent.  NACK (6.2.1.4) is never sent: a
NACK asks for the *last* answer again, which after a timeout may be the answer to an earlier
command -- a stale READ would pass for a fresh one.  Instead, bytes that arrive between
commands are drained and counted.

Callers hold the driver's line lock: the poll thread and the block workers never interleave.
"""

from __future__ import annotations

import logging
import termios
import time
from collections import deque
from typing import Any

import serial

from drivers.card_reader.pn532 import protocol as p
from drivers.errors import LinkTimeout, PortError

log = logging.getLogger(__name__)

LINE_SETTINGS = p.LINE
PORT_ERRORS = (serial.SerialException, OSError, TypeError, ValueError, termios.error)
STAT_KEYS = ("commands", "retries", "timeouts", "no_ack", "unexpected", "syntax_errors",
             "port_errors", "aborts")


class SyntaxErrorFrame(Exception):
    """The PN532 answered the error frame (6.2.1.5): it refused the command as malformed."""


class Link:
    def __init__(self, name: str, port: Any, ack_timeout: float, answer_timeout: float) -> None:
        self.name = name
        self.port = port
        self.ack_timeout = ack_timeout
        self.answer_timeout = answer_timeout
        self.reader = p.FrameReader(expect_tfi=p.TFI_PN532)
        self.stats = {k: 0 for k in STAT_KEYS}
        self._queued: deque[p.Frame] = deque()
        self._wire = logging.getLogger(f"{__name__}.wire.{name.replace('.', '_')}")

    def all_stats(self) -> dict[str, int]:
        return {**self.reader.stats, **self.stats}

    def wake(self) -> None:
        """HSU wake-up sequence before the first command (UM0701-02, 7.2.11)."""
        self._drain()
        self._write(p.WAKEUP)

    def transact(self, code: int, raw: bytes, attempts: int = 1) -> p.Frame:
        """Send one command frame; return its answer.  LinkTimeout when the ACK or the answer
        does not come after ``attempts`` tries (each abandoned one is aborted), SyntaxErrorFrame
        on the error frame.  Only idempotent commands (polls, configuration) take attempts > 1:
        a block write is never sent twice behind the caller's back."""
        for attempt in range(attempts):
            if attempt:
                self.stats["retries"] += 1
            frame = self._once(code, raw)
            if frame is not None:
                return frame
        raise LinkTimeout(f"no answer to command 0x{code:02X} after {attempts} attempt(s)")

    def _once(self, code: int, raw: bytes) -> p.Frame | None:
        self.stats["commands"] += 1
        self._drain()
        self._wire.debug("%s -> %s", self.name, raw.hex(" ").upper())
        self._write(raw)
        if not self._await(lambda f: f.kind == "ack", self.ack_timeout, code):
            self.stats["no_ack"] += 1
            self._give_up()
            return None
        frame = self._await(lambda f: f.kind == "info" and f.code == code + 1,
                            self.answer_timeout, code)
        if frame is None:
            self._give_up()
        return frame

    def _await(self, want: Any, timeout: float, code: int) -> p.Frame | None:
        """The first frame ``want`` accepts; frames read after it in the same chunk (the answer
        right behind the ACK) wait in ``self._queued`` for the next call."""
        deadline = time.monotonic() + timeout
        while True:
            if not self._queued:
                if time.monotonic() >= deadline:
                    return None
                self._queued.extend(self.reader.feed(self._read()))
                continue
            frame = self._queued.popleft()
            self._wire.debug("%s <- %s", self.name, frame.hex())
            if frame.kind == "error":
                self.stats["syntax_errors"] += 1
                raise SyntaxErrorFrame(f"PN532 refused command 0x{code:02X} (error frame)")
            if want(frame):
                return frame
            self.stats["unexpected"] += 1

    def _give_up(self) -> None:
        self.stats["timeouts"] += 1
        self.stats["aborts"] += 1
        self.reader.flush()
        self._queued.clear()
        self._write(p.ACK_FRAME)  # abort whatever the PN532 may still be doing (6.2.1.3)

    def _drain(self) -> None:
        """Whatever waits on the line answers nothing we are about to ask: count and drop it."""
        try:
            waiting = self.port.in_waiting
            stale = self.port.read(waiting) if waiting else b""
        except PORT_ERRORS as exc:
            self._failed(exc)
        frames = self.reader.feed(stale) if stale else []
        self.stats["unexpected"] += len(frames) + len(self._queued)
        self._queued.clear()
        self.reader.flush()

    def _read(self) -> bytes:
        try:
            return self.port.read(max(1, self.port.in_waiting))
        except PORT_ERRORS as exc:
            self._failed(exc)
        return b""  # not reached

    def _write(self, raw: bytes) -> None:
        try:
            self.port.write(raw)
        except PORT_ERRORS as exc:
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        self.stats["port_errors"] += 1
        raise PortError(f"port error: {exc}") from exc
