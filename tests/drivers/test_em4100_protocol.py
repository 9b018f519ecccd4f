"""EM4100 codec and stream decoder: vectors, round trips, corruption, garbage, fuzz."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.card_reader.em4100.protocol import (
    ETX,
    FRAME_LEN,
    STX,
    CardId,
    FrameDecoder,
    checksum,
    decode_frame,
    encode_frame,
    mask_uid,
)
from drivers.errors import FrameError
from tests import vectors

VECTORS = vectors.load("em4100")["frames"]

CARDS = st.builds(CardId, st.integers(0, 255), st.integers(0, 2**32 - 1))


def test_vectors_are_there() -> None:
    assert VECTORS  # an empty list would skip the parametrized test silently


@pytest.mark.parametrize("vec", VECTORS, ids=lambda v: v["ascii_between_stx_etx"])
def test_vectors(vec: dict) -> None:
    raw = bytes([STX]) + vec["ascii_between_stx_etx"].encode() + bytes([ETX])
    card = decode_frame(raw)
    assert (card.version, card.tag) == (vec["version"], vec["tag"])
    assert encode_frame(card) == raw
    assert card.uid == vec["ascii_between_stx_etx"][:10]
    assert FrameDecoder().feed(raw) == [card]


def test_checksum_is_xor_of_the_five_bytes() -> None:
    assert checksum(bytes.fromhex("67003B51C6")) == 0xCB


@given(CARDS)
def test_roundtrip(card: CardId) -> None:
    raw = encode_frame(card)
    assert len(raw) == FRAME_LEN
    assert decode_frame(raw) == card
    assert CardId.from_uid(card.uid) == card
    assert card.uid == card.uid.upper() and len(card.uid) == 10


@given(CARDS, st.data())
@settings(max_examples=400)
def test_any_single_byte_change_is_rejected(card: CardId, data: st.DataObject) -> None:
    raw = bytearray(encode_frame(card))
    i = data.draw(st.integers(0, len(raw) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != raw[i]))
    raw[i] = new
    with pytest.raises(FrameError):
        decode_frame(bytes(raw))
    # In a stream the damaged frame is dropped too: no card, never a different card.
    assert FrameDecoder().feed(bytes(raw)) == []


@given(CARDS, st.data())
def test_truncation_is_rejected(card: CardId, data: st.DataObject) -> None:
    raw = encode_frame(card)
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(FrameError):
        decode_frame(raw[:cut])
    assert FrameDecoder().feed(raw[:cut]) == []


@given(CARDS, st.binary(max_size=40), st.binary(max_size=40))
@settings(max_examples=400)
def test_garbage_around_a_frame_adds_or_alters_nothing(card: CardId, g1: bytes, g2: bytes) -> None:
    frame = encode_frame(card)
    dec = FrameDecoder()
    got = dec.feed(g1 + frame + g2)
    # Whatever the garbage, the frame's STX restarts the decoder and its ETX ends the frame:
    # the result is what the garbage alone decodes to, with the one real card in between.
    assert got == FrameDecoder().feed(g1) + [card] + FrameDecoder().feed(g2)
    if b"\x03" not in g1 + g2:  # without an ETX the garbage cannot hold a frame of its own
        assert got == [card]
    if g1 or g2:
        with pytest.raises(FrameError):
            decode_frame(g1 + frame + g2)


@given(st.lists(CARDS, min_size=1, max_size=5), st.data())
def test_stream_split_anywhere(cards: list[CardId], data: st.DataObject) -> None:
    stream = b"".join(encode_frame(c) for c in cards)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    dec, got, prev = FrameDecoder(), [], 0
    for cut in cuts + [len(stream)]:
        got += dec.feed(stream[prev:cut])
        prev = cut
    assert got == cards
    assert dec.stats["frames"] == len(cards)


def test_lowercase_hex_is_not_a_frame() -> None:
    raw = bytes([STX]) + b"67003b51c6cb" + bytes([ETX])
    with pytest.raises(FrameError):
        decode_frame(raw)


def test_decoder_counts_what_it_drops() -> None:
    good = encode_frame(CardId(0x67, 0x003B51C6))
    bad_sum = good[:-3] + b"00" + good[-1:]
    dec = FrameDecoder()
    assert dec.feed(b"\xff\xfe" + bad_sum + b"\x02ZZ" + good) == [CardId(0x67, 0x003B51C6)]
    # ff fe before any STX, and the second Z once the broken frame was dropped
    assert dec.stats == {"frames": 1, "bad_checksum": 1, "malformed": 1, "garbage_bytes": 3}


def test_fuzz_random_bytes_never_crash_or_produce_a_card() -> None:
    rng = random.Random("em4100")
    stream = FrameDecoder()
    cards = 0
    for i in range(100_000):
        n = rng.randrange(0, 32)
        raw = bytes(rng.getrandbits(8) for _ in range(n))
        if i % 2:  # half start like a frame so the decoder gets past the STX check
            raw = bytes([STX]) + raw
        try:
            decode_frame(raw)
            cards += 1
        except FrameError:
            pass
        cards += len(stream.feed(raw)) + len(FrameDecoder().feed(raw))
    assert cards == 0


def test_card_id_parsing_rejects_bad_input() -> None:
    for bad in ("", "123", "67003B51C6CB", "67003B51CG", "0x003B51C6"):
        with pytest.raises(ValueError):
            CardId.from_uid(bad)
    assert CardId.from_uid(" 67003b51c6 ").uid == "67003B51C6"
    with pytest.raises(ValueError):
        CardId(256, 0)


def test_mask_keeps_only_the_last_four() -> None:
    assert mask_uid("67003B51C6") == "******51C6"
    assert "67003B" not in mask_uid("67003B51C6")


@given(st.binary(max_size=64))
def test_decoder_is_total(data: bytes) -> None:
    FrameDecoder().feed(data)  # never raises, whatever arrives
