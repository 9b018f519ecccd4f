"""Serial 2D scanner framing (tests/vectors/serial2d.json) and the stream decoder: every bad
line dropped and counted, never a FrameError out of ``feed`` and never a wrong code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import FrameError
from drivers.scanner.serial2d import protocol as p

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "serial2d.json")
                     .read_text("utf-8"))


def framing_of(vector: dict) -> p.Framing:
    f = vector.get("framing", {})
    return p.Framing(bytes.fromhex(f.get("prefix", "")), bytes.fromhex(f.get("suffix", "")),
                     f.get("aim", False))


@pytest.mark.parametrize("vector", VECTORS["lines"], ids=lambda v: v["source"][:40])
def test_line_vectors(vector: dict) -> None:
    decoder = p.LineDecoder(framing_of(vector))
    out = decoder.feed(bytes.fromhex(vector["hex"]))
    if "dropped" in vector:
        assert out == []
        assert decoder.stats[vector["dropped"]] == 1
    else:
        assert out == [p.Scan(vector["text"], vector.get("aim", ""))]
        assert decoder.stats["scans"] == 1


@pytest.mark.parametrize("vector", VECTORS["menu"], ids=lambda v: v["body"])
def test_menu_vectors(vector: dict) -> None:
    assert p.menu_command(vector["body"], vector["storage"]) == bytes.fromhex(vector["command"])
    reply = bytes.fromhex(vector["reply"])
    decoder = p.LineDecoder()
    [item] = decoder.feed(reply)
    assert item == p.MenuReply(reply[:-2].decode(), vector["status"])
    assert p.encode_reply(item, vector["storage"]) == reply


def test_trigger_commands() -> None:
    assert p.TRIGGER_ON == bytes.fromhex(VECTORS["trigger"]["on"])
    assert p.TRIGGER_OFF == bytes.fromhex(VECTORS["trigger"]["off"])


def test_a_reply_and_a_code_in_one_read_are_both_seen() -> None:
    decoder = p.LineDecoder()
    out = decoder.feed(b"TRGMOD3\x06!DF3101000010202611\r\n")
    assert out == [p.MenuReply("TRGMOD3", "ack"), p.Scan("DF3101000010202611")]


def test_overlong_line_is_dropped_and_the_next_one_read() -> None:
    decoder = p.LineDecoder(p.Framing(max_length=16))
    out = decoder.feed(b"1" * 40 + b"\r" + b"1" * 16 + b"\r")
    assert out == [p.Scan("1" * 16)]
    assert decoder.stats["overlong"] == 1
    assert decoder.feed(b"1" * 17 + b"\r") == [] and decoder.stats["overlong"] == 2


def test_partial_line_is_dropped_not_joined_to_the_next() -> None:
    decoder = p.LineDecoder()
    assert decoder.feed(b"DF31010") == [] and decoder.pending
    assert decoder.drop_partial() and decoder.stats["partial"] == 1
    assert decoder.feed(b"ABC\r") == [p.Scan("ABC")]
    assert not decoder.drop_partial()


def test_encode_then_decode_round_trip() -> None:
    framing = p.Framing(b"\x02", b"\x03", aim=True)
    wire = p.encode_scan(p.Scan("DF3101000010202611", "]Q1"), framing, crlf=True)
    assert p.LineDecoder(framing).feed(wire) == [p.Scan("DF3101000010202611", "]Q1")]
    assert p.Scan("x", "]Q1").symbology == "qr" and p.Scan("x").symbology == ""


@pytest.mark.parametrize("bad", [b"", b"\x01A", b"A\xff", b"9" * 300])
def test_decode_line_raises_frame_error(bad: bytes) -> None:
    with pytest.raises(FrameError):
        p.decode_line(bad)


@pytest.mark.parametrize("kwargs", [{"max_length": 2}, {"prefix": b"\r"}, {"suffix": "é".encode()}])
def test_bad_framing(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        p.Framing(**kwargs)


def test_menu_command_checks_its_text() -> None:
    with pytest.raises(ValueError):
        p.menu_command("TRG\rMOD")
    with pytest.raises(ValueError):
        p.menu_command("TRGMOD3", "?")


def test_codes_are_masked() -> None:
    assert p.mask_code("134567890123456789") == "13************6789"
    assert p.mask_code("1234") == "****"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=8))
def test_fuzz_every_code_out_is_a_clean_line(chunks: list[bytes]) -> None:
    decoder = p.LineDecoder(p.Framing(max_length=32))
    for chunk in chunks:
        for item in decoder.feed(chunk):
            if isinstance(item, p.Scan):
                assert 1 <= len(item.text) <= 32
                assert all(0x20 <= ord(c) < 0x7F for c in item.text)
        decoder.drop_partial()
