"""A MIFARE Classic 1K card as the simulator keeps it: 16 sectors of 4 blocks of 16 bytes; the
last block of each sector (the trailer) holds key A, the access bits and key B (MIFARE Classic
1K datasheet, memory organisation).

Simplified access conditions (the simulator's model, not the card's full matrix): every trailer
starts in the transport configuration (keys FF..FF, access bytes FF 07 80 69) and the access
bits are stored but not interpreted: key A or key B of the sector authenticates, and once
authenticated every block of that sector may be read and written, the trailer too (as the
transport configuration allows with key A) -- so nothing but the driver's own refusal keeps a
trailer safe.  Block 0 (UID and manufacturer data) is read-only.  Reading a trailer returns key
A as zeros (key A is never readable) and the rest as stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers.card_reader.pn532 import protocol as p

TRANSPORT_KEY = b"\xff" * 6
TRANSPORT_ACCESS = bytes.fromhex("FF078069")
SAK_CLASSIC_1K = 0x08


def _block0(uid: bytes) -> bytes:
    if len(uid) == 4:
        bcc = uid[0] ^ uid[1] ^ uid[2] ^ uid[3]
        head = uid + bytes([bcc, SAK_CLASSIC_1K, 0x04, 0x00])
    else:
        head = uid + bytes([SAK_CLASSIC_1K])
    return (head + b"SIMPN532" + b"\x00" * 16)[:16]


@dataclass
class Classic1K:
    uid: bytes
    blocks: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.uid) not in (4, 7):
            raise ValueError(f"a MIFARE Classic UID is 4 or 7 bytes, got {len(self.uid)}")
        if not self.blocks:
            self.blocks = [b"\x00" * 16 for _ in range(p.BLOCKS_1K)]
            self.blocks[0] = _block0(self.uid)
            for sector in range(16):
                self.blocks[sector * 4 + 3] = TRANSPORT_KEY + TRANSPORT_ACCESS + TRANSPORT_KEY
        if len(self.blocks) != p.BLOCKS_1K or any(len(b) != 16 for b in self.blocks):
            raise ValueError("a MIFARE Classic 1K holds 64 blocks of 16 bytes")

    @property
    def uid_hex(self) -> str:
        return self.uid.hex().upper()

    @property
    def sens_res(self) -> bytes:
        """ATQA as InListPassiveTarget reports it: single-size UID 00 04, double-size 00 44."""
        return b"\x00\x04" if len(self.uid) == 4 else b"\x00\x44"

    def trailer(self, sector: int) -> bytes:
        return self.blocks[sector * 4 + 3]

    def key_matches(self, sector: int, key_type: str, key: bytes) -> bool:
        t = self.trailer(sector)
        return (t[:6] if key_type == "A" else t[10:]) == key

    def set_keys(self, sector: int, key_a: bytes, key_b: bytes) -> None:
        if len(key_a) != 6 or len(key_b) != 6:
            raise ValueError("keys are 6 bytes")
        t = self.trailer(sector)
        self.blocks[sector * 4 + 3] = key_a + t[6:10] + key_b

    def read(self, block: int) -> bytes:
        data = self.blocks[block]
        if p.is_sector_trailer(block):
            return b"\x00" * 6 + data[6:]
        return data

    def to_json(self) -> list[str]:
        return [b.hex().upper() for b in self.blocks]

    @classmethod
    def from_json(cls, uid_hex: str, blocks: list[str]) -> Classic1K:
        return cls(bytes.fromhex(uid_hex), [bytes.fromhex(b) for b in blocks])
