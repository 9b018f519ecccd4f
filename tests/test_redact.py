"""kiosk/redact.py: what is masked, what stays readable, and that it reaches third-party
loggers and exceptions (docs/security.md, Logs)."""

from __future__ import annotations

import logging

import pytest

from kiosk import redact


@pytest.mark.parametrize("line, gone, kept", [
    ('http://127.0.0.1:8080 "GET /v1/accounts/3101000010 HTTP/1.1" 200 187', "3101000010", "0010"),
    ('"GET /v1/cards/0A1B2C3D4E HTTP/1.1" 200', "0A1B2C3D4E", "3D4E"),
    ("GET /v1/cards/0a1b2c3d4e", "0a1b2c3d4e", "3d4e"),
    ("card 1F2E3D4C5B tapped", "1F2E3D4C5B", "4C5B"),
    ("refund to 13812345678", "13812345678", "5678"),
    ("callback 138 1234 5678 typed", "1234 5678", "138****5678"),
    ("e-bill to 199-8765-4321", "8765", "199****4321"),
    ('{"enrol_token": "abcdefghijklmnop1234"}', "abcdefghijklmnop1234", "enrol_token"),
    ("Authorization: Bearer eyJhbGciOi.x.y", "eyJhbGciOi", "Bearer"),
    ("signature=sig1=:AAAABBBB:", "AAAABBBB", "signature"),
])
def test_secrets_are_masked(line, gone, kept):
    out = redact.redact(line)
    assert gone not in out and kept in out


@pytest.mark.parametrize("line", [
    "session 20261121090000-a1b2c3d4e5f6 committed",  # session ids and dates stay readable
    "receipt KIOSK-0001-20261121-0001 printed", "service phone 95598", "12 notes, 5000 fen",
])
def test_what_staff_need_stays_readable(line):
    assert redact.redact(line) == line


def test_every_logger_and_exception_is_masked(caplog):
    redact.install()
    redact.install()  # idempotent: one wrapper, not two
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("urllib3.connectionpool").debug('"GET /v1/accounts/%s HTTP/1.1"',
                                                          "3101000010")
        try:
            raise ValueError("no account 3101000028")
        except ValueError:
            logging.getLogger("anything").exception("lookup failed for %s", "3101000036")
    text = caplog.text
    assert "3101000010" not in text and "3101000036" not in text and "3101000028" not in text
    assert "******0010" in text and "ValueError" in text
