"""``sim://<name>``: the in-process simulator ``name`` (a protocol such as ``id003``, or a device
alias such as ``bill-validator`` for that device's default protocol), served on a pty pair by
the process's simulator hub (drivers/simhub.py).

The URL resolves to the pty's slave path and is opened as a native port, so everything a native
port does (line settings, re-open after a failure, ``spy://`` around it) works unchanged."""

from __future__ import annotations

import urllib.parse

import serial

from drivers.errors import PortError
from drivers.ptypair import nudge_pty
from drivers.simhub import current_hub


def resolve(url: str) -> str:
    """The pty path ``url`` names, its simulator started if it was not running."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "sim" or not parts.netloc or parts.path or parts.query:
        raise serial.SerialException(f"expected sim://<name>, not {url!r}")
    try:
        path = current_hub().get(parts.netloc).port_path
    except PortError as exc:
        raise serial.SerialException(str(exc)) from None
    # A pty opened 8E1 once refuses the same settings a second time (drivers/ptypair.py).
    nudge_pty(path)
    return path


def serial_class_for_url(url: str) -> tuple[str, type]:
    """pyserial's hook: the port to open instead of ``url``, and the class that opens it."""
    return resolve(url), serial.Serial
