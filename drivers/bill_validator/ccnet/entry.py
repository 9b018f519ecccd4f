"""CashCode CCNET's registry entry: its options, its 9600 8N1 line, its driver and simulator."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from drivers.bill_validator.ccnet import protocol as p
from drivers.interfaces import ChannelMap
from drivers.protocol_entry import DriverSetup, ProtocolEntry

LINE = p.LINE


@dataclass(frozen=True)
class CcnetOptions:
    """CashCode CCNET: bill type (0..23, the GET BILL TABLE index, CCNET manual section 5.4)
    → value in fen; the driver reads the table from the device and refuses to enable bills if
    a configured value or ``country`` differs from it. ``address``: the peripheral address
    (section 2.4: 0x03 is a bill validator)."""

    channels: dict[int, int] = field(default_factory=lambda: dict(p.CNY_TYPE_VALUES),
                                     metadata={"channels": (0, p.BILL_TYPES - 1)})
    country: str = field(default="CHN", metadata={"pattern": re.compile(r"[A-Z]{3}"),
                                                  "example": "CHN"})
    address: int = field(default=p.ADDR_BILL_VALIDATOR, metadata={"range": (0x01, 0x0F)})


def open_driver(setup: DriverSetup) -> Any:
    from drivers.bill_validator.ccnet.driver import CcnetDriver

    o = setup.options
    return CcnetDriver(setup.name, setup.port, ChannelMap(dict(o.channels)),
                       poll_interval=setup.poll_interval_s, hold_power_up=setup.hold_power_up,
                       address=o.address, country=o.country, owns_port=True)


def simulator() -> type:
    from drivers.bill_validator.ccnet.simulator import CcnetSimulator

    return CcnetSimulator


def sim_options(options: CcnetOptions) -> dict[str, Any]:
    """A bill table holding the configured values, so the driver's table check passes."""
    table = [p.EMPTY_BILL_TYPE] * p.BILL_TYPES
    for bill_type, minor in options.channels.items():
        table[bill_type] = p.bill_type_for(minor, options.country)
    return {"bill_table": tuple(table), "address": options.address}


ENTRY = ProtocolEntry(device="bill_validator", protocol="ccnet", options=CcnetOptions, line=LINE,
                      open_driver=open_driver, simulator=simulator, sim_options=sim_options)
