"""ITL eSSP's registry entry: its options, its 9600 8N2 line, its driver and simulator."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from drivers.bill_validator.essp import protocol as p
from drivers.interfaces import ChannelMap
from drivers.protocol_entry import DriverSetup, ProtocolEntry

LINE = p.LINE
#: SSP protocol versions this driver negotiates (manual GA138, "HOST_PROTOCOL_VERSION"):
#: v6 is the first with the encryption layer, v8 the newest it was written against.
NEWEST_PROTOCOL = 8


@dataclass(frozen=True)
class EsspOptions:
    """ITL eSSP: channel (1..16, the SET_INHIBITS bits, manual "SET_INHIBITS") → value in fen,
    checked against what SETUP_REQUEST reports. ``fixed_key``: the fixed 64-bit half of the
    AES key as 16 hex digits (manual, "Encryption Keys"; ITL's factory default until the site
    sets its own) -- a secret: left out of the repr, and kiosk/config.py names the key, never
    its value, in an error. ``address``: the SSP slave address (0 for a validator).
    ``max_protocol``: the highest SSP version offered; the driver negotiates down from it."""

    channels: dict[int, int] = field(default_factory=lambda: {1: 100, 2: 500, 3: 1000,
                                                              4: 2000, 5: 5000, 6: 10000},
                                     metadata={"channels": (1, 16)})
    fixed_key: str = field(default=p.DEFAULT_FIXED_KEY, repr=False,
                           metadata={"pattern": re.compile(r"(0x)?[0-9A-Fa-f]{16}"),
                                     "example": "16 hex digits", "secret": True})
    address: int = field(default=0, metadata={"range": (0, 0x7D)})
    max_protocol: int = field(default=NEWEST_PROTOCOL,
                              metadata={"range": (p.MIN_PROTOCOL, NEWEST_PROTOCOL)})


def open_driver(setup: DriverSetup) -> Any:
    from drivers.bill_validator.essp.driver import EsspDriver

    o = setup.options
    return EsspDriver(setup.name, setup.port, ChannelMap(dict(o.channels)),
                      poll_interval=setup.poll_interval_s, hold_power_up=setup.hold_power_up,
                      fixed_key=o.fixed_key, address=o.address, max_protocol=o.max_protocol,
                      owns_port=True)


def simulator() -> type:
    from drivers.bill_validator.essp.simulator import EsspSimulator

    return EsspSimulator


def sim_options(options: EsspOptions) -> dict[str, Any]:
    """The same channels, key and address as the configured unit."""
    return {"channels": ChannelMap(dict(options.channels)), "fixed_key": options.fixed_key,
            "address": options.address}


ENTRY = ProtocolEntry(device="bill_validator", protocol="essp", options=EsspOptions, line=LINE,
                      open_driver=open_driver, simulator=simulator, sim_options=sim_options)
