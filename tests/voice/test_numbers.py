"""Amounts spoken from number clips: golden readings, then compose → parse back over every
pattern of the range (Hypothesis), with a strict parser that accepts only the canonical
reading (tests/voice/spoken.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.voice.numbers import MAX_MINOR, NUMBER_CLIPS, amount_clips
from kiosk.voice.prompts import LANGS, NUMBER_TEXTS, prompt, text_of
from tests.voice.spoken import PARSERS, Unreadable


def said(minor: int, lang: str) -> str:
    sep = "" if lang == "zh_CN" else " "
    return sep.join(NUMBER_TEXTS[lang][c] for c in amount_clips(minor, lang))


@pytest.mark.parametrize("minor, zh", [
    (0, "零元"), (1, "一分"), (10, "一角"), (55, "五角五分"), (100, "一元"), (105, "一元零五分"),
    (150, "一元五角"), (1_000, "十元"), (1_500, "十五元"), (5_000, "五十元"), (7_850, "七十八元五角"),
    (11_000, "一百一十元"), (12_850, "一百二十八元五角"), (100_500, "一千零五元"),
    (101_000, "一千零一十元"), (1_000_000, "一万元"), (1_001_000, "一万零一十元"),
    (1_050_000, "一万零五百元"), (1_200_000, "一万二千元"), (10_000_000, "十万元"),
    (10_050_000, "十万零五百元"), (12_345_678, "十二万三千四百五十六元七角八分"),
    (MAX_MINOR, "九十九万九千九百九十九元九角九分"),
])
def test_chinese_readings(minor, zh):
    assert said(minor, "zh_CN") == zh


@pytest.mark.parametrize("minor, en", [
    (0, "zero yuan"), (1, "one fen"), (50, "fifty fen"), (100, "one yuan"),
    (5_000, "fifty yuan"), (7_850, "seventy eight yuan fifty"),
    (12_850, "one hundred twenty eight yuan fifty"), (100_505, "one thousand five yuan five"),
    (MAX_MINOR, "nine hundred ninety nine thousand nine hundred ninety nine yuan ninety nine"),
])
def test_english_readings(minor, en):
    assert said(minor, "en") == en


def test_the_example_of_the_insert_screen():
    clips = prompt("say.credited", "zh_CN", paid=5_000, left=7_850).clips
    assert "".join(text_of(c, "zh_CN") for c in clips) == "已收五十元还差七十八元五角"
    clips = prompt("say.credited", "en", paid=5_000, left=7_850).clips
    assert " ".join(text_of(c, "en") for c in clips) == \
        "Received fifty yuan seventy eight yuan fifty still to pay"


@pytest.mark.parametrize("lang", LANGS)
def test_every_yuan_amount_up_to_100000_reads_back(lang):
    parse = PARSERS[lang]
    for yuan in range(100_000):
        assert parse(amount_clips(yuan * 100, lang)) == yuan * 100


@pytest.mark.parametrize("lang", LANGS)
def test_every_fen_pattern_reads_back(lang):
    parse = PARSERS[lang]
    for yuan in (0, 1, 10, 100, 1_000, 10_000, 100_001, 999_999):
        for rest in range(100):
            minor = yuan * 100 + rest
            assert parse(amount_clips(minor, lang)) == minor


@settings(max_examples=3000, deadline=None)
@given(st.integers(0, MAX_MINOR), st.sampled_from(LANGS))
def test_compose_then_parse_back(minor, lang):
    clips = amount_clips(minor, lang)
    assert set(clips) <= NUMBER_CLIPS[lang]
    assert PARSERS[lang](clips) == minor


@pytest.mark.parametrize("wrong", [
    ("num.1", "num.thousand", "num.5", "unit.yuan"),  # 一千五元: 零 missing
    ("num.1", "num.ten", "unit.yuan"),  # 一十元 at the start
    ("num.1", "num.0", "num.5", "unit.yuan"),  # 一零五
    ("num.1", "unit.yuan", "num.5", "unit.fen"),  # 一元五分: 零 missing
])
def test_the_parser_refuses_what_a_wrong_composer_would_say(wrong):
    with pytest.raises((Unreadable, KeyError, ValueError)):
        value = PARSERS["zh_CN"](wrong)
        assert amount_clips(value, "zh_CN") == wrong  # parsed, but not the canonical reading


@pytest.mark.parametrize("bad", [-1, MAX_MINOR + 1])
def test_out_of_range_is_refused(bad):
    with pytest.raises(ValueError):
        amount_clips(bad, "zh_CN")


def test_money_is_never_float():
    with pytest.raises(TypeError):
        amount_clips(50.0, "en")  # type: ignore[arg-type]
