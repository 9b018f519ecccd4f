"""Framing ID-003 and CCNET share: a SYNC byte, a length byte (LNG, the whole frame) at a fixed
offset, and a CRC-16/KERMIT low byte first at the end (ID-003 specification, "frame format";
CCNET manual, section 2.2).  Pure: no I/O.  Each protocol module gives its SYNC, the LNG
offset, its length limits and how the checked bytes become its Frame.
"""

from __future__ import annotations

from typing import Any, Callable

from drivers.errors import FrameError


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc16_kermit(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/KERMIT: poly 0x1021 reflected (0x8408), init 0, no final xor. Check 0x2189."""
    crc = 0
    for byte in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc


def crc_ok(raw: bytes | bytearray, length: int) -> bool:
    """Whether the first ``length`` bytes of ``raw`` end in their own CRC."""
    return crc16_kermit(raw[: length - 2]) == raw[length - 2] | (raw[length - 1] << 8)


class Framing:
    """One protocol's frame shape: ``sync``, LNG at ``length_at``, LNG within
    ``min_len``..``max_len``, ``make(frame_bytes)`` building its Frame."""

    def __init__(self, sync: int, length_at: int, min_len: int, max_len: int,
                 make: Callable[[bytes], Any]) -> None:
        self.sync = sync
        self.length_at = length_at
        self.min_len = min_len
        self.max_len = max_len
        self.make = make

    def decode(self, raw: bytes | bytearray | memoryview) -> Any:
        """Exactly one whole frame → the protocol's Frame; anything else raises FrameError."""
        try:
            raw = bytes(raw)
        except (TypeError, ValueError) as exc:
            raise FrameError(f"not bytes: {exc}") from None
        if len(raw) < self.min_len:
            raise FrameError(f"truncated: {len(raw)} bytes")
        if raw[0] != self.sync:
            raise FrameError(f"no SYNC: first byte 0x{raw[0]:02X}")
        length = raw[self.length_at]
        if not self.min_len <= length <= self.max_len:
            raise FrameError(f"length byte {length} out of range")
        if len(raw) != length:
            raise FrameError(f"length byte says {length}, got {len(raw)} bytes")
        if not crc_ok(raw, length):
            raise FrameError("CRC mismatch")
        return self.make(raw)


class FrameReader:
    """Cuts a byte stream into valid frames.  Garbage, bad CRCs, impossible lengths and
    truncated frames are dropped; the reader resynchronises on the next SYNC that starts a
    valid frame.  ``frames_bad`` counts each dropped frame candidate (a SYNC that did not start
    a valid frame) and each run of garbage that does not follow one."""

    framing: Framing  # set by the protocol's subclass

    def __init__(self) -> None:
        self._buf = bytearray()
        self._dropping = False
        self.frames_ok = 0
        self.frames_bad = 0
        self.bytes_dropped = 0

    @property
    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes | bytearray) -> list[Any]:
        f = self.framing
        self._buf += data
        out: list[Any] = []
        buf = self._buf
        while buf:
            if buf[0] != f.sync:
                at = buf.find(f.sync)
                self._drop(len(buf) if at < 0 else at, candidate=False)
                continue
            if len(buf) <= f.length_at:
                break
            length = buf[f.length_at]
            if not f.min_len <= length <= f.max_len:
                self._drop(1)
                continue
            if len(buf) < length:
                # Maybe this SYNC was noise and a complete frame already sits behind it.
                later = self._later_valid_frame()
                if later is None:
                    break
                self._drop(later)
                continue
            if not crc_ok(buf, length):
                self._drop(1)
                continue
            out.append(f.make(bytes(buf[:length])))
            del buf[:length]
            self.frames_ok += 1
            self._dropping = False
        return out

    def flush(self) -> None:
        """Discard a partial frame (the reply timed out: whatever is half-received is dead)."""
        if self._buf:
            self._drop(len(self._buf), candidate=self._buf[0] == self.framing.sync)

    def _later_valid_frame(self) -> int | None:
        f, buf = self.framing, self._buf
        at = buf.find(f.sync, 1)
        while at >= 0:
            if len(buf) - at >= f.min_len:
                length = buf[at + f.length_at]
                fits = f.min_len <= length <= min(f.max_len, len(buf) - at)
                if fits and crc_ok(buf[at:], length):
                    return at
            at = buf.find(f.sync, at + 1)
        return None

    def _drop(self, count: int, candidate: bool = True) -> None:
        del self._buf[:count]
        self.bytes_dropped += count
        if candidate or not self._dropping:  # garbage right after a bad frame is its tail
            self.frames_bad += 1
        self._dropping = True
