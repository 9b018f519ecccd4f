"""Amounts in fen spoken from number clips: a tuple of clip ids per language.

Chinese reads money as 元/角/分 with the 零 rules of written Chinese numerals (a zero between
non-zero digits is said once, trailing zeros are not; 十 alone starts 10–19): 12850 fen →
一百二十八元五角, 100500 → 一千零五元, 101 → 一元零一分. English: "seventy-eight yuan fifty"
(the fen as a number after the yuan), "fifty fen" below one yuan. Integer arithmetic only
(docs/promises.md: money is integer minor units).
"""

from __future__ import annotations

#: the largest amount the terminal ever says: 999,999.99 yuan
MAX_MINOR = 99_999_999

ZH_DIGITS = tuple(f"num.{d}" for d in range(10))  # num.0 is 零
ZH_UNITS = ("num.ten", "num.hundred", "num.thousand")  # 十 百 千
ZH_WAN = "num.wan"  # 万
YUAN, JIAO, FEN = "unit.yuan", "unit.jiao", "unit.fen"

EN_SMALL = tuple(f"num.{n}" for n in range(20))
EN_TENS = tuple(f"num.{n}" for n in range(20, 100, 10))
EN_HUNDRED, EN_THOUSAND = "num.hundred", "num.thousand"

#: every clip the composer can ask for, per language (the clip check walks these)
NUMBER_CLIPS = {
    "zh_CN": frozenset(ZH_DIGITS + ZH_UNITS + (ZH_WAN, YUAN, JIAO, FEN)),
    "en": frozenset(EN_SMALL + EN_TENS + (EN_HUNDRED, EN_THOUSAND, YUAN, FEN)),
}


def _check(minor: int) -> None:
    if not isinstance(minor, int) or isinstance(minor, bool):
        raise TypeError(f"money must be integer minor units, got {minor!r}")
    if not 0 <= minor <= MAX_MINOR:
        raise ValueError(f"cannot say {minor} fen (0..{MAX_MINOR})")


def _zh_below_10000(n: int, leading: bool) -> list[str]:
    """1..9999 in Chinese numerals; ``leading``: nothing comes before it (10–19 say 十…)."""
    out: list[str] = []
    digits = [n // 1000, n // 100 % 10, n // 10 % 10, n % 10]
    units = ("num.thousand", "num.hundred", "num.ten", None)
    zero_pending = False
    started = False
    for d, unit in zip(digits, units):
        if d == 0:
            zero_pending = started
            continue
        if zero_pending:
            out.append(ZH_DIGITS[0])
            zero_pending = False
        if not (unit == "num.ten" and d == 1 and leading and not started):
            out.append(ZH_DIGITS[d])
        if unit is not None:
            out.append(unit)
        started = True
    return out


def zh_integer(n: int) -> list[str]:
    """0..99,999,999 as Chinese numerals (clip ids)."""
    if n == 0:
        return [ZH_DIGITS[0]]
    high, low = divmod(n, 10_000)
    out: list[str] = []
    if high:
        out += _zh_below_10000(high, leading=True) + [ZH_WAN]
        if low and low < 1000:
            out.append(ZH_DIGITS[0])  # 一万零五百: the empty thousands are said as 零
    if low:
        out += _zh_below_10000(low, leading=not high)
    return out


def zh_amount(minor: int) -> tuple[str, ...]:
    _check(minor)
    yuan, rest = divmod(minor, 100)
    jiao, fen = divmod(rest, 10)
    out: list[str] = []
    if yuan or not rest:
        out += zh_integer(yuan) + [YUAN]
    if jiao:
        out += [ZH_DIGITS[jiao], JIAO]
    if fen:
        if yuan and not jiao:
            out.append(ZH_DIGITS[0])  # 一元零五分
        out += [ZH_DIGITS[fen], FEN]
    return tuple(out)


def en_below_1000(n: int) -> list[str]:
    """1..999 in English words (clip ids): "seventy-eight" is num.70 num.8."""
    out: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        out += [EN_SMALL[hundreds], EN_HUNDRED]
    if rest >= 20:
        out.append(EN_TENS[rest // 10 - 2])
        if rest % 10:
            out.append(EN_SMALL[rest % 10])
    elif rest:
        out.append(EN_SMALL[rest])
    return out


def en_integer(n: int) -> list[str]:
    if n == 0:
        return [EN_SMALL[0]]
    thousands, rest = divmod(n, 1000)
    out: list[str] = []
    if thousands:
        out += en_below_1000(thousands) + [EN_THOUSAND]
    if rest:
        out += en_below_1000(rest)
    return out


def en_amount(minor: int) -> tuple[str, ...]:
    _check(minor)
    yuan, fen = divmod(minor, 100)
    if yuan == 0 and fen:
        return tuple(en_integer(fen) + [FEN])
    out = en_integer(yuan) + [YUAN]
    if fen:
        out += en_integer(fen)
    return tuple(out)


COMPOSERS = {"zh_CN": zh_amount, "en": en_amount}


def amount_clips(minor: int, lang: str) -> tuple[str, ...]:
    """The clip ids that say ``minor`` fen in ``lang``."""
    return COMPOSERS[lang](minor)
