"""Kinsoku line breaking, a pure function: no line starts with closing punctuation or ends with
opening punctuation, and a number stays with its unit, a range stays whole, a word unsplit."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from kiosk.ui.linebreak import CLOSING, OPENING, units, wrap

NO_START = "。，、；：？！）」"
NO_END = "（「"


def by_chars(n: int):
    return lambda line: len(line) <= n


def test_the_punctuation_rules_cover_the_required_characters():
    assert set(NO_START) <= CLOSING and set(NO_END) <= OPENING


@pytest.mark.parametrize("width", range(3, 16))
def test_no_line_starts_with_closing_or_ends_with_opening_punctuation(width):
    text = "您好。本月用电230度，应缴¥78.50（含违约金）。营业时间8:00-18:00「周一至周五」！"
    lines = wrap(text, by_chars(width)).split("\n")
    assert "".join(lines) == text
    for line in lines:
        assert line and line[0] not in NO_START, lines
        assert line[-1] not in NO_END, lines


@pytest.mark.parametrize("width", range(4, 12))
def test_numbers_keep_their_units_and_ranges_stay_whole(width):
    text = "本月用电230度，营业时间8:00-18:00，请在10分钟内放入50元钞票。"
    lines = wrap(text, by_chars(width)).split("\n")
    joined = "\n".join(lines)
    for whole in ("230度", "8:00-18:00", "10分钟", "50元"):
        assert whole in joined.replace("\n", "") and any(whole in line for line in lines), lines


def test_a_lone_full_stop_joins_the_line_before():
    # seven characters and a full stop into lines of seven: a plain wrap leaves "。" alone
    assert wrap("请取走您的小票。", by_chars(7)) == "请取走您的小\n票。"


def test_latin_words_break_at_spaces_and_existing_breaks_stay():
    assert wrap("Finish payment now", by_chars(10)) == "Finish\npayment\nnow"
    assert wrap("终端号：\nKIOSK-0001", by_chars(40)) == "终端号：\nKIOSK-0001"


def test_a_unit_wider_than_a_line_gets_a_line_of_its_own():
    assert wrap("时间8:00-18:00。", by_chars(4)) == "时间\n8:00-18:00。"


def test_units_glue_opening_punctuation_to_what_follows():
    assert units("（周一）") == ["（周", "一）"]


@given(st.text(alphabet="电费。，（）「」230度元:- ab", max_size=40), st.integers(2, 12))
def test_wrapping_only_adds_line_breaks(text, width):
    out = wrap(text, by_chars(width))
    assert out.replace("\n", "") == "".join(text.split("\n")).replace(" ", "") or \
        out.replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")
