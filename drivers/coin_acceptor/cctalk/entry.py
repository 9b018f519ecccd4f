"""ccTalk's registry entry: its options (address, checksum, channels), its 9600 8N1 line, its
driver and simulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drivers.coin_acceptor.cctalk import protocol as p
from drivers.interfaces import ChannelMap
from drivers.line import LineSettings
from drivers.protocol_entry import DriverSetup, ProtocolEntry

#: ccTalk serial line: 9600 baud, 8N1.
LINE = LineSettings()


@dataclass(frozen=True)
class CcTalkOptions:
    """ccTalk: the acceptor's address (0 is broadcast and 1 the host), its checksum and coin
    channel → value in fen (the inhibit mask covers channels 1–16)."""

    address: int = field(default=p.ADDR_COIN_ACCEPTOR, metadata={"range": (2, 255)})
    checksum: str = field(default=p.SIMPLE, metadata={"choices": p.MODES})
    channels: dict[int, int] = field(default_factory=lambda: {1: 10, 2: 50, 3: 100},
                                     metadata={"channels": (1, p.MAX_COIN_CHANNEL)})


def open_driver(setup: DriverSetup) -> Any:
    from drivers.coin_acceptor.cctalk.driver import CcTalkDriver

    opts = setup.options
    return CcTalkDriver(setup.name, setup.port, ChannelMap(dict(opts.channels)),
                        address=opts.address, checksum=opts.checksum,
                        poll_interval=setup.poll_interval_s,
                        last_event_counter=setup.coin_event_counter, owns_port=True)


def simulator() -> type:
    from drivers.coin_acceptor.cctalk.simulator import CcTalkSimulator

    return CcTalkSimulator


def sim_options(options: CcTalkOptions) -> dict[str, Any]:
    out: dict[str, Any] = {"address": options.address, "checksum": options.checksum}
    if options.channels:
        out["channels"] = ChannelMap(dict(options.channels))
    return out


ENTRY = ProtocolEntry(device="coin_acceptor", protocol="cctalk", options=CcTalkOptions,
                      line=LINE, open_driver=open_driver, simulator=simulator,
                      sim_options=sim_options)
