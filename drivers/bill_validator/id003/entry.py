"""JCM ID-003's registry entry: its options, its 9600 8E1 line, its driver and simulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drivers.bill_validator.id003 import protocol as p
from drivers.interfaces import ChannelMap
from drivers.protocol_entry import DriverSetup, ProtocolEntry

LINE = p.LINE


# Channel keys are strings in TOML ("0x61"); here they are the numbers the wire carries.
@dataclass(frozen=True)
class Id003Options:
    """JCM ID-003: denomination code → value in fen. The C0 enable mask has 16 bits, one per
    code from 0x61 (drivers/bill_validator/id003/protocol.py), so codes outside it cannot be
    enabled at all."""

    channels: dict[int, int] = field(
        default_factory=lambda: dict(p.CNY_CODE_VALUES),
        metadata={"channels": (p.FIRST_DENOMINATION_CODE, p.FIRST_DENOMINATION_CODE + 15)})


def open_driver(setup: DriverSetup) -> Any:
    from drivers.bill_validator.id003.driver import Id003Driver

    return Id003Driver(setup.name, setup.port, ChannelMap(dict(setup.options.channels)),
                       poll_interval=setup.poll_interval_s, hold_power_up=setup.hold_power_up,
                       owns_port=True)


def simulator() -> type:
    from drivers.bill_validator.id003.simulator import Id003Simulator

    return Id003Simulator


def sim_options(options: Id003Options) -> dict[str, Any]:
    return {"channels": ChannelMap(dict(options.channels))} if options.channels else {}


ENTRY = ProtocolEntry(device="bill_validator", protocol="id003", options=Id003Options, line=LINE,
                      open_driver=open_driver, simulator=simulator, sim_options=sim_options)
