"""Ports by URL: a device path or any pyserial URL -- ``spy://`` for a wire dump, ``loop://``,
``sim://<name>`` for an in-process simulator on a pty pair (drivers/sim_urls), and compositions
such as ``spy://sim://id003``. Importing this module lists drivers/sim_urls among pyserial's URL
handler packages, so plain ``serial.serial_for_url`` knows those schemes too."""

from __future__ import annotations

import termios

import serial

from drivers.errors import PortError
from drivers.line import LineSettings
from drivers.ptypair import nudge_pty
from drivers.simhub import SimulatorHub, simulator_class

__all__ = ["LineSettings", "SimulatorHub", "open_port", "simulator_class"]

_HANDLERS = "drivers.sim_urls"
# First, so that its spy:// (pyserial's, with an inner URL resolved) is the one found.
if _HANDLERS not in serial.protocol_handler_packages:
    serial.protocol_handler_packages.insert(0, _HANDLERS)


def open_port(url: str, settings: LineSettings) -> serial.Serial:
    """Open ``url`` with the line settings the protocol demands (a pty ignores them; we still
    set them so a real port gets 8E1 where ID-003 needs it)."""
    try:
        if settings.parity != serial.PARITY_NONE:
            nudge_pty(url)  # a pty opened with parity once refuses it a second time (ptypair)
        port = serial.serial_for_url(
            url,
            baudrate=settings.baudrate,
            bytesize=settings.bytesize,
            parity=settings.parity,
            stopbits=settings.stopbits,
            timeout=settings.timeout,
            write_timeout=1.0,
        )
    except (serial.SerialException, OSError, ValueError, termios.error) as exc:
        raise PortError(f"cannot open {url}: {exc}") from exc
    return port
