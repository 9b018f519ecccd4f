"""eSSP framing and AES layer: manual vectors decode and encode exactly; the decoder, fuzzed,
never makes a packet out of bad bytes, counts them and resynchronises."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.bill_validator.essp import crypto
from drivers.bill_validator.essp import protocol as p
from drivers.errors import FrameError

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "essp.json").read_text())["essp"]


def test_crc_check_value():
    assert p.crc16(VECTORS["crc_check"]["input_ascii"].encode()) == int(
        VECTORS["crc_check"]["crc"], 16)


@pytest.mark.parametrize("vec", VECTORS["frames"], ids=lambda v: v["meaning"])
def test_frame_vectors_decode_and_encode_exactly(vec):
    raw = bytes.fromhex(vec["hex"])
    packet = p.decode(raw)
    assert (packet.seq, packet.address, packet.data) == (vec["seq"], vec["address"],
                                                         bytes.fromhex(vec["data"]))
    assert packet.encode() == raw
    assert p.PacketReader().feed(raw) == [packet]


@pytest.mark.parametrize("vec", VECTORS["encrypted"], ids=lambda v: v["meaning"])
def test_encrypted_vectors(vec):
    key = bytes.fromhex(vec["aes_key"])
    assert key == crypto.parse_fixed_key(vec["fixed_key"]) + int(
        vec["negotiated_key"], 16).to_bytes(8, "little")
    payload = bytes.fromhex(vec["payload"])
    assert payload[0] == p.STEX
    dec = Cipher(algorithms.AES(key), modes.ECB()).decryptor()  # independent of Session
    assert dec.update(payload[1:]) + dec.finalize() == bytes.fromhex(vec["plain_block"])
    sender = crypto.Session(crypto.parse_fixed_key(vec["fixed_key"]),
                            int(vec["negotiated_key"], 16), padding=lambda n: bytes(n))
    sender.count = vec["count"]
    assert sender.wrap(bytes.fromhex(vec["data"])) == payload
    receiver = crypto.Session(crypto.parse_fixed_key(vec["fixed_key"]),
                              int(vec["negotiated_key"], 16))
    receiver.count = vec["count"]
    assert receiver.unwrap(payload) == bytes.fromhex(vec["data"])
    assert receiver.count == vec["count"] + 1


def test_replayed_counter_and_wrong_key_are_refused():
    a = crypto.Session(crypto.parse_fixed_key("0123456701234567"), 42)
    b = crypto.Session(crypto.parse_fixed_key("0123456701234567"), 42)
    first = a.wrap(b"\xf0\xee\x03")
    assert b.unwrap(first) == b"\xf0\xee\x03"
    with pytest.raises(crypto.CounterMismatch):
        b.unwrap(first)  # the same packet again: a replay
    assert b.count == 1  # a refused packet does not move the counter
    wrong = crypto.Session(crypto.parse_fixed_key("0123456701234568"), 42)
    wrong.count = 1
    with pytest.raises(crypto.CryptoError):
        b.unwrap(wrong.wrap(b"\xf0\xee\x03"))


def test_key_exchange_agrees_and_the_key_never_shows():
    g, n, a = crypto.host_numbers()
    assert crypto.is_prime(g) and crypto.is_prime(n) and g > n
    b = 0x123456789
    host = pow(crypto.intermediate(g, b, n), a, n)
    slave = pow(crypto.intermediate(g, a, n), b, n)
    assert host == slave
    s = crypto.Session(crypto.parse_fixed_key("0123456701234567"), host)
    assert "0123" not in repr(s) and str(host) not in repr(s)


def test_setup_round_trip_v6_expanded():
    setup = p.Setup(0, "0430", "CNY", 1, (1, 5, 10, 20, 50, 100), 100, 7)
    parsed = p.parse_setup(p.encode_setup(setup, expanded=True))
    assert parsed == setup and parsed.value_minor(6) == 10000 and parsed.value_minor(7) is None


def test_events_parse_and_reject_truncation():
    data = bytes([p.OK, p.SLAVE_RESET, p.NOTE_CLEARED_INTO_CASHBOX, 2, p.DISABLED])
    assert [(e.code, e.channel) for e in p.parse_events(data)] == [
        (0xF1, None), (0xE2, 2), (0xE8, None)]
    with pytest.raises(FrameError):
        p.parse_events(bytes([p.OK, p.NOTE_CREDIT]))


# ---------------------------------------------------------------- fuzz
packets = st.builds(lambda s, a, d: p.encode(s, a, d), st.booleans(), st.integers(0, 0x7F),
                    st.binary(min_size=1, max_size=40))


def _no_false_packets(data: bytes) -> None:
    reader = p.PacketReader()
    out = reader.feed(data)
    for packet in out:  # anything it does yield must be a valid packet (CRC checked)
        assert p.decode(packet.encode()) == packet


@given(st.binary(max_size=200))
@settings(max_examples=300, deadline=None)
def test_fuzz_random_bytes_decoder_never_crashes(data):
    _no_false_packets(data)
    with pytest.raises(FrameError):
        p.decode(data + b"\x00") if data[:1] == b"\x7f" else p.decode(data or b"\x00")


@given(packets, st.data())
@settings(max_examples=300, deadline=None)
def test_fuzz_corrupted_packet_no_event_counted_and_resync(raw, data):
    kind = data.draw(st.sampled_from(["flip", "truncate", "lone7f"]))
    if kind == "flip":
        i = data.draw(st.integers(1, len(raw) - 1))
        bad = bytearray(raw)
        bad[i] ^= data.draw(st.integers(1, 255))
        bad = bytes(bad)
    elif kind == "truncate":
        bad = raw[:data.draw(st.integers(1, len(raw) - 1))]
    else:  # a stuffing error: a single 0x7F inside the packet
        i = data.draw(st.integers(3, len(raw) - 1))
        bad = raw[:i] + b"\x7f" + raw[i:]
    good = p.encode(True, 0, b"\xf0\xee\x03")
    reader = p.PacketReader()
    out = reader.feed(bad)
    original = p.decode(raw)
    if kind == "lone7f" and out == [original]:
        pass  # the 0x7F landed after the packet's last byte: the packet is whole, rightly
    else:
        assert original not in out  # the damaged packet never comes out as it was sent
        assert all(p.decode(pk.encode()) == pk for pk in out)
    # A damaged length can make the reader wait for bytes that never come; silence ends it
    # (the link flushes on its reply timeout, the unit on its inter-byte timeout).
    reader.flush()
    assert reader.frames_bad + reader.bytes_dropped > 0 or out == [original]
    if kind == "lone7f" and out != [original]:
        assert reader.stuffing_errors + reader.frames_bad > 0
    assert reader.feed(good) == [p.decode(good)]  # and the line resynchronises


@given(st.binary(max_size=30), packets, st.binary(max_size=30))
@settings(max_examples=300, deadline=None)
def test_fuzz_garbage_around_a_packet(before, raw, after):
    before = before.replace(b"\x7f", b"")  # a 0x7F in it may legitimately swallow bytes
    reader = p.PacketReader()
    got = reader.feed(before + raw)
    assert got[-1] == p.decode(raw)
    assert reader.bytes_dropped >= len(before)
    reader.feed(after)  # never raises


def test_chunked_feeding_equals_whole():
    raw = b"".join(p.encode(i % 2 == 0, 0x7F if i == 3 else 0, bytes([0x7F, i, 0x7F]))
                   for i in range(6))
    whole = p.PacketReader().feed(raw)
    reader = p.PacketReader()
    chunks = [reader.feed(raw[i:i + 1]) for i in range(len(raw))]
    assert [pk for c in chunks for pk in c] == whole and len(whole) == 6


@pytest.mark.slow
def test_fuzz_100k_inputs_create_no_event():
    """>= 100,000 damaged inputs: random bytes, bit flips, truncations, lone 0x7F, garbage
    around packets.  No damaged input may yield a poll event that was not sent."""
    rng = random.Random(20240611)
    credit = p.encode(False, 0, bytes([p.OK, p.NOTE_CREDIT, 3]))
    reader = p.PacketReader()
    false_events = 0
    for i in range(100_000):
        mode = i % 4
        if mode == 0:
            data = rng.randbytes(rng.randint(0, 64))
        elif mode == 1:
            bad = bytearray(credit)
            bad[rng.randrange(1, len(bad))] ^= 1 << rng.randrange(8)
            data = bytes(bad)
        elif mode == 2:
            data = credit[:rng.randrange(1, len(credit))]
        else:
            j = rng.randrange(3, len(credit))
            data = credit[:j] + b"\x7f" + credit[j:]
        reader.flush()
        for packet in reader.feed(data):
            try:
                events = p.parse_events(packet.data)
            except FrameError:
                continue
            if any(e.code == p.NOTE_CREDIT for e in events) and data != credit:
                false_events += 1
    assert false_events == 0
    assert reader.frames_bad > 10_000 and reader.stuffing_errors > 1_000
