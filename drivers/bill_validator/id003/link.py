"""The ID-003 serial link under the driver: send a frame, wait for the reply of the right kind,
retry on silence or garbage, drop stale bytes, count everything, re-open a port that failed.

Used only from the driver's poll thread (one thread owns the port).
"""

from __future__ import annotations

import logging
import termios
import time
from typing import Any

import serial

from drivers.bill_validator.id003 import protocol as p
from drivers.ptypair import nudge_pty

log = logging.getLogger(__name__)

LINE_SETTINGS = p.LINE

#: What pyserial and the OS raise when a port goes away under us (unplugged, closed);
#: termios.error is not an OSError.
PORT_ERRORS = (serial.SerialException, OSError, TypeError, ValueError, termios.error)
STAT_KEYS = ("frames_ok", "frames_bad", "timeouts", "retries", "unexpected", "port_errors")


class LinkDown(Exception):
    """No valid reply after every attempt, or the port failed."""


def is_reply(frame: p.Frame, sent: bytes, expect: str) -> bool:
    """Whether ``frame`` answers ``sent``: any well-formed status for a status request, ACK
    for an operation command, the echo for a setting command, the same command code with data
    for a read request (setting status, version); INVALID COMMAND for any but the first."""
    if expect == "status":
        if frame.cmd == p.ACK or frame.cmd in p.SETTING_COMMANDS:
            return False
        return p.status_data_ok(frame)
    if frame.cmd == p.INVALID_COMMAND and not frame.data:
        return True
    if expect == "ack":
        return frame.cmd == p.ACK and not frame.data
    if expect == "read":
        return frame.cmd == sent[2] and bool(frame.data)
    return frame.encode() == sent


class Link:
    def __init__(self, name: str, port: Any, reply_timeout: float, stats: dict[str, int]) -> None:
        self.name = name
        self.port = port
        self.reply_timeout = reply_timeout
        self.stats = stats
        for key in STAT_KEYS:
            stats.setdefault(key, 0)
        self.broken = False
        self._reader = p.FrameReader()
        self._wire = logging.getLogger(f"{__name__}.wire.{name.replace('.', '_')}")

    def transact(self, raw: bytes, expect: str, attempts: int) -> p.Frame:
        """Send ``raw`` and return the first reply of the ``expect`` kind; raise LinkDown."""
        for attempt in range(attempts):
            if attempt:
                self.stats["retries"] += 1
            self._drain_stale()
            self.send(raw)
            reply = self._await_reply(raw, expect)
            if reply is not None:
                return reply
            self.stats["timeouts"] += 1
            self._reader.flush()  # a half-received frame is dead: the retry starts clean
            self._sync_stats()
        raise LinkDown(f"no valid reply to {raw.hex(' ').upper()} after {attempts} attempt(s)")

    def send(self, raw: bytes) -> None:
        self._wire.debug("%s -> %s", self.name, raw.hex(" ").upper())
        try:
            self.port.write(raw)
        except PORT_ERRORS as exc:
            self._failed(exc)

    def _await_reply(self, sent: bytes, expect: str) -> p.Frame | None:
        deadline = time.monotonic() + self.reply_timeout
        while time.monotonic() < deadline:
            for frame in self._feed(self._read()):
                if is_reply(frame, sent, expect):
                    return frame
                self.stats["unexpected"] += 1
                self._wire.debug("%s: unexpected frame %s dropped", self.name, frame.hex())
        return None

    def _drain_stale(self) -> None:
        """Bytes already waiting answer no question we are about to ask (a late reply to an
        earlier attempt, line noise): count them and drop them."""
        try:
            waiting = self.port.in_waiting
            stale = self.port.read(waiting) if waiting else b""
        except PORT_ERRORS as exc:
            self._failed(exc)
        for frame in self._feed(stale):
            self.stats["unexpected"] += 1
            self._wire.debug("%s: stale frame %s dropped", self.name, frame.hex())
        self._reader.flush()
        self._sync_stats()

    def _feed(self, data: bytes) -> list[p.Frame]:
        if not data:
            return []
        dropped = self._reader.bytes_dropped
        frames = self._reader.feed(data)
        self._sync_stats()
        if self._wire.isEnabledFor(logging.DEBUG):  # one line per frame, whatever the chunking
            for frame in frames:
                self._wire.debug("%s <- %s", self.name, frame.hex())
            if self._reader.bytes_dropped > dropped:
                self._wire.debug("%s <- %d bad bytes dropped (chunk %s)", self.name,
                                 self._reader.bytes_dropped - dropped, data.hex(" ").upper())
        return frames

    def _read(self) -> bytes:
        try:
            return self.port.read(max(1, self.port.in_waiting))
        except PORT_ERRORS as exc:
            self._failed(exc)
        return b""  # not reached: _failed raises

    def _failed(self, exc: BaseException) -> None:
        self.stats["port_errors"] += 1
        self.broken = True
        raise LinkDown(f"port error: {exc}") from exc

    def _sync_stats(self) -> None:
        self.stats["frames_ok"] = self._reader.frames_ok
        self.stats["frames_bad"] = self._reader.frames_bad

    # ------------------------------------------------------------ port set-up
    def reopen(self) -> None:
        try:
            if self.port.is_open:
                self.port.close()
            nudge_pty(getattr(self.port, "port", None))
            self.port.open()
        except PORT_ERRORS as exc:
            raise LinkDown(f"cannot re-open port: {exc}") from exc
        self._reader.flush()
        self.broken = False
        log.info("%s: port re-opened", self.name)

    def apply_line_settings(self) -> None:
        """ID-003 needs 8E1; a port opened with other settings is corrected, loudly."""
        for attr in ("baudrate", "bytesize", "parity", "stopbits"):
            want = getattr(LINE_SETTINGS, attr)
            have = getattr(self.port, attr, want)
            if have != want:
                log.warning("%s: port %s was %r; ID-003 needs %r", self.name, attr, have, want)
                self._configure(attr, want)
        # Reads must come back often enough to honour reply_timeout and stop().
        timeout = getattr(self.port, "timeout", None)
        if timeout is None or timeout > 0.05:
            self._configure("timeout", min(0.05, self.reply_timeout))
        if not self.port.is_open:
            self.broken = True  # the poll thread opens it, and reports if it cannot

    def _configure(self, attr: str, value: Any) -> None:
        try:
            setattr(self.port, attr, value)
        except termios.error:
            if not nudge_pty(getattr(self.port, "port", None)):
                raise
            setattr(self.port, attr, value)
