"""Chinese line breaking with kinsoku rules, as a pure function of the text and a width test.

Kivy wraps at spaces and, in a run without spaces (all of Chinese), at whatever character no
longer fits. That leaves a lone "。" at the start of a line and splits "230度" or "8:00-18:00"
(docs/architecture.md, "What the screens say"). Here a text is cut into units that must stay
together, and lines are filled greedily with whole units:

* no line starts with closing punctuation (。，、；：？！）」 and their kin): it joins the unit
  before it;
* no line ends with opening punctuation (（「 and their kin): it joins the unit after it;
* a number stays with its currency sign and its unit (¥78.50, 230度, 10分钟, 59秒), a time or
  number range stays whole (8:00-18:00), and a Latin word is never split.

A unit wider than a whole line is left on a line of its own (the label may still cut it; the
no-truncation check finds that).
"""

from __future__ import annotations

import re
from typing import Callable

#: may not start a line (GB/T 15834 and the JIS X 4051 rules as usually applied to Chinese)
CLOSING = set("。，、；：？！）」』》〉】〕”’…·—％%,.;:?!)]}>")
#: may not end a line
OPENING = set("（「『《〈【〔“‘([{<¥￥$")
_UNIT_WORDS = ("千瓦时", "分钟", "小时", "kWh", "元", "角", "分", "秒", "度", "个", "张", "次",
               "天", "月", "日", "年", "号", "位", "岁", "%", "％", "mm", "cm", "s")
_NUM = r"\d+(?:[.:：,]\d+)*"
_ATOM = re.compile(
    r"[¥￥]?" + _NUM + r"(?:\s?[-–—~～至到]\s?[¥￥]?" + _NUM + r")?"
    r"(?:" + "|".join(re.escape(u) for u in _UNIT_WORDS) + r")?"
    r"|[A-Za-z][A-Za-z0-9_'’\-]*"
    r"|\s+"
    r"|.",
    re.S,
)


def units(text: str) -> list[str]:
    """The text cut into pieces no line break may split (spaces are their own pieces)."""
    raw = _ATOM.findall(text)
    out: list[str] = []
    glue_next = False
    for piece in raw:
        if out and not piece.isspace() and (glue_next or piece[0] in CLOSING):
            out[-1] += piece
        else:
            out.append(piece)
        glue_next = bool(piece) and not piece.isspace() and piece[-1] in OPENING
    return out


def wrap(text: str, fits: Callable[[str], bool]) -> str:
    """``text`` with line breaks where kinsoku allows, so each line ``fits``. Existing line
    breaks are kept; breaks at spaces drop the space."""
    return "\n".join(_wrap_paragraph(p, fits) for p in text.split("\n"))


def _wrap_paragraph(text: str, fits: Callable[[str], bool]) -> str:
    if not text or fits(text):
        return text
    lines: list[str] = []
    line = ""
    for unit in units(text):
        if unit.isspace():
            if line:
                line += unit
            continue
        if not line or fits(line + unit):
            line += unit
            continue
        lines.append(line.rstrip())
        line = unit
    if line:
        lines.append(line.rstrip())
    return "\n".join(lines)
