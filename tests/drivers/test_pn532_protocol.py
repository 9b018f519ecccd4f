"""PN532 framing: the manual's frames decode and encode exactly, builders produce them, answers
parse, and a Hypothesis fuzz of the stream reader (bad checksums, truncation, garbage around
frames: no frame, counted, resync)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from drivers.card_reader.pn532 import protocol as p
from drivers.errors import FrameError

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "pn532.json").read_text())
FRAMES = VECTORS["frames"]


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def as_frame(v: dict) -> p.Frame:
    if v["kind"] != "info":
        return p.Frame(v["kind"])
    return p.Frame("info", int(v["tfi"], 16), h(v["data"]))


def sum_oracle(raw: bytes) -> bool:
    """Checks a normal frame by the manual's two relations, independently of the codec."""
    length, lcs = raw[3], raw[4]
    body = raw[5:5 + length]
    return (length + lcs) % 256 == 0 and (sum(body) + raw[5 + length]) % 256 == 0


@pytest.mark.parametrize("v", FRAMES, ids=[v["source"][:50] for v in FRAMES])
def test_vector_decodes_and_encodes_exactly(v: dict) -> None:
    raw = h(v["hex"])
    assert p.decode(raw) == as_frame(v)
    assert as_frame(v).encode() == raw
    if v["kind"] == "info":
        assert sum_oracle(raw)


@pytest.mark.parametrize("v", VECTORS["bad_frames"], ids=[v["why"] for v in VECTORS["bad_frames"]])
def test_bad_vector_is_refused(v: dict) -> None:
    with pytest.raises(FrameError):
        p.decode(h(v["hex"]))


def by_data(data: str) -> bytes:
    return next(h(v["hex"]) for v in FRAMES if v.get("data") == data)


def test_builders_produce_the_manual_frames() -> None:
    uid = h("EA703280")
    assert p.get_firmware_version() == by_data("02")
    assert p.sam_configuration() == by_data("14 01 14 01")
    assert p.rf_max_retries() == by_data("32 05 FF 01 02")
    assert p.in_list_passive_target() == by_data("4A 01 00")
    auth = p.mifare_auth(4, h("A73F5DC1D333"), uid, "A")
    assert p.in_data_exchange(1, auth) == by_data("40 01 60 04 A7 3F 5D C1 D3 33 EA 70 32 80")
    assert p.in_data_exchange(1, p.mifare_read(4)) == by_data("40 01 30 04")
    write = p.mifare_write(4, h("00112233445566778899AABBCCDDEEFF"))
    assert p.in_data_exchange(1, write) == by_data(
        "40 01 A0 04 00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE FF")
    assert p.in_release(0) == by_data("52 00")
    assert p.WAKEUP == h(VECTORS["wakeup"]["hex"])
    # Key B and a 7-byte UID: the command takes the UID's last four bytes.
    assert p.mifare_auth(5, b"\x01" * 6, h("043318EA703280"), "B")[-4:] == uid
    assert p.mifare_auth(5, b"\x01" * 6, uid, "B")[0] == 0x61


def test_answers_parse() -> None:
    assert p.parse_firmware(p.decode(by_data("03 32 01 06 07"))) == p.Firmware(0x32, 1, 6, 7)
    p.parse_empty(p.decode(by_data("15")), p.SAM_CONFIGURATION)
    for v in FRAMES:
        frame = p.decode(h(v["hex"]))
        if "targets" in v:
            got = p.parse_list_passive_target(frame)
            want = [p.Target(t["tg"], h(t["sens_res"]), t["sel_res"], h(t["uid"]))
                    for t in v["targets"]]
            assert got == want
        if "status" in v:
            code = frame.code - 1
            assert p.parse_status(frame, code)[0] == v["status"]
    target = p.parse_list_passive_target(p.decode(by_data("4B 01 01 00 04 08 04 1A 2B 3C 4D")))
    assert target[0].uid_hex == "1A2B3C4D"


@pytest.mark.parametrize("params", ["01", "01 01 00 04 08 05 1A 2B 3C 4D", "03",
                                    "01 01 00 04 08 04 1A 2B 3C 4D 99"])
def test_malformed_target_answer_is_refused(params: str) -> None:
    frame = p.decode(p.answer(0x4B, h(params)))
    with pytest.raises(FrameError):
        p.parse_list_passive_target(frame)


def test_answer_to_another_command_is_refused() -> None:
    with pytest.raises(FrameError):
        p.parse_list_passive_target(p.decode(by_data("41 00")))
    with pytest.raises(FrameError):
        p.parse_firmware(p.decode(by_data("02")))  # the command, not the answer


def test_block_rules() -> None:
    assert [b for b in range(64) if p.is_sector_trailer(b)] == list(range(3, 64, 4))
    with pytest.raises(ValueError):
        p.mifare_read(64)
    with pytest.raises(ValueError):
        p.mifare_write(4, b"short")


def test_extended_frame_round_trip() -> None:
    data = bytes([0x41, 0x00]) + bytes(range(256)) + b"\x01\x02"
    raw = p.answer(0x41, data[1:])
    assert raw[3:5] == b"\xff\xff"
    assert p.decode(raw) == p.Frame("info", p.TFI_PN532, data)


def test_reader_counts_and_resyncs() -> None:
    good = by_data("03 32 01 06 07")
    bad = bytearray(good)
    bad[-2] ^= 1  # DCS
    r = p.FrameReader(expect_tfi=p.TFI_PN532)
    frames = r.feed(b"\x13\x37" + bytes(bad) + b"\xaa" + good[:4])
    assert frames == []
    frames = r.feed(good[4:] + p.command(0x02) + p.ACK_FRAME)
    assert frames == [p.decode(good), p.ACK]
    assert r.stats["bad_dcs"] == 1 and r.stats["wrong_direction"] == 1
    assert r.stats["garbage_bytes"] >= 3 and r.stats["frames_ok"] == 1


# ---------------------------------------------------------------- fuzz
datas = st.binary(min_size=1, max_size=64)
tfis = st.sampled_from([p.TFI_HOST, p.TFI_PN532])


def no_start_inside(raw: bytes) -> bool:
    return raw[3:].find(p.START) < 0


@settings(max_examples=300, deadline=None)
@given(tfis, datas)
def test_round_trip_and_oracle(tfi: int, data: bytes) -> None:
    raw = p.encode_info(tfi, data)
    assert sum_oracle(raw)
    assert p.decode(raw) == p.Frame("info", tfi, data)


@settings(max_examples=300, deadline=None)
@given(tfis, datas, st.data())
def test_single_byte_change_never_decodes(tfi: int, data: bytes, draw) -> None:
    raw = bytearray(p.encode_info(tfi, data))
    at = draw.draw(st.integers(1, len(raw) - 1))  # byte 0 is preamble, not covered by checks
    raw[at] ^= draw.draw(st.integers(1, 255))
    with pytest.raises(FrameError):
        p.decode(bytes(raw))


def clean_noise(b: bytes) -> bytes:
    """Line noise with no start code in it and not beginning FF (a postamble 00 before it
    would make one)."""
    while p.START in b:
        b = b.replace(p.START, b"\x00\xfe")
    b = b"\x01" + b[1:] if b[:1] == b"\xff" else b
    return b if b.strip(b"\x00") else b + b"\x01"  # zeros alone are preamble, not noise


def garbage() -> st.SearchStrategy[bytes]:
    return st.binary(min_size=1, max_size=40).map(clean_noise)


KINDS = ("good", "garbage", "corrupt", "truncated")


def make_segment(tfi_ok: int, kind: str, tfi: int, data: bytes, at: int, flip: int, cut: int,
                 noise: bytes) -> tuple[bytes, p.Frame | None, bool]:
    """(bytes, good frame or None, whether the link would time out and flush after it)."""
    raw = p.encode_info(tfi, data)
    if kind == "good":
        return raw, (p.Frame("info", tfi, data) if tfi == tfi_ok else None), False
    if kind == "garbage":
        return noise, None, False
    if kind == "corrupt":
        bad = bytearray(raw)
        i = 1 + at % (len(raw) - 1)
        bad[i] ^= flip
        return bytes(bad), None, False
    return raw[:3 + cut % (len(raw) - 3)], None, True  # truncated: the link times out, flushes


def segment(tfi_ok: int):
    return st.builds(lambda *a: make_segment(tfi_ok, *a), st.sampled_from(KINDS), tfis, datas,
                     st.integers(0, 10_000), st.integers(1, 255), st.integers(0, 10_000),
                     garbage())


def random_segments(rng: random.Random, tfi_ok: int) -> list:
    """What ``segment`` draws, from a seeded generator: the slow fuzz's 100,000 inputs cost
    seconds this way, not the minutes Hypothesis's bookkeeping takes."""
    return [make_segment(tfi_ok, rng.choice(KINDS), rng.choice((p.TFI_HOST, p.TFI_PN532)),
                         rng.randbytes(rng.randint(1, 64)), rng.randrange(10_001),
                         rng.randint(1, 255), rng.randrange(10_001),
                         clean_noise(rng.randbytes(rng.randint(1, 40))))
            for _ in range(rng.randint(1, 6))]


def usable(segments: list) -> bool:
    """Damaged bytes that happen to hold a start code may hide a real frame: not a test."""
    return all(no_start_inside(raw) or frame is not None for raw, frame, _ in segments)


def run_stream(segments: list, tfi_ok: int) -> None:
    r = p.FrameReader(expect_tfi=tfi_ok)
    got, want, bad = [], [], 0
    for raw, frame, flush in segments:
        got += r.feed(raw)
        if frame is not None:
            want.append(frame)
        else:
            bad += 1
        if flush:
            r.flush()
    got += r.feed(b"\x00")  # a last postamble byte; nothing may still be waiting
    assert got == want
    s = r.stats
    noticed = r.frames_bad + s["flushed"] + s["garbage_bytes"]
    assert noticed >= 1 if bad else noticed == 0
    assert s["frames_ok"] == len(want)


@settings(max_examples=300, deadline=None)
@given(st.lists(segment(p.TFI_PN532), min_size=1, max_size=6))
def test_stream_fuzz(segments: list) -> None:
    assume(usable(segments))
    run_stream(segments, p.TFI_PN532)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_invent_a_frame(raw: bytes) -> None:
    check_random(raw)


def check_random(raw: bytes) -> None:
    """Whatever comes out was sent verbatim, checksums and all (no frame is made up)."""
    for frame in p.FrameReader().feed(raw):
        assert frame.encode()[1:] in raw
        if frame.kind == "info":
            assert sum_oracle(frame.encode()) or len(frame.data) >= 255


def stream_fuzz(count: int, seed: int) -> int:
    """``count`` usable segment lists from ``seed`` through ``run_stream``; returns how many
    were drawn (the unusable ones are drawn again)."""
    rng = random.Random(seed)
    drawn = done = 0
    while done < count:
        segments = random_segments(rng, p.TFI_PN532)
        drawn += 1
        if usable(segments):
            run_stream(segments, p.TFI_PN532)
            done += 1
    return drawn


def random_bytes_fuzz(count: int, seed: int) -> None:
    rng = random.Random(seed)
    good = p.encode_info(p.TFI_PN532, b"\x4b\x01")
    for i in range(count):
        raw = rng.randbytes(rng.randint(0, 300))
        if i % 4 == 0:  # some near-frames too: a real frame cut, flipped or inside noise
            bad = bytearray(good)
            bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
            raw = raw[:20] + bytes(bad[:rng.randint(1, len(bad))]) + raw[20:]
        check_random(raw)


def test_seeded_fuzz_runs_and_can_fail(monkeypatch) -> None:
    assert stream_fuzz(200, 1) >= 200
    random_bytes_fuzz(200, 2)
    # A reader that invents a frame out of noise is caught.
    invent = p.Frame("info", p.TFI_PN532, b"\x99")
    monkeypatch.setattr(p.FrameReader, "feed", lambda self, raw: [invent])
    with pytest.raises(AssertionError):
        random_bytes_fuzz(5, 3)


@pytest.mark.slow
def test_stream_fuzz_100k_inputs() -> None:
    stream_fuzz(100_000, 0x532)


@pytest.mark.slow
def test_random_bytes_100k_inputs() -> None:
    random_bytes_fuzz(100_000, 0x533)
