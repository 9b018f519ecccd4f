"""Money as integer minor units (fen). Never float: not here, not in JSON, not on screen."""

from __future__ import annotations

MINOR_PER_MAJOR = 100


def format_minor(minor: int, symbol: str = "¥") -> str:
    """``12345`` → ``¥123.45``; integer arithmetic only."""
    if not isinstance(minor, int) or isinstance(minor, bool):
        raise TypeError(f"money must be integer minor units, got {minor!r}")
    sign = "-" if minor < 0 else ""
    major, rest = divmod(abs(minor), MINOR_PER_MAJOR)
    return f"{sign}{symbol}{major:,}.{rest:02d}"


def parse_major(text: str) -> int:
    """``"12.5"`` → ``1250``. Exact decimal parsing of what a person typed; raises ValueError."""
    text = text.strip().replace(",", "")
    if not text or text.count(".") > 1 or not text.replace(".", "").isdigit():
        raise ValueError(f"not an amount: {text!r}")
    major, _, frac = text.partition(".")
    if len(frac) > 2:
        raise ValueError(f"at most two decimal places: {text!r}")
    return int(major or "0") * MINOR_PER_MAJOR + int((frac + "00")[:2])
