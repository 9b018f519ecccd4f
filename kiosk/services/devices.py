"""Opening the configured devices: ports by URL, drivers by protocol, each with its protocol's
own options from config (kiosk/config.py: Id003Options, CcTalkOptions, EscPosOptions).

The device manager (drivers/manager.py) calls ``open_device`` for each configured device: one
that cannot be opened is FAULT with the reason and retried, never a crash, and the readiness gate
keeps cash out meanwhile while the rest of the terminal (lookups, queue, staff) keeps working.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from drivers.interfaces import ChannelMap
from drivers.transport import LineSettings, SimulatorHub, open_port
from kiosk.config import DeviceSection

#: protocol → (driver module, class)
DRIVERS = {
    "id003": ("drivers.bill_validator.id003.driver", "Id003Driver"),
    "cctalk": ("drivers.coin_acceptor.cctalk.driver", "CcTalkDriver"),
    "em4100": ("drivers.card_reader.em4100.driver", "Em4100Driver"),
    "escpos": ("drivers.printer.escpos.driver", "EscPosPrinter"),
}


def _line_settings(module: Any) -> LineSettings:
    return getattr(module, "LINE_SETTINGS", LineSettings())


def open_device(name: str, dev: DeviceSection, hub: SimulatorHub | None,
                hold_power_up: bool = False, coin_event_counter: int | None = None) -> Any:
    """``hold_power_up``: a bill validator keeps its power-up status until ``release_power_up()``
    (the terminal releases it once reconciliation is journaled). ``coin_event_counter``: where a
    coin acceptor's event counter stood at the last coin journaled, so coins it took while the
    host was down are credited, and none twice."""
    module_name, cls_name = DRIVERS[dev.protocol]
    module = importlib.import_module(module_name)
    cls = getattr(module, cls_name)
    settings = _line_settings(module)
    opts = dev.options
    kwargs: dict[str, Any] = {}
    if dev.protocol == "id003":
        kwargs.update(channels=ChannelMap(dict(opts.channels)), hold_power_up=hold_power_up,
                      poll_interval=dev.poll_interval_ms / 1000)
    elif dev.protocol == "cctalk":
        kwargs.update(channels=ChannelMap(dict(opts.channels)), address=opts.address,
                      checksum=opts.checksum, last_event_counter=coin_event_counter,
                      poll_interval=dev.poll_interval_ms / 1000)
    elif dev.protocol == "escpos":
        settings = dataclasses.replace(settings, baudrate=opts.baudrate)
        kwargs.update(chinese=opts.chinese, qr_size=opts.qr_size)
    port = open_port(dev.url, settings, hub)
    driver = cls(name, port, **kwargs)
    driver._owns_port = True  # noqa: SLF001 - the driver closes the port it was given
    return driver
