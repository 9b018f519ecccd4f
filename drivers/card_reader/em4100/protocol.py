"""EM4100 / RDM6300-style reader output: STX + 10 ASCII hex (version byte + 32-bit tag, big-endian)
+ 2 ASCII hex XOR checksum of the 5 data bytes + ETX, repeated while a card is in the field.

Pure: strict single-frame codec and a stream decoder that resynchronises on the next STX.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.errors import FrameError

STX = 0x02
ETX = 0x03
DATA_CHARS = 10  # 5 bytes as hex: version + 4-byte tag
CHECK_CHARS = 2
FRAME_LEN = 1 + DATA_CHARS + CHECK_CHARS + 1
#: The readers send upper-case hex only; accepting nothing else narrows what noise can pass as.
HEX_DIGITS = frozenset(b"0123456789ABCDEF")


@dataclass(frozen=True)
class CardId:
    version: int  # customer/version byte
    tag: int  # 32-bit tag number

    def __post_init__(self) -> None:
        if not 0 <= self.version <= 0xFF or not 0 <= self.tag <= 0xFFFFFFFF:
            raise ValueError(f"card id out of range: version {self.version}, tag {self.tag}")

    @property
    def uid(self) -> str:
        """10 upper-case hex characters, the form the rest of the terminal uses."""
        return f"{self.version:02X}{self.tag:08X}"

    @property
    def data(self) -> bytes:
        return bytes([self.version]) + self.tag.to_bytes(4, "big")

    @classmethod
    def from_uid(cls, uid: str) -> CardId:
        """Parse a 10-hex-character card id (any case).  Bad input raises ValueError."""
        text = uid.strip().upper()
        if len(text) != DATA_CHARS or any(ord(c) not in HEX_DIGITS for c in text):
            raise ValueError(f"a card id is {DATA_CHARS} hex characters, got {uid!r}")
        raw = bytes.fromhex(text)
        return cls(raw[0], int.from_bytes(raw[1:], "big"))


def checksum(data: bytes) -> int:
    """XOR of the 5 data bytes."""
    out = 0
    for byte in data:
        out ^= byte
    return out


def encode_frame(card: CardId) -> bytes:
    body = card.data.hex().upper() + f"{checksum(card.data):02X}"
    return bytes([STX]) + body.encode("ascii") + bytes([ETX])


def decode_frame(raw: bytes) -> CardId:
    """Exactly one frame → CardId; anything else raises FrameError."""
    raw = bytes(raw)
    if len(raw) != FRAME_LEN:
        raise FrameError(f"frame must be {FRAME_LEN} bytes, got {len(raw)}")
    if raw[0] != STX or raw[-1] != ETX:
        raise FrameError("missing STX/ETX")
    body = raw[1:-1]
    if any(b not in HEX_DIGITS for b in body):
        raise FrameError("non-hex character in frame")
    data = bytes.fromhex(body[:DATA_CHARS].decode("ascii"))
    if checksum(data) != int(body[DATA_CHARS:], 16):
        raise FrameError("bad checksum")
    return CardId(data[0], int.from_bytes(data[1:], "big"))


class FrameDecoder:
    """Byte stream → card ids.  Every STX starts a frame afresh (resync); a frame that breaks
    off, holds a non-hex byte, lacks its ETX or fails the checksum is dropped and counted."""

    def __init__(self) -> None:
        self._buf: bytearray | None = None  # None: idle, waiting for STX
        self.stats = {"frames": 0, "bad_checksum": 0, "malformed": 0, "garbage_bytes": 0}

    def feed(self, data: bytes) -> list[CardId]:
        cards: list[CardId] = []
        for b in data:
            if b == STX:
                if self._buf is not None:
                    self.stats["malformed"] += 1  # a frame broke off: resync here
                self._buf = bytearray([b])
            elif self._buf is None:
                self.stats["garbage_bytes"] += 1
            elif len(self._buf) < FRAME_LEN - 1:
                if b in HEX_DIGITS:
                    self._buf.append(b)
                else:
                    self.stats["malformed"] += 1
                    self._buf = None
            else:
                self._buf.append(b)
                raw, self._buf = bytes(self._buf), None
                if b != ETX:
                    self.stats["malformed"] += 1
                    continue
                try:
                    cards.append(decode_frame(raw))
                except FrameError:
                    self.stats["bad_checksum"] += 1
                    continue
                self.stats["frames"] += 1
        return cards


def mask_uid(uid: str) -> str:
    """For logs: keep the last 4 characters only."""
    return "*" * max(0, len(uid) - 4) + uid[-4:]
