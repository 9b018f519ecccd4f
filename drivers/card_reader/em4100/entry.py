"""EM4100 (RDM6300-style) reader's registry entry: no options, a 9600 8N1 line, its driver and
simulator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drivers.line import LineSettings
from drivers.protocol_entry import DriverSetup, ProtocolEntry

#: RDM6300-style readers send at 9600 baud, 8N1.
LINE = LineSettings()


@dataclass(frozen=True)
class Em4100Options:
    """EM4100 readers only send what they read: nothing to set."""


def open_driver(setup: DriverSetup) -> Any:
    from drivers.card_reader.em4100.driver import Em4100Driver

    return Em4100Driver(setup.name, setup.port, owns_port=True)


def simulator() -> type:
    from drivers.card_reader.em4100.simulator import Em4100Simulator

    return Em4100Simulator


ENTRY = ProtocolEntry(device="card_reader", protocol="em4100", options=Em4100Options, line=LINE,
                      open_driver=open_driver, simulator=simulator)
