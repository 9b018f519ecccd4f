"""The prepaid purchase as it lies on a MIFARE Classic 1K card, and how the next one goes on
safely (docs/prepaid.md, "Card layout"). Pure: bytes in, bytes and decisions out.

Two record slots of two blocks each and one slot pointer block, all data blocks of sectors 1
and 2 (a sector trailer -- block 4n+3 -- holds the keys and access bits and is never written,
nor is block 0, the manufacturer block: MIFARE Classic 1K datasheet, memory organisation):

    slot 0: blocks 4, 5      slot 1: blocks 8, 9      pointer: block 6

A record is ``seq | purchase_no | units | cumulative`` (four big-endian uint32, block A) and
``"PP" | version | key_id | mac[8] | crc32`` (block B). ``units`` and ``cumulative`` are in
0.01 kWh; ``cumulative`` is every unit ever bought on this card, so a meter that missed a
purchase (two bought before one visit to the meter) still credits both. The MAC is the
utility's (the meter checks it, the kiosk only carries it); the CRC-32 over block A and the
first 12 bytes of block B is the kiosk's tear detector: a block left half old, half new fails
it. The pointer names the slot written last; a reader trusts the CRCs, not the pointer: the
valid record with the highest sequence is the card's purchase.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

BLOCK = 16
SLOTS: tuple[tuple[int, int], ...] = ((4, 5), (8, 9))
POINTER_BLOCK = 6
RECORD_MAGIC = b"PP"
POINTER_MAGIC = b"PT"
VERSION = 1
MAC_BYTES = 8
U32_MAX = 0xFFFFFFFF


def is_trailer(block: int) -> bool:
    return block % 4 == 3


def _check_layout() -> None:
    blocks = [b for slot in SLOTS for b in slot] + [POINTER_BLOCK]
    if len(set(blocks)) != len(blocks) or any(b == 0 or is_trailer(b) for b in blocks):
        raise AssertionError("the prepaid layout must use distinct data blocks only")


_check_layout()


@dataclass(frozen=True)
class PurchaseToken:
    """What the utility issued for one paid purchase (docs/billing-api.yaml, PrepaidToken)."""

    purchase_no: int
    sequence: int
    units: int  # 0.01 kWh
    cumulative: int  # 0.01 kWh, every unit bought on this card including this purchase
    key_id: int
    mac: bytes

    def __post_init__(self) -> None:
        for name in ("purchase_no", "sequence", "units", "cumulative"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value <= U32_MAX:
                raise ValueError(f"{name} must be an integer 0..{U32_MAX}")
        if self.sequence < 1 or self.purchase_no < 1:
            raise ValueError("sequence and purchase_no start at 1")
        if type(self.key_id) is not int or not 0 <= self.key_id <= 255:
            raise ValueError("key_id is one byte")
        if not isinstance(self.mac, bytes) or len(self.mac) != MAC_BYTES:
            raise ValueError(f"the MAC is {MAC_BYTES} bytes")


@dataclass(frozen=True)
class CardState:
    """What the card holds: each slot's record (None: empty or torn) and the pointer."""

    records: tuple[PurchaseToken | None, PurchaseToken | None]
    pointer: int | None  # the slot the pointer names (None: torn or never written)

    @property
    def current_slot(self) -> int | None:
        valid = [(r.sequence, i) for i, r in enumerate(self.records) if r is not None]
        return max(valid)[1] if valid else None

    @property
    def current(self) -> PurchaseToken | None:
        slot = self.current_slot
        return None if slot is None else self.records[slot]

    @property
    def spare_slot(self) -> int:
        """Where the next record goes: never the slot holding the card's purchase."""
        slot = self.current_slot
        return 0 if slot is None else 1 - slot


def _crc(data: bytes) -> bytes:
    return struct.pack(">I", zlib.crc32(data) & 0xFFFFFFFF)


def encode_record(t: PurchaseToken) -> tuple[bytes, bytes]:
    a = struct.pack(">IIII", t.sequence, t.purchase_no, t.units, t.cumulative)
    head = RECORD_MAGIC + bytes([VERSION, t.key_id]) + t.mac
    return a, head + _crc(a + head)


def decode_record(a: bytes, b: bytes) -> PurchaseToken | None:
    """The record, or None when the slot is empty, torn or not ours."""
    if len(a) != BLOCK or len(b) != BLOCK or b[:2] != RECORD_MAGIC or b[2] != VERSION:
        return None
    if _crc(a + b[:12]) != b[12:]:
        return None
    seq, purchase_no, units, cumulative = struct.unpack(">IIII", a)
    try:
        return PurchaseToken(purchase_no, seq, units, cumulative, b[3], bytes(b[4:12]))
    except ValueError:
        return None


def encode_pointer(slot: int, t: PurchaseToken) -> bytes:
    if slot not in (0, 1):
        raise ValueError("slot is 0 or 1")
    head = POINTER_MAGIC + bytes([VERSION, slot]) + struct.pack(">II", t.sequence, t.purchase_no)
    return head + _crc(head)


def decode_pointer(data: bytes) -> int | None:
    if len(data) != BLOCK or data[:2] != POINTER_MAGIC or data[2] != VERSION:
        return None
    if _crc(data[:12]) != data[12:] or data[3] not in (0, 1):
        return None
    return data[3]


def read_state(blocks: dict[int, bytes]) -> CardState:
    """The card's state from its blocks (the five of ``blocks_to_read()``)."""
    records = tuple(decode_record(blocks[a], blocks[b]) for a, b in SLOTS)
    return CardState((records[0], records[1]), decode_pointer(blocks[POINTER_BLOCK]))


def blocks_to_read() -> tuple[int, ...]:
    return tuple(b for slot in SLOTS for b in slot) + (POINTER_BLOCK,)


# ------------------------------------------------------------------ what to do next
@dataclass(frozen=True)
class WriteSlot:
    slot: int
    blocks: tuple[tuple[int, bytes], ...]  # (block, 16 bytes), in write order


@dataclass(frozen=True)
class FlipPointer:
    slot: int
    block: int
    data: bytes


@dataclass(frozen=True)
class AlreadyDone:
    slot: int


@dataclass(frozen=True)
class CardAhead:
    """The card holds another purchase with this sequence or a later one: writing would hide
    a purchase the meter has not seen, so nothing is written and staff are told."""

    on_card: PurchaseToken


Plan = WriteSlot | FlipPointer | AlreadyDone | CardAhead


def plan(state: CardState, token: PurchaseToken) -> Plan:
    """The next step to get ``token`` onto the card. Decided from the card alone, so a retry
    after a pulled card or a restart after a crash picks up wherever the card is."""
    for slot, record in enumerate(state.records):
        if record is not None and record.purchase_no == token.purchase_no:
            if record != token:
                return CardAhead(record)  # same number, other content: not ours to overwrite
            if state.current_slot != slot:
                return CardAhead(state.current)  # type: ignore[arg-type]
            if state.pointer == slot:
                return AlreadyDone(slot)
            return FlipPointer(slot, POINTER_BLOCK, encode_pointer(slot, token))
    current = state.current
    if current is not None and current.sequence >= token.sequence:
        return CardAhead(current)
    slot = state.spare_slot
    a, b = encode_record(token)
    return WriteSlot(slot, ((SLOTS[slot][0], a), (SLOTS[slot][1], b)))


def slot_holds(state: CardState, slot: int, token: PurchaseToken) -> bool:
    """Read back: the slot holds exactly this purchase and it is the card's current one."""
    return state.records[slot] == token and state.current_slot == slot


def token_from_answer(answer: object, txn_id: str, card_uid: str,
                      amount_minor: int) -> PurchaseToken:
    """The utility's answer (docs/billing-api.yaml PrepaidToken) as a card record, once it
    proves it is for this payment and this card. ValueError: not usable."""
    if not isinstance(answer, dict):
        raise ValueError("the token answer is not an object")
    if answer.get("txn_id") != txn_id or str(answer.get("card_uid", "")).upper() != card_uid.upper():
        raise ValueError("the token is for another payment or card")
    if answer.get("amount_minor") != amount_minor or type(amount_minor) is not int:
        raise ValueError("the token names another amount")
    mac = answer.get("mac")
    if not isinstance(mac, str) or len(mac) != 2 * MAC_BYTES:
        raise ValueError("the token's MAC is not 8 bytes of hex")
    try:
        mac_bytes = bytes.fromhex(mac)
    except ValueError:
        raise ValueError("the token's MAC is not hex") from None
    return PurchaseToken(answer.get("purchase_no"), answer.get("sequence"),  # type: ignore[arg-type]
                         answer.get("units_centi_kwh"), answer.get("cumulative_centi_kwh"),  # type: ignore[arg-type]
                         answer.get("key_id"), mac_bytes)  # type: ignore[arg-type]
