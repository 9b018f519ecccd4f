"""The eSSP serial link under the driver: sequence flag, resend on silence, the encryption
session, stale-byte draining, counters, re-opening a port that failed.

Sequence rule (SSP protocol manual GA138, "Transport Layer"): the host toggles the sequence
flag for every new command and keeps it for a resend; the slave answers a resend with its last
reply without acting on it twice.  SYNC resets it: SYNC goes out with the flag set, so the
next new command carries it clear.  Used only from the driver's poll thread.
"""

from __future__ import annotations

import logging
import termios
import time
from typing import Any

import serial

from drivers.bill_validator.essp import protocol as p
from drivers.bill_validator.essp.crypto import CryptoError, Session
from drivers.ptypair import nudge_pty

log = logging.getLogger(__name__)

LINE_SETTINGS = p.LINE
PORT_ERRORS = (serial.SerialException, OSError, TypeError, ValueError, termios.error)
STAT_KEYS = ("frames_ok", "frames_bad", "stuffing_errors", "bytes_dropped", "timeouts",
             "retries", "unexpected", "port_errors", "crypto_refused", "replays_refused")


class LinkDown(Exception):
    """No valid reply after every attempt, or the port failed."""


class EncryptionRefused(Exception):
    """A reply that must not be believed (wrong key, replayed counter, plaintext where an
    encrypted answer is due).  Never retried: the session is re-keyed."""


class KeyLost(Exception):
    """The slave answers KEY_NOT_SET: it reset and forgot the key."""


class Link:
    def __init__(self, name: str, port: Any, address: int, reply_timeout: float,
                 stats: dict[str, int]) -> None:
        self.name = name
        self.port = port
        self.address = address
        self.reply_timeout = reply_timeout
        self.stats = stats
        for key in STAT_KEYS:
            stats.setdefault(key, 0)
        self.broken = False
        self.session: Session | None = None
        self._seq = True  # the flag of the last command sent
        self._reader = p.PacketReader()
        self._wire = logging.getLogger(f"{__name__}.wire.{name.replace('.', '_')}")

    # ------------------------------------------------------------ commands
    def sync(self, attempts: int) -> bytes:
        self._seq = False  # so that SYNC itself goes out with the flag set
        self.session = None
        return self.command(bytes([p.SYNC]), attempts, encrypt=False)

    def command(self, data: bytes, attempts: int, encrypt: bool | None = None) -> bytes:
        """Send one command (encrypted once a session exists, unless ``encrypt`` says) and
        return the reply's plain data.  A resend is the same bytes with the same flag."""
        session = self.session if encrypt is not False else None
        self._seq = not self._seq
        payload = session.wrap(data) if session is not None else data
        raw = p.encode(self._seq, self.address, payload)
        for attempt in range(attempts):
            if attempt:
                self.stats["retries"] += 1
            self._drain_stale()
            self._send(raw)
            reply = self._await_reply()
            if reply is not None:
                return self._open(reply, session)
            self.stats["timeouts"] += 1
            self._reader.flush()
            self._sync_stats()
        name = p.COMMAND_NAMES.get(data[0], f"0x{data[0]:02X}")
        raise LinkDown(f"no valid reply to {name} after {attempts} attempt(s)")

    def _open(self, reply: p.Packet, session: Session | None) -> bytes:
        data = reply.data
        if session is None:
            if data[0] == p.STEX:
                self.stats["crypto_refused"] += 1
                raise EncryptionRefused("encrypted reply to a plain command")
            return data
        if data[0] != p.STEX:
            if data == bytes([p.KEY_NOT_SET]):
                raise KeyLost("validator answers KEY_NOT_SET")
            self.stats["crypto_refused"] += 1
            raise EncryptionRefused("plain reply to an encrypted command")
        try:
            return session.unwrap(data)
        except CryptoError as exc:
            key = "replays_refused" if "eCOUNT" in str(exc) else "crypto_refused"
            self.stats[key] += 1
            raise EncryptionRefused(str(exc)) from exc

    # ------------------------------------------------------------ bytes
    def _send(self, raw: bytes) -> None:
        self._wire.debug("%s -> %s", self.name, raw.hex(" ").upper())
        try:
            self.port.write(raw)
        except PORT_ERRORS as exc:
            self._failed(exc)

    def _await_reply(self) -> p.Packet | None:
        deadline = time.monotonic() + self.reply_timeout
        while time.monotonic() < deadline:
            for packet in self._feed(self._read()):
                if packet.seq == self._seq and packet.address == self.address:
                    return packet
                self.stats["unexpected"] += 1
        return None

    def _drain_stale(self) -> None:
        try:
            waiting = self.port.in_waiting
            stale = self.port.read(waiting) if waiting else b""
        except PORT_ERRORS as exc:
            self._failed(exc)
        self.stats["unexpected"] += len(self._feed(stale))
        self._reader.flush()
        self._sync_stats()

    def _feed(self, data: bytes) -> list[p.Packet]:
        if not data:
            return []
        packets = self._reader.feed(data)
        self._sync_stats()
        for packet in packets:
            self._wire.debug("%s <- %s", self.name, packet.encode().hex(" ").upper())
        return packets

    def _read(self) -> bytes:
        try:
            return self.port.read(max(1, self.port.in_waiting))
        except PORT_ERRORS as exc:
            self._failed(exc)
        return b""

    def _failed(self, exc: BaseException) -> None:
        self.stats["port_errors"] += 1
        self.broken = True
        raise LinkDown(f"port error: {exc}") from exc

    def _sync_stats(self) -> None:
        r = self._reader
        self.stats["frames_ok"], self.stats["frames_bad"] = r.frames_ok, r.frames_bad
        self.stats["stuffing_errors"], self.stats["bytes_dropped"] = (r.stuffing_errors,
                                                                      r.bytes_dropped)

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
        """eSSP needs 8N2; a port opened otherwise is corrected, loudly."""
        for attr in ("baudrate", "bytesize", "parity", "stopbits"):
            want = getattr(LINE_SETTINGS, attr)
            have = getattr(self.port, attr, want)
            if have != want:
                log.warning("%s: port %s was %r; eSSP needs %r", self.name, attr, have, want)
                self._configure(attr, want)
        timeout = getattr(self.port, "timeout", None)
        if timeout is None or timeout > 0.05:
            self._configure("timeout", min(0.05, self.reply_timeout))
        if not self.port.is_open:
            self.broken = True

    def _configure(self, attr: str, value: Any) -> None:
        try:
            setattr(self.port, attr, value)
        except termios.error:
            if not nudge_pty(getattr(self.port, "port", None)):
                raise
            setattr(self.port, attr, value)
