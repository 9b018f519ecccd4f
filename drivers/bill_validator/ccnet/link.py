"""The CCNET serial link under the driver: send a command, wait for the answer of the right
kind, re-send on silence, garbage or a NAK, ACK every data answer, drop stale bytes, count
everything, re-open a port that failed.

CCNET manual, section 2.3 ("Transmission and reception message formats") and 2.5 ("Software
operational rules"): the device answers a command with ACK, NAK (it got a bad CRC), ILLEGAL
COMMAND, or a data block; the controller answers a data block with ACK once it has it (or NAK
when the CRC was bad, and the device sends it again).  Used only from the driver's poll thread.
"""

from __future__ import annotations

import logging
import termios
import time
from typing import Any

import serial

from drivers.bill_validator.ccnet import protocol as p

log = logging.getLogger(__name__)

LINE_SETTINGS = p.LINE
PORT_ERRORS = (serial.SerialException, OSError, TypeError, ValueError, termios.error)
STAT_KEYS = ("frames_ok", "frames_bad", "timeouts", "retries", "unexpected", "port_errors",
             "naks_received", "naks_sent", "acks_sent")


class LinkDown(Exception):
    """No valid answer after every attempt, or the port failed."""


def is_answer(frame: p.Frame, expect: str, address: int) -> bool:
    """``ack``: ACK or ILLEGAL COMMAND (a command carried out or refused); ``state``: a well
    formed POLL state; ``data:N``: a block of N bytes, ``data:0`` of any length (or ILLEGAL COMMAND)."""
    if frame.address != address or frame.cmd == p.NAK and not frame.data:
        return False
    illegal = frame.cmd == p.ILLEGAL_COMMAND and not frame.data
    if expect == "ack":
        return illegal or (frame.cmd == p.ACK and not frame.data)
    if expect == "state":
        return p.state_data_ok(frame) or illegal
    size = int(expect.partition(":")[2])  # 0: any block longer than one byte
    return illegal or len(frame.body) == size or (size == 0 and len(frame.body) > 1)


class Link:
    def __init__(self, name: str, port: Any, reply_timeout: float, stats: dict[str, int],
                 address: int = p.ADDR_BILL_VALIDATOR) -> None:
        self.name = name
        self.port = port
        self.reply_timeout = reply_timeout
        self.stats = stats
        self.address = address
        for key in STAT_KEYS:
            stats.setdefault(key, 0)
        self.broken = False
        self._reader = p.FrameReader()
        self._wire = logging.getLogger(f"{__name__}.wire.{name.replace('.', '_')}")

    def transact(self, cmd: int, data: bytes, expect: str, attempts: int) -> p.Frame:
        """Send a command and return its answer; raise LinkDown.  A data answer is *not* ACKed
        here: the caller ACKs it (:meth:`ack`) once it has acted on it, so a bill-stacked event
        is credited before the device is told it may forget it."""
        raw = p.encode(cmd, data, self.address)
        for attempt in range(attempts):
            if attempt:
                self.stats["retries"] += 1
            self._drain_stale()
            self.send(raw)
            reply = self._await(expect)
            if reply is not None:
                return reply
            self._reader.flush()  # a half-received frame is dead: the retry starts clean
            self._sync_stats()
        raise LinkDown(f"no valid answer to {raw.hex(' ').upper()} after {attempts} attempt(s)")

    def ack(self) -> None:
        self.stats["acks_sent"] += 1
        self.send(p.encode(p.ACK, b"", self.address))

    def send(self, raw: bytes) -> None:
        self._wire.debug("%s -> %s", self.name, raw.hex(" ").upper())
        try:
            self.port.write(raw)
        except PORT_ERRORS as exc:
            self._failed(exc)

    def _await(self, expect: str) -> p.Frame | None:
        deadline = time.monotonic() + self.reply_timeout
        bad_before = self._reader.frames_bad
        while time.monotonic() < deadline:
            for frame in self._feed(self._read()):
                if frame.cmd == p.NAK and not frame.data and frame.address == self.address:
                    self.stats["naks_received"] += 1  # the device got a bad CRC: send again
                    return None
                if is_answer(frame, expect, self.address):
                    return frame
                self.stats["unexpected"] += 1
                self._wire.debug("%s: unexpected frame %s dropped", self.name, frame.hex())
            if expect != "ack" and self._reader.frames_bad > bad_before and not self._reader.pending:
                # A garbled data answer: NAK it so the device repeats it (section 2.3).
                self.stats["naks_sent"] += 1
                self.send(p.encode(p.NAK, b"", self.address))
                bad_before = self._reader.frames_bad
        self.stats["timeouts"] += 1
        return None

    def _drain_stale(self) -> None:
        """Bytes already waiting answer no question we are about to ask: count, drop them."""
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
        frames = self._reader.feed(data)
        self._sync_stats()
        if self._wire.isEnabledFor(logging.DEBUG):
            for frame in frames:
                self._wire.debug("%s <- %s", self.name, frame.hex())
        return frames

    def _read(self) -> bytes:
        try:
            return self.port.read(max(1, self.port.in_waiting))
        except PORT_ERRORS as exc:
            self._failed(exc)
        return b""  # not reached

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
            self.port.open()
        except PORT_ERRORS as exc:
            raise LinkDown(f"cannot re-open port: {exc}") from exc
        self._reader.flush()
        self.broken = False
        log.info("%s: port re-opened", self.name)

    def apply_line_settings(self) -> None:
        """CCNET needs 8N1; a port opened with other settings is corrected, loudly."""
        for attr in ("baudrate", "bytesize", "parity", "stopbits"):
            want = getattr(LINE_SETTINGS, attr)
            have = getattr(self.port, attr, want)
            if have != want:
                log.warning("%s: port %s was %r; CCNET needs %r", self.name, attr, have, want)
                setattr(self.port, attr, want)
        timeout = getattr(self.port, "timeout", None)
        if timeout is None or timeout > 0.05:
            self.port.timeout = min(0.05, self.reply_timeout)
        if not self.port.is_open:
            self.broken = True  # the poll thread opens it, and reports if it cannot
