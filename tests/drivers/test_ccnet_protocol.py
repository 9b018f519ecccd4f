"""CCNET framing: the manual's vectors, CRC, round trips, bill masks and tables, and that
corrupt, truncated or surrounded bytes never decode (fast Hypothesis fuzz here; the 100,000
input fuzz is marked slow)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.bill_validator.ccnet import protocol as p
from drivers.errors import FrameError
from tests.drivers.test_validator_framing import kermit_oracle

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "ccnet.json")
                     .read_text("utf-8"))["ccnet"]

#: what each vector must decode to, written out by hand from the manual's code tables
EXPECTED = {
    "POLL": (0x33, ""),
    "RESET": (0x30, ""),
    "ACK": (0x00, ""),
    "NAK": (0xFF, ""),
    "ENABLE BILL TYPES all 24, escrow off": (0x34, "FFFFFF000000"),
    "ENABLE BILL TYPES none (disable)": (0x34, "000000000000"),
    "ENABLE BILL TYPES types 0-5 with escrow": (0x34, "00003F00003F"),
    "GET STATUS": (0x31, ""),
    "SET SECURITY none": (0x32, "000000"),
    "STACK": (0x35, ""),
    "RETURN": (0x36, ""),
    "IDENTIFICATION": (0x37, ""),
    "HOLD": (0x38, ""),
    "GET BILL TABLE": (0x41, ""),
    "POLL: power up": (0x10, ""),
    "POLL: power up with bill in validator": (0x11, ""),
    "POLL: power up with bill in stacker": (0x12, ""),
    "POLL: initialize": (0x13, ""),
    "POLL: idling": (0x14, ""),
    "POLL: accepting": (0x15, ""),
    "POLL: stacking": (0x17, ""),
    "POLL: returning": (0x18, ""),
    "POLL: unit disabled": (0x19, ""),
    "POLL: holding": (0x1A, ""),
    "POLL: rejecting, denomination inhibited": (0x1C, "68"),
    "POLL: drop cassette full": (0x41, ""),
    "POLL: drop cassette out of position": (0x42, ""),
    "POLL: validator jammed": (0x43, ""),
    "POLL: failure, stack motor": (0x47, "50"),
    "POLL: escrow position, bill type 2": (0x80, "02"),
    "POLL: bill stacked, bill type 3": (0x81, "03"),
    "POLL: bill returned, bill type 2": (0x82, "02"),
    "ILLEGAL COMMAND": (0x30, ""),
}


def test_every_vector_is_listed_here():
    assert [v["meaning"] for v in VECTORS["frames"]] == list(EXPECTED)


@pytest.mark.parametrize("vector", VECTORS["frames"], ids=lambda v: v["meaning"])
def test_vector_decodes_and_encodes(vector):
    raw = bytes.fromhex(vector["hex"])
    cmd, data = EXPECTED[vector["meaning"]]
    frame = p.Frame(cmd, bytes.fromhex(data), 0x03)
    assert p.decode(raw) == frame
    assert p.encode(cmd, bytes.fromhex(data)) == raw
    assert frame.hex() == vector["hex"]
    assert raw[:2] == b"\x02\x03" and raw[2] == len(raw)  # SYNC, validator address, LNG
    assert kermit_oracle(raw[:-2]).to_bytes(2, "little") == raw[-2:]  # CRC low byte first
    assert p.FrameReader().feed(raw) == [frame]


def test_public_example_frames_are_byte_exact():
    """Frames quoted in public CCNET material, typed in here, not computed."""
    assert p.encode(p.POLL) == bytes.fromhex("020306 33 DA81")
    assert p.encode(p.RESET) == bytes.fromhex("020306 30 41B3")
    assert p.encode(p.ACK) == bytes.fromhex("020306 00 C282")
    assert p.encode(p.IDLING) == bytes.fromhex("020306 14 67D4")
    assert p.encode(p.BILL_STACKED, b"\x03") == bytes.fromhex("020307 8103 CF18")


frames = st.builds(p.Frame, st.integers(0, 255), st.binary(max_size=p.MAX_BODY_LEN - 1),
                   st.integers(0, 255))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40).filter(lambda b: b"\x02" not in b), frames,
       st.binary(max_size=40))
def test_garbage_around_a_frame_resyncs(before, frame, after):
    reader = p.FrameReader()
    got = reader.feed(before + frame.encode())
    assert got == [frame]
    assert reader.frames_bad == (1 if before else 0)
    for out in reader.feed(after):  # whatever trails: only CRC-valid frames come out
        raw = out.encode()
        assert p.crc16(raw[:-2]) == int.from_bytes(raw[-2:], "little")


def test_reader_handles_every_split_point():
    stream = b"\x99" + p.encode(p.ESCROW_POSITION, b"\x02") + b"\x02\x03\xf0" + p.encode(p.IDLING)
    for cut in range(len(stream) + 1):
        reader = p.FrameReader()
        got = reader.feed(stream[:cut]) + reader.feed(stream[cut:])
        assert got == [p.Frame(p.ESCROW_POSITION, b"\x02"), p.Frame(p.IDLING)], cut


def test_false_sync_with_long_length_does_not_stall_a_following_frame():
    reader = p.FrameReader()
    assert reader.feed(b"\x02\x03\xf0" + p.encode(p.IDLING)) == [p.Frame(p.IDLING)]
    assert reader.frames_bad == 1


def test_extended_length_and_oversized_frames_are_refused():
    body = bytes([p.SYNC, 3, 0]) + b"\x14"  # LNG 0: extended length, not used by validators
    raw = body + p.crc16(body).to_bytes(2, "little")
    with pytest.raises(FrameError):
        p.decode(raw)
    with pytest.raises(FrameError):
        p.encode(0x14, bytes(p.MAX_BODY_LEN))
    with pytest.raises(FrameError):
        p.encode(256)


def test_bill_masks():
    assert p.bill_mask(()) == b"\x00\x00\x00"
    assert p.bill_mask({0}) == b"\x00\x00\x01"
    assert p.bill_mask({23}) == b"\x80\x00\x00"
    assert p.bill_mask(range(6)) == b"\x00\x00\x3f"
    assert p.mask_types(b"\x00\x01\x05") == {0, 2, 8}
    with pytest.raises(FrameError):
        p.bill_mask({24})
    with pytest.raises(FrameError):
        p.mask_types(b"\x00")


@given(st.sets(st.integers(0, 23)))
def test_bill_mask_round_trip(types):
    assert p.mask_types(p.bill_mask(types)) == types


def test_bill_table_layout_and_values():
    raw = p.encode_bill_table(p.CNY_BILL_TABLE)
    assert len(raw) == 120
    assert raw[:10] == b"\x01CHN\x00\x05CHN\x00"
    assert raw[10:15] == b"\x01CHN\x01" and raw[25:30] == b"\x01CHN\x02"
    assert raw[30:] == bytes(90)
    table = p.decode_bill_table(raw)
    assert [t.value_minor() for t in table[:6]] == [100, 500, 1000, 2000, 5000, 10000]
    assert all(t.empty and t.value_minor() is None for t in table[6:])
    half = p.decode_bill_table(b"\x05CHN\x81" + bytes(115))[0]  # bit 7: negative power
    assert (half.power, half.value_minor()) == (-1, 50)
    assert p.BillType(1, "CHN", -3).value_minor() is None  # 0.1 fen: not a value
    with pytest.raises(FrameError):
        p.decode_bill_table(raw[:-1])
    with pytest.raises(FrameError):
        p.decode_bill_table(b"\x01\xff\xfe\xfd\x00" + bytes(115))


def test_identification_layout():
    ident = p.Identity("SM-CN1715", "41K123456789", bytes(range(7)))
    raw = ident.encode()
    assert len(raw) == 34 and raw[:15] == b"SM-CN1715      " and raw[15:27] == b"41K123456789"
    assert p.decode_identity(raw) == ident
    with pytest.raises(FrameError):
        p.decode_identity(raw[:-1])


def test_state_data_lengths_and_texts():
    assert p.state_data_ok(p.Frame(p.BILL_STACKED, b"\x03"))
    assert not p.state_data_ok(p.Frame(p.BILL_STACKED))
    assert not p.state_data_ok(p.Frame(p.IDLING, b"\x00"))
    assert not p.state_data_ok(p.Frame(0x16))  # not a validator state
    assert p.reject_reason_text(0x68) == "denomination inhibited"
    assert "0xEE" in p.reject_reason_text(0xEE)
    assert p.failure_text(0x50) == "stack motor failure"
    assert p.cny_channels().value(2) == 1000 and p.cny_channels() is not p.cny_channels()


def _fuzz(count: int, seed: int) -> None:
    rng = random.Random(seed)
    reader = p.FrameReader()
    pieces = [p.encode(p.BILL_STACKED, b"\x03"), p.encode(p.ESCROW_POSITION, b"\x02"),
              b"\x02", b"\x02\x03", b"\x02\x03\x07"]
    for i in range(count):
        data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 24)))
        if i % 5 == 0:  # bias towards plausible frames, SYNC bytes and cut or damaged frames
            piece = bytearray(rng.choice(pieces))
            if len(piece) > 3 and rng.random() < 0.5:
                piece[rng.randrange(len(piece))] ^= 1 << rng.randrange(8)
            data = bytes(piece[: rng.randrange(1, len(piece) + 1)]) + data
        try:
            frame = p.decode(data)
        except FrameError:
            pass
        else:
            assert frame.encode() == data
        for frame in reader.feed(data):  # a frame may occur by chance: it must be CRC-valid
            raw = frame.encode()
            assert p.crc16(raw[:-2]) == int.from_bytes(raw[-2:], "little")
        assert reader.pending < p.MAX_FRAME_LEN
    assert reader.frames_bad > count // 100
    assert reader.feed(b"\x00" * 8 + p.encode(p.IDLING)) == [p.Frame(p.IDLING)]


def test_fuzz_fast():
    _fuzz(3_000, 0xCC1)


@pytest.mark.slow
def test_fuzz_100k_inputs():
    _fuzz(120_000, 0xCC2)
