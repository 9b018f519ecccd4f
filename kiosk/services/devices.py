"""Opening the configured devices: ports by URL, drivers by protocol, each with its protocol's
own options from config. What a protocol needs (line settings, driver factory, options type) is
its registry entry (drivers/registry.py).

The device manager (drivers/manager.py) calls ``open_device`` for each configured device: one
that cannot be opened is FAULT with the reason and retried, never a crash, and the readiness gate
keeps cash out meanwhile while the rest of the terminal (lookups, queue, staff) keeps working.
"""

from __future__ import annotations

from typing import Any

from drivers import registry
from drivers.transport import open_port
from kiosk.config import DeviceSection


def open_device(name: str, dev: DeviceSection, hold_power_up: bool = False,
                coin_event_counter: int | None = None) -> Any:
    """``hold_power_up``: a bill validator keeps its power-up status until ``release_power_up()``
    (the terminal releases it once reconciliation is journaled). ``coin_event_counter``: where a
    coin acceptor's event counter stood at the last coin journaled, so coins it took while the
    host was down are credited, and none twice. The driver owns the port it is given."""
    entry = registry.entry(dev.protocol)
    port = open_port(dev.url, entry.line_settings(dev.options))
    setup = registry.DriverSetup(name, port, dev.options,
                                 poll_interval_s=dev.poll_interval_ms / 1000,
                                 hold_power_up=hold_power_up,
                                 coin_event_counter=coin_event_counter)
    try:
        return entry.open_driver(setup)
    except Exception:
        port.close()
        raise
