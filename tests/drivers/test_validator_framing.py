"""The SYNC/LNG/CRC-16 framing ID-003 and CCNET share (bill_validator/common/framing.py), one
test body per protocol: the CRC against the published check value and an independent oracle,
round trips, and that a changed byte, truncated, surrounded or non-bytes input never decodes.
Each protocol's own vectors, tables and reader streams stay in test_id003_protocol.py and
test_ccnet_protocol.py."""

from __future__ import annotations

import binascii
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.bill_validator.ccnet import protocol as ccnet_p
from drivers.bill_validator.common.framing import crc16_kermit
from drivers.bill_validator.id003 import protocol as id003_p
from drivers.errors import FrameError

_VECTORS = Path(__file__).resolve().parents[1] / "vectors"

#: protocol -> (module, its CRC function, frames it can carry, its vector file and key)
PROTOCOLS = {
    "id003": (id003_p, id003_p.crc16_kermit,
              st.builds(id003_p.Frame, st.integers(0, 255),
                        st.binary(max_size=id003_p.MAX_DATA_LEN)),
              ("protocols.json", "id003")),
    "ccnet": (ccnet_p, ccnet_p.crc16,
              st.builds(ccnet_p.Frame, st.integers(0, 255),
                        st.binary(max_size=ccnet_p.MAX_BODY_LEN - 1), st.integers(0, 255)),
              ("ccnet.json", "ccnet")),
}
#: a frame the reader resynchronises on after damage
GOOD = {"id003": id003_p.Frame(id003_p.ENABLE_IDLING), "ccnet": ccnet_p.Frame(ccnet_p.IDLING)}
#: bytes of a frame that are not checked by decoding alone (CCNET's address: any is a frame)
UNCHECKED = {"id003": (), "ccnet": (1,)}
#: what decode must refuse without raising anything but FrameError
NOT_BYTES = {"id003": [None, "FC0511", 17, [1, 2, 3, 400], object()],
             "ccnet": [None, "020306", 17, [1, 2, 300], object()]}


def _reflect(value: int, bits: int) -> int:
    return int(f"{value:0{bits}b}"[::-1], 2)


def kermit_oracle(data: bytes) -> int:
    """CRC-16/KERMIT through the stdlib's non-reflected CCITT CRC (init 0, no xorout)."""
    flipped = bytes(_reflect(b, 8) for b in data)
    return _reflect(binascii.crc_hqx(flipped, 0), 16)


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_crc_check_value(name):
    _, crc, _, (file, key) = PROTOCOLS[name]
    check = json.loads((_VECTORS / file).read_text("utf-8"))[key]["crc_check"]
    assert check["algorithm"] == "CRC-16/KERMIT"
    assert crc(check["input_ascii"].encode()) == int(check["crc"], 16) == 0x2189
    assert crc(b"") == 0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_crc_matches_independent_oracle(data):
    assert id003_p.crc16_kermit(data) == ccnet_p.crc16(data) == crc16_kermit(data) \
        == kermit_oracle(data)


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
@settings(max_examples=500, deadline=None)
@given(data=st.data())
def test_round_trip(name, data):
    p, _, frames, _ = PROTOCOLS[name]
    frame = data.draw(frames)
    raw = frame.encode()
    assert p.decode(raw) == frame
    assert p.FrameReader().feed(raw) == [frame]


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
@settings(max_examples=300, deadline=None)
@given(data=st.data(), before=st.binary(min_size=1, max_size=20),
       after=st.binary(min_size=1, max_size=20))
def test_truncated_or_surrounded_never_decodes(name, data, before, after):
    p, _, frames, _ = PROTOCOLS[name]
    raw = data.draw(frames).encode()
    for cut in range(len(raw)):
        with pytest.raises(FrameError):
            p.decode(raw[:cut])
    with pytest.raises(FrameError):
        p.decode(before + raw)
    with pytest.raises(FrameError):
        p.decode(raw + after)


def _vector_frames(name: str) -> list[bytes]:
    file, key = PROTOCOLS[name][3]
    frames = json.loads((_VECTORS / file).read_text("utf-8"))[key]["frames"]
    raws = [bytes.fromhex(v["hex"]) for v in frames]
    return raws[:8] if name == "ccnet" else raws  # eight CCNET vectors cover its shapes


@pytest.mark.parametrize("name, raw", [(n, r) for n in sorted(PROTOCOLS)
                                       for r in _vector_frames(n)], ids=lambda v: str(v))
def test_any_single_byte_change_of_a_vector_never_decodes(name, raw):
    p = PROTOCOLS[name][0]
    for at in range(len(raw)):
        if at in UNCHECKED[name]:
            continue
        for value in range(256):
            if value == raw[at]:
                continue
            bad = raw[:at] + bytes([value]) + raw[at + 1:]
            with pytest.raises(FrameError):
                p.decode(bad)


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_single_byte_change_never_decodes_and_is_counted(name, data):
    p, _, frames, _ = PROTOCOLS[name]
    raw = data.draw(frames).encode()
    at = data.draw(st.integers(0, len(raw) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda v: v != raw[at]))
    bad = raw[:at] + bytes([value]) + raw[at + 1:]
    with pytest.raises(FrameError):
        p.decode(bad)
    # ...and a reader handed the corrupted bytes alone produces nothing either
    reader = p.FrameReader()
    assert reader.feed(bad) == []
    reader.flush()
    assert reader.frames_bad >= 1
    # ...and resynchronises on the next good frame
    assert reader.feed(GOOD[name].encode()) == [GOOD[name]]


@pytest.mark.parametrize("name, junk", [(n, j) for n in sorted(NOT_BYTES) for j in NOT_BYTES[n]])
def test_decode_of_non_bytes_raises_frame_error_only(name, junk):
    with pytest.raises(FrameError):
        PROTOCOLS[name][0].decode(junk)
