"""ccTalk codec: published vectors, round trips, corruption, fuzz, and the event-counter tracker."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.coin_acceptor.cctalk import protocol as p
from drivers.errors import FrameError
from tests import vectors

VECTORS = vectors.load("cctalk")
SIMPLE_VECTORS = [v["bytes"] for v in VECTORS["simple"]]
CRC_VECTORS = [v["bytes"] for v in VECTORS["crc16"]]


# ---------------------------------------------------------------- vectors
def test_vectors_are_there() -> None:
    assert len(SIMPLE_VECTORS) >= 5 and len(CRC_VECTORS) >= 1  # an empty list would skip silently


@pytest.mark.parametrize("vec", SIMPLE_VECTORS)
def test_simple_vectors_decode_and_reencode(vec: list[int]) -> None:
    raw = bytes(vec)
    frame = p.decode_frame(raw, p.SIMPLE)
    assert (frame.dest, len(frame.data), frame.src, frame.header) == tuple(raw[:4])
    assert frame.data == raw[4:-1]
    assert sum(raw) % 256 == 0
    assert p.encode_frame(frame, p.SIMPLE) == raw


@pytest.mark.parametrize("vec", CRC_VECTORS)
def test_crc_vectors_decode_and_reencode(vec: list[int]) -> None:
    raw = bytes(vec)
    frame = p.decode_frame(raw, p.CRC16)
    assert frame.src is None and frame.dest == raw[0] and frame.header == raw[3]
    assert p.encode_frame(frame, p.CRC16) == raw


@pytest.mark.parametrize("vec", SIMPLE_VECTORS + CRC_VECTORS)
def test_every_vector_is_rejected_in_the_other_mode(vec: list[int]) -> None:
    raw = bytes(vec)
    mode = p.SIMPLE if vec in SIMPLE_VECTORS else p.CRC16
    other = p.CRC16 if mode == p.SIMPLE else p.SIMPLE
    with pytest.raises(FrameError):
        p.decode_frame(raw, other)


@pytest.mark.parametrize("vec", SIMPLE_VECTORS)
def test_simple_vector_frames_reencoded_in_crc_mode_decode_back(vec: list[int]) -> None:
    frame = p.decode_frame(bytes(vec), p.SIMPLE)
    crc_frame = p.Frame(frame.dest, frame.header, frame.data)
    raw = p.encode_frame(crc_frame, p.CRC16)
    assert p.decode_frame(raw, p.CRC16) == crc_frame
    crc = p.crc16_xmodem(bytes([raw[0], raw[1], raw[3]]) + raw[4:-1])
    assert (raw[2], raw[-1]) == (crc & 0xFF, crc >> 8)  # low byte in the SRC slot


def test_crc16_xmodem_check_value() -> None:
    assert p.crc16_xmodem(b"123456789") == 0x31C3  # the catalogued check value


def test_simple_checksum_when_sum_is_already_zero() -> None:
    assert p.checksum_simple([0, 0]) == 0
    assert p.checksum_simple([1, 255]) == 0  # the sum is taken modulo 256, so 0, not 256


def test_ack_reply_vector_passes_reply_narrowing() -> None:
    ack = bytes(SIMPLE_VECTORS[1])
    assert p.decode_reply(ack, p.SIMPLE, host=1, device=2).header == p.HDR_ACK
    with pytest.raises(FrameError):
        p.decode_reply(ack, p.SIMPLE, host=1, device=3)  # wrong source
    with pytest.raises(FrameError):
        p.decode_reply(bytes(SIMPLE_VECTORS[0]), p.SIMPLE)  # a host command is no reply


# ---------------------------------------------------------------- round trips and corruption
MODES = st.sampled_from(p.MODES)
BYTE = st.integers(0, 255)


@st.composite
def frames(draw: st.DrawFn) -> tuple[p.Frame, str]:
    mode = draw(MODES)
    src = draw(BYTE) if mode == p.SIMPLE else None
    data = draw(st.binary(max_size=p.MAX_DATA))
    return p.Frame(draw(BYTE), draw(BYTE), data, src), mode


@given(frames())
@settings(max_examples=300)
def test_roundtrip(fm: tuple[p.Frame, str]) -> None:
    frame, mode = fm
    assert p.decode_frame(p.encode_frame(frame, mode), mode) == frame


@given(frames(), st.data())
@settings(max_examples=400)
def test_any_single_byte_change_is_rejected(fm: tuple[p.Frame, str], data: st.DataObject) -> None:
    frame, mode = fm
    raw = bytearray(p.encode_frame(frame, mode))
    i = data.draw(st.integers(0, len(raw) - 1))
    delta = data.draw(st.integers(1, 255))
    raw[i] = (raw[i] + delta) % 256
    with pytest.raises(FrameError):
        p.decode_frame(bytes(raw), mode)


@given(frames(), st.data())
@settings(max_examples=200)
def test_truncation_is_rejected(fm: tuple[p.Frame, str], data: st.DataObject) -> None:
    frame, mode = fm
    raw = p.encode_frame(frame, mode)
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(FrameError):
        p.decode_frame(raw[:cut], mode)


@given(frames(), st.binary(min_size=1, max_size=20))
@settings(max_examples=200)
def test_garbage_after_is_rejected(fm: tuple[p.Frame, str], garbage: bytes) -> None:
    frame, mode = fm
    with pytest.raises(FrameError):
        p.decode_frame(p.encode_frame(frame, mode) + garbage, mode)


def _credit_reply(counter: int, pairs: list[tuple[int, int]], mode: str) -> bytes:
    data = p.encode_credit_buffer(p.CreditBuffer(counter, tuple(pairs)))
    return p.encode_frame(p.Frame(p.ADDR_HOST, p.HDR_ACK, data, 2), mode)


PAIRS = st.lists(st.tuples(BYTE, BYTE), min_size=5, max_size=5)


@given(MODES, BYTE, PAIRS, st.binary(min_size=1, max_size=20), st.booleans())
@settings(max_examples=300)
def test_garbage_around_a_credit_reply_never_passes(
    mode: str, counter: int, pairs: list[tuple[int, int]], garbage: bytes, before: bool
) -> None:
    """The simple checksum alone cannot refuse every prefix (a leading 0x00 keeps the sum), so the
    driver narrows replies: a 229 answer must be exactly 16 bytes, to the host, from the device."""
    reply = _credit_reply(counter, pairs, mode)
    raw = garbage + reply if before else reply + garbage
    with pytest.raises(FrameError):
        p.decode_reply(raw, mode, data_len=p.CREDIT_BUFFER_LEN)


def test_oversized_length_byte_is_rejected() -> None:
    raw = bytes([1, 251, 2, 0]) + bytes(251) + b"\x00"
    with pytest.raises(FrameError, match="oversized"):
        p.decode_frame(raw)


def test_encode_refuses_bad_fields() -> None:
    with pytest.raises(ValueError):
        p.encode_frame(p.Frame(2, 254, b"", None), p.SIMPLE)  # simple mode needs a source
    with pytest.raises(ValueError):
        p.encode_frame(p.Frame(256, 254, b"", 1))
    with pytest.raises(ValueError):
        p.encode_frame(p.Frame(2, 254, bytes(p.MAX_DATA + 1), 1))


# ---------------------------------------------------------------- fuzz
@pytest.mark.parametrize("mode", p.MODES)
def test_fuzz_random_bytes_never_crash_or_credit(mode: str) -> None:
    rng = random.Random(f"cctalk-{mode}")
    tracker = p.EventTracker(last=100)
    credits = accepted = 0
    for i in range(100_000):
        n = rng.randrange(0, 24)
        raw = bytes(rng.getrandbits(8) for _ in range(n))
        if i % 2:  # half of them start like a credit reply, to get past the cheap checks
            raw = bytes([p.ADDR_HOST, p.CREDIT_BUFFER_LEN]) + raw
        try:
            p.decode_frame(raw, mode)
            accepted += 1
        except FrameError:
            pass
        try:
            reply = p.decode_reply(raw, mode, data_len=p.CREDIT_BUFFER_LEN)
            result = tracker.update(p.parse_credit_buffer(reply.data))
        except FrameError:
            continue
        credits += sum(ev.is_credit for ev in result.new)
    assert credits == 0
    assert accepted < 1_000  # random strings are (almost) never frames


# ---------------------------------------------------------------- buffer and tracker
def test_credit_buffer_roundtrip_and_length() -> None:
    buf = p.CreditBuffer(7, ((1, 1), (0, 2), (3, 1), (0, 0), (0, 0)))
    assert p.parse_credit_buffer(p.encode_credit_buffer(buf)) == buf
    for n in (0, 10, 12):
        with pytest.raises(FrameError):
            p.parse_credit_buffer(bytes(n))


def _buf(counter: int, *pairs: tuple[int, int]) -> p.CreditBuffer:
    full = list(pairs) + [(0, 0)] * (5 - len(pairs))
    return p.CreditBuffer(counter, tuple(full))


def test_tracker_first_reading_is_baseline_not_credit() -> None:
    t = p.EventTracker()
    res = t.update(_buf(9, (1, 1), (2, 1)))
    assert res.first_sync and not res.new and t.last == 9


def test_tracker_reports_new_events_oldest_first_once() -> None:
    t = p.EventTracker(last=9)
    res = t.update(_buf(11, (2, 1), (1, 1), (3, 1)))
    assert [(e.counter, e.result_a) for e in res.new] == [(10, 1), (11, 2)]
    assert t.update(_buf(11, (2, 1), (1, 1), (3, 1))).new == ()


def test_tracker_wraps_255_to_1() -> None:
    t = p.EventTracker(last=254)
    res = t.update(_buf(2, (3, 1), (2, 1), (1, 1)))
    assert [e.counter for e in res.new] == [255, 1, 2]
    assert [e.result_a for e in res.new] == [1, 2, 3]


def test_tracker_gap_over_five_reports_lost_never_guessed() -> None:
    t = p.EventTracker(last=10)
    res = t.update(_buf(18, (1, 1), (1, 1), (1, 1), (1, 1), (1, 1)))
    assert res.lost == 3 and len(res.new) == 5
    assert [e.counter for e in res.new] == [14, 15, 16, 17, 18]


def test_tracker_counter_zero_is_a_reset() -> None:
    t = p.EventTracker(last=42)
    res = t.update(_buf(0))
    assert res.reset and not res.new and t.last == 0
    res = t.update(_buf(2, (2, 1), (1, 1)))  # after power-up, counting starts at 1
    assert [e.counter for e in res.new] == [1, 2] and not res.reset


def test_tracker_repeated_zero_is_not_another_reset() -> None:
    t = p.EventTracker(last=0)
    assert not t.update(_buf(0)).reset


@given(st.integers(0, 255), st.integers(1, 300))
def test_next_counter_never_returns_zero(start: int, steps: int) -> None:
    c = p.next_counter(start, steps)
    assert 1 <= c <= 255
    if start:
        assert p.counter_gap(start, c) == steps % 255


def test_inhibit_mask_bits() -> None:
    assert p.inhibit_mask([1, 2, 3]) == b"\x07\x00"
    assert p.inhibit_mask([9, 16]) == b"\x00\x81"  # byte 2 holds channels 9..16
    assert p.channels_from_mask(b"\xff\xff") == frozenset(range(1, 17))
    with pytest.raises(ValueError):
        p.inhibit_mask([17])


def test_error_codes_from_the_generic_spec() -> None:
    assert p.describe_error(1) == ("reject coin", "reject")
    assert p.describe_error(2) == ("inhibited coin", "reject")
    assert p.describe_error(8)[0] == "2nd close coin error"
    assert p.describe_error(14) == ("credit sensor blocked", "fault")
    assert p.describe_error(254)[1] == "reject"
    assert p.describe_error(130) == ("inhibited coin (type 3)", "reject")
    assert p.describe_error(200)[1] == "info"
    assert p.error_slug(14) == "credit_sensor_blocked"


@given(BYTE, PAIRS)
def test_credit_buffer_roundtrip_property(counter: int, pairs: list[tuple[int, int]]) -> None:
    buf = p.CreditBuffer(counter, tuple(pairs))
    assert p.parse_credit_buffer(p.encode_credit_buffer(buf)) == buf


def test_identity_serial_number_is_lsb_first() -> None:
    ident = p.parse_identity(
        {
            p.HDR_REQUEST_MANUFACTURER_ID: b"CPT",
            p.HDR_REQUEST_PRODUCT_CODE: b"SIMCOIN ",
            p.HDR_REQUEST_SERIAL_NUMBER: b"\x40\xe2\x01",
            p.HDR_REQUEST_SOFTWARE_REVISION: b"SIM-1.0",
        }
    )
    assert ident == p.CoinAcceptorIdentity("CPT", "SIMCOIN", 123456, "SIM-1.0")
