"""ESC/POS protocol: status bytes, Chinese encoding, the stream decoder (against python-escpos's
own output), and a fuzz run: the decoder may only ever raise FrameError."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.vectors import load as load_vectors
from escpos.printer import Dummy
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import FrameError
from drivers.interfaces import PaperState
from drivers.printer.escpos import decoder as D
from drivers.printer.escpos import protocol as P

VALID = [b for b in range(256) if b & 0x93 == 0x12]


# ---------------------------------------------------------------- status bytes
def test_shared_vectors() -> None:
    examples = load_vectors("escpos_status")["examples"]
    got = {}
    for e in examples:
        got[(e["n"], int(e["reply"], 16))] = P.decode_status(e["n"], int(e["reply"], 16))
    assert got[(1, 0x16)] == P.PrinterByte(False, True, False, False)  # bit2 = drawer pin only
    assert got[(1, 0x1E)].offline is True
    assert got[(2, 0x12)] == P.OfflineCause(False, False, False, False)
    assert got[(2, 0x16)].cover_open is True
    assert got[(2, 0x32)].paper_end_stop is True and got[(2, 0x32)].cover_open is False
    assert got[(4, 0x12)] == P.PaperSensor(near_end=False, paper_out=False)
    assert got[(4, 0x1E)] == P.PaperSensor(near_end=True, paper_out=False)
    assert got[(4, 0x72)] == P.PaperSensor(near_end=False, paper_out=True)


@pytest.mark.parametrize(
    "n, bit, field",
    [
        (1, 2, "drawer_pin_high"), (1, 3, "offline"),
        (1, 5, "waiting_recovery"), (1, 6, "feed_button"),
        (2, 2, "cover_open"), (2, 3, "feed_button"), (2, 5, "paper_end_stop"), (2, 6, "error"),
        (3, 2, "recoverable"), (3, 3, "autocutter"),
        (3, 5, "unrecoverable"), (3, 6, "auto_recoverable"),
        (4, 2, "near_end"), (4, 3, "near_end"), (4, 5, "paper_out"), (4, 6, "paper_out"),
    ],
)  # fmt: skip
def test_each_status_bit(n: int, bit: int, field: str) -> None:
    decoded = P.decode_status(n, 0x12 | 1 << bit)
    assert getattr(decoded, field) is True
    others = {k: v for k, v in vars(decoded).items() if k != field}
    assert not any(others.values()), others
    assert not any(vars(P.decode_status(n, 0x12)).values())


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_every_byte_failing_fixed_bits_is_rejected(n: int) -> None:
    for byte in range(256):
        if byte in VALID:
            P.decode_status(n, byte)
        else:
            with pytest.raises(FrameError):
                P.decode_status(n, byte)
    assert len(VALID) == 16
    for byte in (0x00, 0xFF, 0x13, 0x92, 0x02, 0x10):  # each breaks one fixed bit (or all)
        assert byte not in VALID


def test_out_of_range_requests_and_bytes() -> None:
    for n, byte in ((0, 0x12), (5, 0x12), (1, 256), (1, -1)):
        with pytest.raises(FrameError):
            P.decode_status(n, byte)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_encode_decode_round_trip(n: int) -> None:
    for byte in VALID:
        decoded = P.decode_status(n, byte)
        assert P.decode_status(n, P.encode_status(decoded)) == decoded
        if n != 4:  # n = 4 folds the bit pairs; others are lossless
            assert P.encode_status(decoded) == byte


def test_combine_status() -> None:
    ok1 = P.PrinterByte(False, False, False, False)
    ok2 = P.OfflineCause(False, False, False, False)
    ok4 = P.PaperSensor(False, False)
    assert P.combine_status(ok1, ok2, ok4).can_print
    unknown = P.combine_status(None, None, None)
    assert (
        unknown.online is None
        and unknown.cover_open is None
        and unknown.paper is PaperState.UNKNOWN
    )
    assert not unknown.can_print
    partial = P.combine_status(ok1, None, None)
    assert partial.online is True and not partial.can_print
    assert P.combine_status(ok1, ok2, P.PaperSensor(True, False)).paper is PaperState.NEAR_END
    stopped = P.OfflineCause(False, False, True, False)  # paper end stop even if sensor says ok
    assert P.combine_status(ok1, stopped, ok4).paper is PaperState.OUT


# ---------------------------------------------------------------- Chinese text
RECEIPT_LINE = "户名：张*明，金额（元）：¥100.00。「已缴」、谢谢；"
PUNCT_GB = {"，": "a3ac", "。": "a1a3", "：": "a3ba", "；": "a3bb", "（": "a3a8", "）": "a3a9",
            "「": "a1b8", "」": "a1b9", "、": "a1a2"}  # fmt: skip


def test_chinese_encoding_yen_and_punctuation() -> None:
    data = P.encode_chinese(RECEIPT_LINE)
    assert bytes.fromhex("a3a4") in data  # full-width ￥, two bytes
    assert bytes.fromhex("81308436") not in data  # GB18030's 4-byte ¥ garbles GB2312 fonts
    for ch, code in PUNCT_GB.items():
        assert P.encode_chinese(ch) == bytes.fromhex(code), ch
    assert b"100.00" in data  # ASCII stays single-byte


def test_chinese_line_round_trips_through_decoder() -> None:
    stream = P.INIT + P.KANJI_ON + P.encode_chinese(RECEIPT_LINE) + b"\n" + P.KANJI_OFF
    assert D.decode(stream).lines == [RECEIPT_LINE.replace("¥", "￥")]


def test_chinese_bytes_without_kanji_mode_print_garbage() -> None:
    # What python-escpos does by itself: GB18030 bytes, no FS & (it never selects Chinese mode).
    stream = P.INIT + P.encode_chinese(RECEIPT_LINE) + b"\n"
    assert D.decode(stream).lines != [RECEIPT_LINE.replace("¥", "￥")]


def test_control_characters_in_text_cannot_become_commands() -> None:
    data = P.encode_chinese("名\x1bi\x1dV\x00字\n")
    assert all(b >= 0x20 for b in data)
    assert D.decode(P.KANJI_ON + data + b"\n").lines == ["名 i V 字 "]


# ---------------------------------------------------------------- decoder vs python-escpos
def _dummy_receipt() -> bytes:
    p = Dummy()
    p.hw("INIT")
    p.set(align="center", bold=True, double_height=True, double_width=True)
    p.textln("RECEIPT 0042")
    p.set_with_default()
    p.textln("Grüße Tőkés Ωmega ¥5")  # python-escpos switches code pages (ESC t) itself
    p.textln("")
    p.qr("https://pay.example/r/0042?k=é", native=True, size=6)
    p.cut()
    return p.output


def test_python_escpos_text_qr_cut_decodes() -> None:
    out = _dummy_receipt()
    assert b"\x1bt\x12" in out  # a code-page switch really happened
    d = D.decode(out)
    assert d.lines == ["RECEIPT 0042", "Grüße Tőkés Ωmega ¥5", ""]
    assert d.qr == ["https://pay.example/r/0042?k=é"]
    assert d.cuts == 1 and d.unknown == 0 and d.truncated == 0
    assert isinstance(d.events[0], D.Init) and isinstance(d.events[-1], D.Cut)


def test_python_escpos_raster_barcode_and_cut_variants() -> None:
    p = Dummy()
    p.barcode("123456789012", "EAN13")
    p.qr("raster", native=False)  # GS v 0 image
    p.cut(mode="PART")
    p.cut(feed=False)
    d = D.decode(p.output)
    assert [type(e) for e in d.events if not isinstance(e, D.TextLine)] == [D.Raster, D.Cut, D.Cut]
    assert [e.partial for e in d.events if isinstance(e, D.Cut)] == [True, True]
    assert all(line == "" for line in d.lines) and d.unknown == 0


@settings(max_examples=150, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12))
def test_decoder_is_independent_of_chunking(cuts: list[int]) -> None:
    out = _dummy_receipt() + P.status_request(4) + b"\x1b\x7f\x00tail"
    whole = D.decode(out)
    dec = D.EscPosDecoder()
    events: list[P.Event] = []
    prev = 0
    for c in sorted(set(cuts)) + [len(out)]:
        events += dec.feed(out[prev:c])
        prev = max(prev, c)
    tail = dec.finish()
    assert events + tail.events == whole.events
    assert (tail.unknown, tail.truncated) == (whole.unknown, whole.truncated)


def test_status_requests_unknown_and_truncated() -> None:
    d = D.decode(b"AB\x1b\x7fC\x00\n" + P.status_request(1) + P.status_request(4) + b"\x10\x04\x09")
    assert d.lines == ["ABC"]
    requests = [e for e in d.events if isinstance(e, D.StatusRequest)]
    assert requests == [D.StatusRequest(1), D.StatusRequest(4)]
    assert d.unknown == 3  # ESC 0x7F, NUL, DLE EOT 9
    half_qr = b"\x1d(k\x14\x001P0https://x"
    assert D.decode(half_qr).truncated == 1
    huge_raster = D.decode(b"\x1dv0\x00\xff\xff\xff\xffX\n")  # 4 GB picture: garbage
    assert huge_raster.unknown == 2 and huge_raster.lines == ["\xa0" * 4 + "X"]  # + stray NUL


def test_oversized_block_is_skipped_not_buffered() -> None:
    dec = D.EscPosDecoder()
    dec.feed(b"\x1d8L\xff\xff\xff\x7f" + b"ok\n")  # a 2 GB length field: garbage
    assert dec.unknown == 1
    assert dec._pending == b""


def test_text_pending_at_init_is_discarded() -> None:
    assert D.decode(b"lost" + P.INIT + b"kept\n").lines == ["kept"]


# ---------------------------------------------------------------- fuzz
def _check(data: bytes) -> None:
    try:
        D.decode(data)
    except FrameError:
        pass


def test_fuzz_random_bytes() -> None:
    rnd = random.Random(0xE5C)
    for _ in range(100_000):
        _check(rnd.randbytes(rnd.randrange(0, 40)))


def test_fuzz_command_fragments() -> None:
    # Random bytes rarely form a command; splice real command heads so the parsers run deep.
    frags = [b"\x1b", b"\x1d", b"\x1c", b"\x10", b"\x04", b"\x14", b"(k", b"(L", b"8L", b"v0",
             b"V", b"k", b"*", b"D", b"&", b".", b"t", b"@", b"\n", b"\x00", b"\xff", b"1P0",
             b"1Q0", b"A", b"\x41\x08", b"\xa3\xa4", b"\x81\x30"]  # fmt: skip
    rnd = random.Random(42)
    for _ in range(20_000):
        parts = [
            rnd.choice(frags) if rnd.random() < 0.7 else rnd.randbytes(rnd.randrange(1, 4))
            for _ in range(rnd.randrange(1, 12))
        ]
        _check(b"".join(parts))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_hypothesis(data: bytes) -> None:
    _check(data)
