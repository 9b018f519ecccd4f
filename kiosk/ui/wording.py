"""Money as a resident says it, from integer minor units: "50元", "5角", "1元" in Chinese,
"¥50", "¥0.50" in English (docs/architecture.md, "What the screens say"). Amounts owed and paid
keep the ¥ form with two decimals (``format_minor``); notes, coins and round sums are said in
words, so a note is a "50元钞票", never a "¥50.00纸币".
"""

from __future__ import annotations

from typing import Callable, Iterable

from kiosk.flow.money import format_minor
from kiosk.ui.catalog import N_

Gettext = Callable[[str], str]

YUAN = N_("{n} yuan")  # zh: {n}元, en: ¥{n}
JIAO = N_("{n} jiao")  # zh: {n}角, en: ¥0.{n}0 (n is 1-9)
LIST_SEP = N_(", ")  # zh: 、


def say_minor(minor: int, _: Gettext) -> str:
    """A denomination or a round amount in words; anything else in the ¥ form."""
    if minor > 0 and minor % 100 == 0:
        return _(YUAN).format(n=minor // 100)
    if 0 < minor < 100 and minor % 10 == 0:
        return _(JIAO).format(n=minor // 10)
    return format_minor(minor)


def say_list(values: Iterable[int], _: Gettext) -> str:
    return _(LIST_SEP).join(say_minor(v, _) for v in values)
