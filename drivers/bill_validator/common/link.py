"""The serial link every bill-validator protocol shares under its driver: send a frame, wait for
the answer of the right kind, send again on silence or garbage, drop stale bytes, count
everything, re-open a port that failed (docs/adding-a-protocol.md, "A bill validator").

A protocol's link subclasses :class:`SerialLink`: it gives its frame reader, says which frame
answers which question (the ``match`` callable of :meth:`SerialLink.exchange`), and adds what
only its protocol has (CCNET's ACK/NAK, eSSP's sequence flag and encryption).  Used only from
the driver's poll thread (one thread owns the port).
"""

from __future__ import annotations

import logging
import termios
import time
from typing import Any, Callable, ClassVar

import serial

from drivers.ptypair import nudge_pty

log = logging.getLogger(__name__)

#: What pyserial and the OS raise when a port goes away under us (unplugged, closed);
#: termios.error is not an OSError.
PORT_ERRORS = (serial.SerialException, OSError, TypeError, ValueError, termios.error)
#: counters every link keeps in the driver's ``stats``
STAT_KEYS = ("frames_ok", "frames_bad", "timeouts", "retries", "unexpected", "port_errors")
#: what a ``match`` returns for an answer that asks for the same command again (a NAK): the
#: attempt ends at once, without counting a timeout
RESEND = object()


class LinkDown(Exception):
    """No valid reply after every attempt, or the port failed."""


class SerialLink:
    #: the protocol's name in log lines ("ID-003")
    PROTOCOL: ClassVar[str] = "?"
    #: the counters this link keeps in ``stats``, in the order they are shown
    STATS: ClassVar[tuple[str, ...]] = STAT_KEYS
    #: reader counters copied into ``stats`` after every read
    READER_STATS: ClassVar[tuple[str, ...]] = ("frames_ok", "frames_bad")
    #: how a LinkDown names what came back ("reply" or "answer", the manual's word)
    ANSWER: ClassVar[str] = "reply"

    def __init__(self, name: str, port: Any, reply_timeout: float, stats: dict[str, int],
                 line_settings: Any, reader: Any) -> None:
        self.name = name
        self.port = port
        self.reply_timeout = reply_timeout
        self.stats = stats
        self.line_settings = line_settings
        for key in self.STATS:
            stats.setdefault(key, 0)
        self.broken = False
        self._reader = reader
        self._wire = logging.getLogger(f"{type(self).__module__}.wire.{name.replace('.', '_')}")

    # ------------------------------------------------------------ one question, one answer
    def exchange(self, raw: bytes, attempts: int, match: Callable[[Any], Any],
                 what: str | None = None, garbled: Callable[[], None] | None = None) -> Any:
        """Send ``raw`` and return the first frame ``match`` accepts; raise LinkDown after
        ``attempts`` sends.  ``garbled`` (if given) is called when a damaged frame arrived and
        nothing more is pending (CCNET NAKs it so the device repeats it)."""
        for attempt in range(attempts):
            if attempt:
                self.stats["retries"] += 1
            self._drain_stale()
            self.send(raw)
            reply = self._await(match, garbled)
            if reply is not None:
                return reply
            self._reader.flush()  # a half-received frame is dead: the retry starts clean
            self._sync_stats()
        what = what or raw.hex(" ").upper()
        raise LinkDown(f"no valid {self.ANSWER} to {what} after {attempts} attempt(s)")

    def send(self, raw: bytes) -> None:
        self._wire.debug("%s -> %s", self.name, raw.hex(" ").upper())
        try:
            self.port.write(raw)
        except PORT_ERRORS as exc:
            self._failed(exc)

    def _await(self, match: Callable[[Any], Any], garbled: Callable[[], None] | None) -> Any:
        deadline = time.monotonic() + self.reply_timeout
        bad_before = self._reader.frames_bad
        while time.monotonic() < deadline:
            for frame in self._feed(self._read()):
                verdict = match(frame)
                if verdict is RESEND:
                    return None
                if verdict:
                    return frame
                self.stats["unexpected"] += 1
                self._wire.debug("%s: unexpected frame %s dropped", self.name,
                                 self.frame_text(frame))
            if garbled is not None and self._reader.frames_bad > bad_before \
                    and not self._reader.pending:
                garbled()
                bad_before = self._reader.frames_bad
        self.stats["timeouts"] += 1
        return None

    def frame_text(self, frame: Any) -> str:
        """A received frame for the wire log."""
        return frame.hex()

    # ------------------------------------------------------------ bytes
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
            self._wire.debug("%s: stale frame %s dropped", self.name, self.frame_text(frame))
        self._reader.flush()
        self._sync_stats()

    def _feed(self, data: bytes) -> list[Any]:
        if not data:
            return []
        dropped = self._reader.bytes_dropped
        frames = self._reader.feed(data)
        self._sync_stats()
        if self._wire.isEnabledFor(logging.DEBUG):  # one line per frame, whatever the chunking
            for frame in frames:
                self._wire.debug("%s <- %s", self.name, self.frame_text(frame))
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
        for key in self.READER_STATS:
            self.stats[key] = getattr(self._reader, key)

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
        """The protocol's line settings; a port opened with others is corrected, loudly."""
        for attr in ("baudrate", "bytesize", "parity", "stopbits"):
            want = getattr(self.line_settings, attr)
            have = getattr(self.port, attr, want)
            if have != want:
                log.warning("%s: port %s was %r; %s needs %r", self.name, attr, have,
                            self.PROTOCOL, want)
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
