"""NXP PN532 (HSU) reader's registry entry: its options, its 115200 8N1 line, its driver and
simulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drivers.card_reader.pn532 import protocol as p
from drivers.protocol_entry import DriverSetup, ProtocolEntry

LINE = p.LINE


@dataclass(frozen=True)
class Pn532Options:
    """NXP PN532: ``poll_interval`` (seconds) between InListPassiveTarget polls of the field,
    and ``removal_polls``: how many polls in a row must miss the card before it counts as
    removed (a card held at the edge of the field drops out for a poll now and then)."""

    poll_interval: float = field(default=0.2, metadata={"range": (0.02, 2.0)})
    removal_polls: int = field(default=2, metadata={"range": (1, 20)})


def open_driver(setup: DriverSetup) -> Any:
    from drivers.card_reader.pn532.driver import Pn532Driver

    o = setup.options
    return Pn532Driver(setup.name, setup.port, poll_interval=o.poll_interval,
                       removal_polls=o.removal_polls, owns_port=True)


def simulator() -> type:
    from drivers.card_reader.pn532.simulator import Pn532Simulator

    return Pn532Simulator


ENTRY = ProtocolEntry(device="card_reader", protocol="pn532", options=Pn532Options, line=LINE,
                      open_driver=open_driver, simulator=simulator)
