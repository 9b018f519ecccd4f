"""ID-003 framing: the shared vectors, CRC, round trips, and that corrupt bytes never decode."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.bill_validator.id003 import protocol as p
from drivers.errors import FrameError
from tests.drivers.test_validator_framing import kermit_oracle

_ROOT = Path(__file__).resolve().parents[2]
_VECTOR_FILE = _ROOT / "tests" / "vectors" / "protocols.json"
VECTORS = json.loads(_VECTOR_FILE.read_text("utf-8"))["id003"]  # missing file: a loud failure

#: what each vector must decode to, written out independently of the decoder
EXPECTED = {
    "FC 05 11 27 56": (p.STATUS_REQUEST, b""),
    "FC 05 40 2B 15": (p.RESET, b""),
    "FC 05 50 AA 05": (p.ACK, b""),
    "FC 05 41 A2 04": (p.STACK_1, b""),
    "FC 05 43 B0 27": (p.RETURN, b""),
    "FC 05 44 0F 53": (p.HOLD, b""),
    "FC 06 C3 00 04 D6": (p.SET_INHIBIT, b"\x00"),
    "FC 06 C3 01 8D C7": (p.SET_INHIBIT, b"\x01"),
    "FC 07 C0 00 00 2D B5": (p.SET_ENABLE, b"\x00\x00"),
    "FC 05 1A F4 E8": (p.DISABLE_INHIBIT, b""),
    "FC 05 1B 7D F9": (p.INITIALIZE, b""),
    "FC 06 13 63 A2 D8": (p.ESCROW, b"\x63"),
    "FC 05 15 03 10": (p.VEND_VALID, b""),
    "FC 05 16 98 22": (p.STACKED, b""),
    "FC 06 17 71 51 8C": (p.REJECTING, b"\x71"),
}


def test_every_vector_is_listed_here():
    assert {v["hex"] for v in VECTORS["frames"]} == set(EXPECTED)


@pytest.mark.parametrize("vector", VECTORS["frames"], ids=lambda v: v["meaning"])
def test_vector_decodes_and_encodes(vector):
    raw = bytes.fromhex(vector["hex"])
    cmd, data = EXPECTED[vector["hex"]]
    assert p.decode(raw) == p.Frame(cmd, data)
    assert p.encode(cmd, data) == raw
    assert p.Frame(cmd, data).hex() == vector["hex"]
    assert raw[1] == len(raw)  # LEN counts the whole frame
    assert kermit_oracle(raw[:-2]).to_bytes(2, "little") == raw[-2:]  # CRC low byte first


def test_oversized_frame_is_refused_even_with_a_good_crc():
    length = p.MAX_FRAME_LEN + 1
    body = bytes([p.SYNC, length, 0x13]) + bytes(length - 5)
    raw = body + p.crc16_kermit(body).to_bytes(2, "little")
    with pytest.raises(FrameError):
        p.decode(raw)
    reader = p.FrameReader()
    good = p.encode(p.VEND_VALID)
    assert reader.feed(raw + good) == [p.Frame(p.VEND_VALID)]
    assert reader.frames_bad == 1
    with pytest.raises(FrameError):
        p.encode(0x13, bytes(p.MAX_DATA_LEN + 1))
    with pytest.raises(FrameError):
        p.encode(256)


def test_reader_resyncs_after_garbage_and_bad_crc():
    escrow = p.encode(p.ESCROW, b"\x63")
    bad = bytearray(p.encode(p.VEND_VALID))
    bad[-1] ^= 0xFF
    stream = b"\x00\x15\xfc" + escrow + bytes(bad) + b"\xfc\x05\x15" + p.encode(p.STACKED)
    reader = p.FrameReader()
    assert reader.feed(stream) == [p.Frame(p.ESCROW, b"\x63"), p.Frame(p.STACKED)]
    assert reader.frames_ok == 2
    # junk; a SYNC whose length byte is another SYNC; the bad VEND VALID (its tail is not
    # counted again); the cut VEND VALID that swallowed the STACKED's first bytes
    assert reader.frames_bad == 4
    assert reader.pending == 0


def test_reader_handles_every_split_point():
    stream = b"\x99" + p.encode(p.ESCROW, b"\x61") + b"\xfc\x40" + p.encode(p.STACKED)
    for cut in range(len(stream) + 1):
        reader = p.FrameReader()
        got = reader.feed(stream[:cut]) + reader.feed(stream[cut:])
        assert got == [p.Frame(p.ESCROW, b"\x61"), p.Frame(p.STACKED)], cut


def test_false_sync_with_long_length_does_not_stall_a_following_frame():
    # 0xFC 0x40 claims 64 bytes; the good frame behind it must come out without waiting.
    reader = p.FrameReader()
    assert reader.feed(b"\xfc\x40\x01" + p.encode(p.ENABLE_IDLING)) == [p.Frame(p.ENABLE_IDLING)]
    assert reader.frames_bad == 1


def test_flush_drops_a_partial_frame():
    reader = p.FrameReader()
    assert reader.feed(p.encode(p.VEND_VALID)[:3]) == []
    reader.flush()
    assert reader.pending == 0 and reader.frames_bad == 1
    assert reader.feed(p.encode(p.VEND_VALID)[3:]) == []  # the tail alone is garbage


def test_fuzz_100k_random_byte_strings():
    rng = random.Random(0x1D003)
    reader = p.FrameReader()
    pieces = [p.encode(p.VEND_VALID), p.encode(p.ESCROW, b"\x63"), b"\xfc", b"\xfc\x05"]
    decoded = 0  # whole frames do occur: every one must re-encode to the same bytes
    for i in range(100_000):
        size = rng.randrange(0, 24)
        data = bytes(rng.getrandbits(8) for _ in range(size))
        if i % 7 == 0:  # bias towards plausible-looking frames, sync bytes and cut frames
            data = rng.choice(pieces)[: rng.randrange(1, 8)] + data
        try:
            frame = p.decode(data)
        except FrameError:
            pass
        else:
            decoded += 1
            assert frame.encode() == data
        for frame in reader.feed(data):
            raw = frame.encode()
            assert p.crc16_kermit(raw[:-2]) == int.from_bytes(raw[-2:], "little")
        assert reader.pending < p.MAX_FRAME_LEN
    assert reader.frames_bad > 1000
    # Whole valid frames handed in on purpose are still recognised after all that noise.
    assert reader.feed(b"\x00" * p.MAX_FRAME_LEN + p.encode(p.STACKED)) == [p.Frame(p.STACKED)]


def test_inhibit_mask_bits():
    assert p.inhibit_mask(range(0x61, 0x71)) == b"\x00\x00"  # the "enable all" vector's data
    assert p.inhibit_mask(()) == b"\xff\xff"
    assert p.inhibit_mask({0x61}) == b"\xfe\xff"
    assert p.inhibit_mask({0x63, 0x69}) == b"\xfb\xfe"
    assert p.enabled_codes(b"\xfb\xfe") == {0x63, 0x69}
    with pytest.raises(FrameError):
        p.inhibit_mask({0x60})
    with pytest.raises(FrameError):
        p.enabled_codes(b"\x00")


@given(st.sets(st.integers(0x61, 0x70)))
def test_inhibit_mask_round_trip(codes):
    assert p.enabled_codes(p.inhibit_mask(codes)) == codes


def test_reject_reasons_and_cny_defaults():
    assert p.reject_reason_text(0x71) == "insertion error"
    assert p.reject_reason_text(0x79) == "denomination inhibited"
    assert "0xEE" in p.reject_reason_text(0xEE)
    channels = p.cny_channels()
    assert channels.value(0x61) == 100 and channels.value(0x66) == 10000
    assert channels.channel_for(1000) == 0x63
    channels.values[0x61] = 1
    assert p.cny_channels().value(0x61) == 100  # each call is a fresh map


def test_status_data_lengths():
    assert p.status_data_ok(p.Frame(p.ESCROW, b"\x63"))
    assert not p.status_data_ok(p.Frame(p.ESCROW))
    assert not p.status_data_ok(p.Frame(p.VEND_VALID, b"\x00"))
    assert p.status_data_ok(p.Frame(p.FAILURE, b"\xa2"))
