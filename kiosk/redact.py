"""No secrets in logs (docs/security.md, Logs): one redaction applied to every log record of the
process — ours and third-party loggers' (urllib3 logs every URL it requests at debug level, and
account numbers and card ids travel in URL paths) — when the record is made, so no handler,
formatter or logger added later can print the original.

Masked: account and phone numbers (9–13 digits standing alone), card ids (upper-case hex, and
whatever follows ``/cards/`` in a path), and the value after a word that names a secret
(token, enrol_token, authorization, bearer, signature, password, pin, secret). The last four
characters of a number or card id stay, so staff can still tell two residents apart."""

from __future__ import annotations

import logging
import re
from typing import Any, Callable

# 14-digit session ids and 8-digit dates stay readable: only 9-13 digits standing alone match.
_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{9,13}(?![0-9A-Za-z])")
# card ids as the drivers write them (upper-case hex); uuid-style ids in our logs are lower case
_CARD = re.compile(r"(?<![0-9A-Za-z])(?=[0-9A-F]*[A-F])(?=[0-9A-F]*\d)[0-9A-F]{8,20}(?![0-9A-Za-z])")
# a mainland mobile as people write it, grouped 3-4-4 (docs/billing-api.yaml Phone): 138****1234
_MOBILE = re.compile(r"(?<![0-9A-Za-z])(1[3-9][0-9])[ -]([0-9]{4})[ -]([0-9]{4})(?![0-9A-Za-z])")
_CARD_PATH = re.compile(r"(/cards/)([^/?#\s\"']+)")
_SECRET = re.compile(
    r"(?i)\b(token|enrol[_-]token|authorization|signature(?:-input)?|password|pin|secret)\b"
    r"([\"']?\s*[:=]\s*[\"']?)(?!(?:bearer|basic)\s)([^\s\"',&;)]+)")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")


def _tail(match: re.Match[str]) -> str:
    text = match.group(0)
    return "*" * (len(text) - 4) + text[-4:]


def redact(text: str) -> str:
    """``text`` with account numbers, phone numbers, card ids and secrets masked."""
    text = _BEARER.sub(lambda m: f"{m.group(1)} ***", text)
    text = _SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    text = _CARD_PATH.sub(lambda m: m.group(1) + "*" * max(0, len(m.group(2)) - 4)
                          + m.group(2)[-4:], text)
    text = _CARD.sub(_tail, text)
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    return _NUMBER.sub(_tail, text)


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """The record's message (arguments merged in), exception and stack text, masked."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: keep what there is, masked
        message = f"{record.msg} {record.args}"
    record.msg, record.args = redact(message), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


class Redactor(logging.Filter):
    """The same masking as a filter, for a handler built outside this process's factory."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def install() -> None:
    """Make every log record of this process redacted at birth (idempotent). Every entry point
    calls it before it logs anything (kiosk/cli/main.py)."""
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()
    if getattr(previous, "redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(previous(*args, **kwargs))

    factory.redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
