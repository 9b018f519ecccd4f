import pytest
from hypothesis import given, strategies as st

from kiosk.flow.account import (
    AccountNumberError,
    check_account_number,
    make_account_number,
    mask_account,
)
from kiosk.flow.money import format_minor, parse_major


def test_format_minor():
    assert format_minor(12345) == "¥123.45"
    assert format_minor(5) == "¥0.05"
    assert format_minor(-100) == "-¥1.00"
    assert format_minor(123456789) == "¥1,234,567.89"


@pytest.mark.parametrize("bad", [1.5, True, "100", None])
def test_money_refuses_non_integers(bad):
    with pytest.raises(TypeError):
        format_minor(bad)


@given(st.integers(min_value=0, max_value=10**12))
def test_parse_format_round_trip(minor):
    assert parse_major(format_minor(minor, symbol="")) == minor


@pytest.mark.parametrize("bad", ["", "1.234", "abc", "1..2", "-5", "1e3"])
def test_parse_major_rejects(bad):
    with pytest.raises(ValueError):
        parse_major(bad)


@pytest.mark.parametrize(
    "text,reason",
    [
        ("", "empty"),
        ("12345abcde", "not_digits"),
        ("１２３４５６７８９０", "not_digits"),  # full-width digits from an IME
        ("123", "wrong_length"),
        ("10000000161", "wrong_length"),
        ("1000000017", "bad_check_digit"),
    ],
)
def test_account_number_rejections(text, reason):
    with pytest.raises(AccountNumberError) as err:
        check_account_number(text)
    assert err.value.reason == reason


def test_account_number_accepts_spaces_and_dashes():
    assert check_account_number(" 1000-0000 16 ") == "1000000016"


@given(st.text(alphabet="0123456789", min_size=9, max_size=9), st.integers(0, 9), st.integers(1, 9))
def test_single_digit_typo_is_caught(payload, pos, delta):
    good = make_account_number(payload)
    digits = list(good)
    digits[pos] = str((int(digits[pos]) + delta) % 10)
    with pytest.raises(AccountNumberError):
        check_account_number("".join(digits))


def test_mask_account():
    assert mask_account("1000000016") == "******0016"
