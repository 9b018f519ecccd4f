"""The prepaid card layout (kiosk/flow/prepaid_card.py): any write torn at any byte leaves the
card's old purchase readable, a finished write makes the new one current, retries never
write a purchase twice, and nothing touches block 0 or a sector trailer."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.flow import prepaid_card as pc

BLANK = b"\x00" * 16


def token(seq: int, purchase_no: int | None = None, units: int = 1000, cumulative: int | None = None,
          mac: bytes = b"\x11" * 8) -> pc.PurchaseToken:
    return pc.PurchaseToken(purchase_no or seq + 100, seq, units,
                            cumulative if cumulative is not None else units * seq, 1, mac)


def blank_card() -> dict[int, bytes]:
    return {b: BLANK for b in pc.blocks_to_read()}


def steps(blocks: dict[int, bytes], t: pc.PurchaseToken) -> list[tuple[int, bytes]]:
    """Every block write the plan asks for, from this card to ``t`` done."""
    done: list[tuple[int, bytes]] = []
    card = dict(blocks)
    for _ in range(4):
        step = pc.plan(pc.read_state(card), t)
        if isinstance(step, pc.WriteSlot):
            writes = list(step.blocks)
        elif isinstance(step, pc.FlipPointer):
            writes = [(step.block, step.data)]
        else:
            return done
        for block, data in writes:
            card[block] = data
            done.append((block, data))
    raise AssertionError("the plan did not converge")


def apply(blocks: dict[int, bytes], writes: list[tuple[int, bytes]]) -> dict[int, bytes]:
    card = dict(blocks)
    for block, data in writes:
        card[block] = data
    return card


def card_with(*tokens: pc.PurchaseToken) -> dict[int, bytes]:
    card = blank_card()
    for t in tokens:
        card = apply(card, steps(card, t))
    return card


def test_record_round_trip_and_layout_blocks():
    t = token(7, units=12_345, cumulative=99_999)
    a, b = pc.encode_record(t)
    assert len(a) == len(b) == 16
    assert pc.decode_record(a, b) == t
    assert all(blk != 0 and blk % 4 != 3 for blk in pc.blocks_to_read())


def test_a_first_purchase_goes_to_slot_0_then_the_pointer_flips():
    writes = steps(blank_card(), token(1))
    assert [b for b, _ in writes] == [4, 5, 6]
    state = pc.read_state(apply(blank_card(), writes))
    assert state.current == token(1) and state.pointer == 0


def test_the_next_purchase_goes_into_the_spare_slot():
    card = card_with(token(1))
    writes = steps(card, token(2))
    assert [b for b, _ in writes] == [8, 9, 6]
    state = pc.read_state(apply(card, writes))
    assert state.current == token(2) and state.records[0] == token(1)
    # and the third overwrites the oldest, never the current one
    assert [b for b, _ in steps(apply(card, writes), token(3))] == [4, 5, 6]


def test_a_finished_purchase_is_never_written_again():
    card = card_with(token(1), token(2))
    assert isinstance(pc.plan(pc.read_state(card), token(2)), pc.AlreadyDone)
    assert steps(card, token(2)) == []


def test_a_card_ahead_of_the_token_is_not_written():
    card = card_with(token(1), token(5))
    assert isinstance(pc.plan(pc.read_state(card), token(3)), pc.CardAhead)
    assert isinstance(pc.plan(pc.read_state(card), token(5, mac=b"\x22" * 8)), pc.CardAhead)


def test_tokens_refuse_what_does_not_fit_the_card():
    with pytest.raises(ValueError):
        token(0)
    with pytest.raises(ValueError):
        pc.PurchaseToken(1, 1, 2**32, 1, 1, b"\x00" * 8)
    with pytest.raises(ValueError):
        pc.PurchaseToken(1, 1, 1.5, 1, 1, b"\x00" * 8)  # type: ignore[arg-type]


def _torn(old: bytes, new: bytes, n: int) -> bytes:
    """What a tearing write leaves: the first n new bytes, the old ones after them."""
    return new[:n] + old[n:]


@st.composite
def history(draw):
    n = draw(st.integers(0, 3))
    units = draw(st.lists(st.integers(1, 50_000), min_size=n + 1, max_size=n + 1))
    cumulative, tokens = 0, []
    for seq, u in enumerate(units, start=1):
        cumulative += u
        tokens.append(pc.PurchaseToken(seq + 500, seq, u, cumulative,
                                       draw(st.integers(0, 255)), draw(st.binary(min_size=8, max_size=8))))
    return tokens[:-1], tokens[-1]


@settings(max_examples=300, deadline=None)
@given(history(), st.data())
def test_any_torn_block_leaves_the_old_purchase_readable(hist, data):
    old_tokens, new = hist
    card = card_with(*old_tokens)
    old = pc.read_state(card).current
    writes = steps(card, new)
    assert len(writes) == 3
    # the card leaves during write number k, after n of its 16 bytes reached the card
    k = data.draw(st.integers(0, len(writes) - 1), label="write")
    n = data.draw(st.integers(0, 16), label="bytes")
    block, new_bytes = writes[k]
    torn = apply(card, writes[:k])
    torn[block] = _torn(torn[block], new_bytes, n)
    state = pc.read_state(torn)
    slot_complete = k >= 2 or (k == 1 and n == 16)
    if slot_complete:
        assert state.current == new
    else:
        assert state.current == old  # the old slot is intact and still the card's purchase
    # the retry from the torn card finishes with exactly the new purchase, nothing else lost
    done = apply(torn, steps(torn, new))
    final = pc.read_state(done)
    assert final.current == new and final.pointer == final.current_slot
    if old is not None:
        assert old in final.records  # the previous purchase stays in the other slot
        assert final.current.cumulative > old.cumulative


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16))
def test_garbage_never_reads_as_a_record(a, b):
    record = pc.decode_record(a, b)
    if record is not None:  # only a block pair with a matching CRC-32 decodes
        assert pc.encode_record(record) == (a, b)
