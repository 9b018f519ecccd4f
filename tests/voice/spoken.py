"""Reading clip ids back into fen, strictly: only the canonical reading parses, so composing
then parsing back proves the composer says every amount and says it the one right way (a
missing 零, a 一十 at the start or a stray "zero" fails)."""

from __future__ import annotations

ZH_DIGIT = {f"num.{d}": d for d in range(10)}
ZH_UNIT = {"num.thousand": 1000, "num.hundred": 100, "num.ten": 10}


class Unreadable(ValueError):
    pass


def _zh_section(ids: list[str], leading: bool) -> int:
    """1..9999: digit+unit pairs in falling order, 零 once for each run of skipped places."""
    if not ids:
        raise Unreadable("empty section")
    value, last_place, i, zero_seen = 0, 10_000, 0, False
    while i < len(ids):
        tok = ids[i]
        if tok == "num.0":
            if zero_seen or value == 0:
                raise Unreadable("零 where it is not needed")
            zero_seen = True
            i += 1
            continue
        if leading and value == 0 and tok == "num.ten":
            digit, place, i = 1, 10, i + 1  # 十 alone starts 10–19
        else:
            if tok not in ZH_DIGIT:
                raise Unreadable(f"{tok} where a digit goes")
            digit = ZH_DIGIT[tok]
            if i + 1 < len(ids) and ids[i + 1] in ZH_UNIT:
                place, i = ZH_UNIT[ids[i + 1]], i + 2
            else:
                place, i = 1, i + 1
            if digit == 1 and place == 10 and leading and value == 0:
                raise Unreadable("一十 at the start")
        if place >= last_place:
            raise Unreadable("places out of order")
        skipped = place * 10 < last_place and value > 0
        if skipped != zero_seen:
            raise Unreadable("零 missing" if skipped else "零 without a gap")
        value += digit * place
        last_place, zero_seen = place, False
    if zero_seen:
        raise Unreadable("trailing 零")
    return value


def zh_integer(ids: list[str]) -> int:
    if ids == ["num.0"]:
        return 0
    if "num.wan" in ids:
        at = ids.index("num.wan")
        high = _zh_section(ids[:at], leading=True)
        rest = ids[at + 1:]
        if not rest:
            return high * 10_000
        if rest[0] == "num.0":
            low = _zh_section(rest[1:], leading=False)
            if low >= 1000:
                raise Unreadable("零 before a full thousands place")
        else:
            low = _zh_section(rest, leading=False)
            if low < 1000:
                raise Unreadable("零 missing after 万")
        return high * 10_000 + low
    return _zh_section(ids, leading=True)


def zh_amount(clips: tuple[str, ...]) -> int:
    ids = list(clips)
    yuan = jiao = fen = 0
    if "unit.yuan" in ids:
        at = ids.index("unit.yuan")
        yuan, ids = zh_integer(ids[:at]), ids[at + 1:]
        if yuan == 0 and ids:
            raise Unreadable("零元 before jiao or fen")
    if ids[:1] != [] and len(ids) >= 2 and ids[1] == "unit.jiao":
        jiao, ids = ZH_DIGIT[ids[0]], ids[2:]
        if jiao == 0:
            raise Unreadable("零角")
    if ids:
        if ids[0] == "num.0":
            if not yuan or jiao:
                raise Unreadable("零 before fen where it is not needed")
            ids = ids[1:]
        elif yuan and not jiao:
            raise Unreadable("零 missing before fen")
        if len(ids) != 2 or ids[1] != "unit.fen" or ids[0] not in ZH_DIGIT or ids[0] == "num.0":
            raise Unreadable(f"cannot read {ids}")
        fen = ZH_DIGIT[ids[0]]
    if "unit.yuan" not in clips and not (jiao or fen):
        raise Unreadable("nothing said")
    return yuan * 100 + jiao * 10 + fen


EN_WORD = {f"num.{n}": n for n in list(range(20)) + list(range(20, 100, 10))}


def _en_below_1000(ids: list[str]) -> int:
    value, i = 0, 0
    if len(ids) >= 2 and ids[1] == "num.hundred":
        h = EN_WORD.get(ids[0], 0)
        if not 1 <= h <= 9:
            raise Unreadable("bad hundreds")
        value, i = h * 100, 2
    rest = ids[i:]
    if rest:
        first = EN_WORD.get(rest[0])
        if first is None or first == 0:
            raise Unreadable(f"cannot read {rest}")
        if first >= 20 and len(rest) == 2:
            second = EN_WORD.get(rest[1])
            if second is None or not 1 <= second <= 9:
                raise Unreadable(f"cannot read {rest}")
            value += first + second
        elif len(rest) == 1:
            value += first
        else:
            raise Unreadable(f"cannot read {rest}")
    if value == 0:
        raise Unreadable("empty")
    return value


def en_integer(ids: list[str]) -> int:
    if ids == ["num.0"]:
        return 0
    if "num.thousand" in ids:
        at = ids.index("num.thousand")
        high = _en_below_1000(ids[:at])
        rest = ids[at + 1:]
        return high * 1000 + (_en_below_1000(rest) if rest else 0)
    return _en_below_1000(ids)


def en_amount(clips: tuple[str, ...]) -> int:
    ids = list(clips)
    if ids[-1] == "unit.fen":
        if "unit.yuan" in ids:
            raise Unreadable("fen after yuan is said without its unit")
        fen = en_integer(ids[:-1])
        if not 1 <= fen <= 99:
            raise Unreadable("fen out of range")
        return fen
    at = ids.index("unit.yuan")
    yuan, rest = en_integer(ids[:at]), ids[at + 1:]
    fen = en_integer(rest) if rest else 0
    if rest and not 1 <= fen <= 99:
        raise Unreadable("fen out of range")
    return yuan * 100 + fen


PARSERS = {"zh_CN": zh_amount, "en": en_amount}
