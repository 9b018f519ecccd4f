"""The protocols this terminal speaks: one :class:`~drivers.protocol_entry.ProtocolEntry` each.

Configuration (which protocols a device may speak, each protocol's options and their defaults),
device construction (line settings, driver factory) and the ``sim://`` simulators all read this
list; nothing else keeps a table of protocols. Each entry lives next to its protocol, in
``drivers/<device>/<protocol>/entry.py``, because its options' bounds come from that protocol's
constants; this module only lists them. An entry module imports its protocol's pure framing and
nothing heavy: the driver and the simulator are imported when the entry's factories are called.

Adding a protocol: docs/adding-a-protocol.md.
"""

from __future__ import annotations

from drivers.bill_validator.ccnet.entry import ENTRY as CCNET
from drivers.bill_validator.essp.entry import ENTRY as ESSP
from drivers.bill_validator.id003.entry import ENTRY as ID003
from drivers.card_reader.em4100.entry import ENTRY as EM4100
from drivers.card_reader.pn532.entry import ENTRY as PN532
from drivers.coin_acceptor.cctalk.entry import ENTRY as CCTALK
from drivers.printer.escpos.entry import ENTRY as ESCPOS
from drivers.protocol_entry import DriverSetup, ProtocolEntry
from drivers.scanner.serial2d.entry import ENTRY as SERIAL2D

__all__ = ["DEVICES", "ENTRIES", "DriverSetup", "ProtocolEntry", "device_alias", "entry",
           "for_device", "sim_entry", "sim_names"]

#: every protocol; a device's first entry is its default protocol
ENTRIES: tuple[ProtocolEntry, ...] = (ID003, CCNET, ESSP, CCTALK, EM4100, PN532, ESCPOS,
                                     SERIAL2D)
_BY_PROTOCOL = {e.protocol: e for e in ENTRIES}
#: device → the protocols it may speak (the default first)
DEVICES: dict[str, tuple[str, ...]] = {}
for _entry in ENTRIES:
    DEVICES[_entry.device] = DEVICES.get(_entry.device, ()) + (_entry.protocol,)


def entry(protocol: str) -> ProtocolEntry:
    """The entry of ``protocol``; KeyError naming the known ones."""
    try:
        return _BY_PROTOCOL[protocol]
    except KeyError:
        known = ", ".join(_BY_PROTOCOL)
        raise KeyError(f"unknown protocol {protocol!r} (known: {known})") from None


def for_device(device: str) -> tuple[ProtocolEntry, ...]:
    """The protocols ``device`` may speak, its default first (empty for an unknown device)."""
    return tuple(_BY_PROTOCOL[p] for p in DEVICES.get(device, ()))


def device_alias(device: str) -> str:
    """A device's name in ``sim://`` URLs and at the bench (``bill_validator``: ``bill-validator``)."""
    return device.replace("_", "-")


def sim_entry(name: str) -> ProtocolEntry:
    """The entry ``sim://<name>`` plays: a protocol (``sim://id003``) or a device alias
    (``sim://bill-validator``: that device's default protocol). KeyError if neither."""
    if name in _BY_PROTOCOL:
        return _BY_PROTOCOL[name]
    device = name.replace("-", "_")
    if "_" in name or device not in DEVICES:
        raise KeyError(f"no simulator for {name!r}; known: {', '.join(sim_names())}")
    return _BY_PROTOCOL[DEVICES[device][0]]


def sim_names() -> tuple[str, ...]:
    """Every name ``sim://`` accepts: the device aliases, then the protocols."""
    return tuple(device_alias(d) for d in DEVICES) + tuple(_BY_PROTOCOL)
