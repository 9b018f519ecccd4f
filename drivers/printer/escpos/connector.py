"""python-escpos on a port we opened: an ``Escpos`` subclass whose ``_raw``/``_read`` use the
pyserial object handed to it (python-escpos's own ``Serial`` opens the port itself and cannot take
a URL, a pty or a ``spy://`` wire dump)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

import serial
from escpos.escpos import Escpos

from drivers.errors import PortError

log = logging.getLogger(__name__)

#: longest single blocking read while waiting for a status byte (seconds)
_READ_SLICE = 0.05


class PortEscpos(Escpos):
    """ESC/POS commands over ``port``.  ``_read`` waits at most ``read_timeout`` for the one byte
    a DLE EOT request is answered with and returns b"" on silence, so callers can tell
    "no answer" from an answer (python-escpos's ``paper_status`` cannot)."""

    def __init__(
        self, port: serial.SerialBase, read_timeout: float = 0.3, profile: str | None = None
    ):
        super().__init__(profile=profile)
        self.port = port
        self.read_timeout = read_timeout
        # A port opened with timeout=None would block forever on read: bound each read.
        if port.timeout is None or port.timeout > _READ_SLICE:
            port.timeout = _READ_SLICE
        self._batch: bytearray | None = None
        #: bytes the last ``batch()`` wrote (how much may still be on its way to the printer)
        self.last_batch_bytes = 0
        #: added to the deadline of the next status read only (then reset)
        self.extra_wait = 0.0
        # Setting the device stops Escpos.device from calling open() lazily.
        self.device = port

    def open(self) -> None:  # the port is already open; we do not own its life cycle
        pass

    def close(self) -> None:  # Escpos.__del__ calls close(); the port belongs to our caller
        pass

    def send(self, data: bytes) -> None:
        """Bytes for which python-escpos has no command (FS & / FS . Kanji mode, GB18030 text
        written as is), in order with everything else and inside the current ``batch()``."""
        self._raw(data)

    def reset(self) -> None:
        """ESC @ (Epson ESC/POS reference: "Initialize printer"): clears the buffer and the
        modes, and puts the printer back on its default code page -- so the code page
        python-escpos believes is active is forgotten, and the next text selects its own."""
        self.hw("INIT")
        self.magic.encoding = None

    def _raw(self, msg: bytes) -> None:
        if self._batch is not None:
            self._batch += msg
            return
        self._write(bytes(msg))

    def _write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"printer write failed: {exc}") from exc

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Collect everything written in the block and send it in one write at the end (a whole
        receipt arrives together; nothing is sent if the block raises)."""
        self._batch = bytearray()
        try:
            yield
            data = bytes(self._batch)
        finally:
            self._batch = None
        self._write(data)
        self.last_batch_bytes = len(data)

    def transmit_time(self, nbytes: int) -> float:
        """Seconds ``nbytes`` take on the wire at the port's line settings (start bit, data
        bits, parity, stop bits per character).  0 when the port has no baud rate."""
        baud = getattr(self.port, "baudrate", None) or 0
        if baud <= 0:
            return 0.0
        parity = 0 if getattr(self.port, "parity", serial.PARITY_NONE) == serial.PARITY_NONE else 1
        bits = 1 + int(getattr(self.port, "bytesize", 8) or 8) + parity
        bits += float(getattr(self.port, "stopbits", 1) or 1)
        return nbytes * bits / baud

    def _read(self) -> bytes:
        """One status byte, or b"" when nothing came within ``read_timeout`` (plus the one-off
        ``extra_wait`` a caller set for this read)."""
        extra, self.extra_wait = self.extra_wait, 0.0
        deadline = time.monotonic() + self.read_timeout + extra
        try:
            while True:
                got = self.port.read(1)
                if got:
                    return bytes(got)
                if time.monotonic() >= deadline:
                    return b""
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"printer read failed: {exc}") from exc

    def drain_input(self) -> int:
        """Throw away bytes already waiting (noise, a late answer to an earlier request), so the
        next byte read is the answer to the next request.  Returns how many were discarded."""
        dropped = 0
        try:
            self.port.reset_input_buffer()
            while self.port.in_waiting:
                dropped += len(self.port.read(self.port.in_waiting))
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"printer port lost: {exc}") from exc
        if dropped:
            log.debug("drained %d stale byte(s) from the printer line", dropped)
        return dropped

    def settle(self, quiet: float, limit: float) -> int:
        """Discard input until the line has been quiet for ``quiet`` seconds (at most ``limit``):
        after a request went unanswered its answer may still be on the way, and taken for the
        answer to the next request it would shift every status byte by one."""
        start = last = time.monotonic()
        dropped = self.drain_input()
        try:
            while True:
                now = time.monotonic()
                if now - last >= quiet or now - start >= limit:
                    return dropped
                got = self.port.read(1)
                if got:
                    dropped += len(got)
                    last = time.monotonic()
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"printer read failed: {exc}") from exc

    def wait_sent(self) -> None:
        """Block until the written bytes have left the port (tcdrain)."""
        try:
            self.port.flush()
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"printer port lost: {exc}") from exc
