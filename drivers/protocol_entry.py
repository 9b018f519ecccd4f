"""The shape of one protocol's registry entry (drivers/registry.py lists them) and what its driver
factory is given."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from drivers.line import LineSettings


@dataclass(frozen=True)
class DriverSetup:
    """What a driver factory gets: the device name, the open port (the driver owns it: it closes
    it on ``stop()``), the protocol's options from config, and the terminal's wishes.

    ``hold_power_up``: a bill validator keeps its power-up status until ``release_power_up()``.
    ``coin_event_counter``: where a coin acceptor's event counter stood at the last coin
    journaled (None: unknown), so coins taken while the host was down are credited once."""

    name: str
    port: Any
    options: Any
    poll_interval_s: float = 0.1
    hold_power_up: bool = False
    coin_event_counter: int | None = None


def _same_line(options: Any, line: LineSettings) -> LineSettings:
    return line


def _no_sim_options(options: Any) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class ProtocolEntry:
    """Everything the terminal needs to know about one protocol.

    ``device``: the kind of device it drives (``bill_validator``, ``coin_acceptor``,
    ``card_reader``, ``printer``); the first entry of a device is its default protocol.
    ``options``: a frozen dataclass whose defaults are the protocol's defaults; kiosk/config.py
    builds it from the device's TOML table (field metadata ``range``, ``choices`` and
    ``channels`` bound the values).
    ``line``: the serial line the protocol demands; ``line_for(options, line)`` adjusts it from
    the options (a printer's configured baud rate).
    ``open_driver``: builds the driver on an open port; the driver satisfies the Protocol of its
    device in drivers/interfaces.py.
    ``simulator``: returns the simulator class (a drivers.simbase.SimulatorBase) that
    ``sim://<protocol>`` serves.
    ``sim_options(options)``: the simulator's keyword arguments that make it match a configured
    device (same channels, address, checksum), so a driver run with that config credits what
    the simulator reports.
    """

    device: str
    protocol: str
    options: type
    line: LineSettings
    open_driver: Callable[[DriverSetup], Any]
    simulator: Callable[[], type]
    line_for: Callable[[Any, LineSettings], LineSettings] = field(default=_same_line)
    sim_options: Callable[[Any], dict[str, Any]] = field(default=_no_sim_options)

    def line_settings(self, options: Any) -> LineSettings:
        return self.line_for(options, self.line)
