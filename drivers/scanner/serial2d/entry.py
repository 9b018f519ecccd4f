"""The serial 2D scanner's registry entry: its options (what the scanner is programmed to send
around a code, the longest code taken, the debounce window, the trigger mode set at start, the
line speed), its 8N1 line, its driver and simulator."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from drivers.line import LineSettings
from drivers.protocol_entry import DriverSetup, ProtocolEntry
from drivers.scanner.serial2d import protocol as p

_AFFIX = {"pattern": p.AFFIX, "example": 'up to 8 ASCII characters, e.g. "\\u0002"'}


@dataclass(frozen=True)
class Serial2dOptions:
    """``prefix``/``suffix``: what the scanner is programmed to add around each code (its
    prefix/suffix settings; "" none); ``aim``: it sends the AIM symbology identifier first;
    ``max_length``: a longer line is dropped (a bill code or a payment code is far shorter);
    ``debounce_ms``: the same code again within this window is one scan (0: every read);
    ``trigger``: ``presentation`` (reads what is held in front of it) or ``serial`` (reads when
    the host asks) set at start in the volatile table, or ``keep`` (send no host command)."""

    prefix: str = field(default="", metadata=_AFFIX)
    suffix: str = field(default="", metadata=_AFFIX)
    aim: bool = False
    max_length: int = field(default=p.DEFAULT_MAX_LENGTH, metadata={"range": p.MAX_LENGTH_RANGE})
    debounce_ms: int = field(default=1500, metadata={"range": (0, 60_000)})
    trigger: str = field(default="presentation",
                         metadata={"choices": (*p.TRIGGER_MODES, "keep")})
    baudrate: int = field(default=9600, metadata={"choices": p.BAUD_RATES})

    def framing(self) -> p.Framing:
        return p.Framing(self.prefix.encode("ascii"), self.suffix.encode("ascii"), self.aim,
                         self.max_length)


def line_for(options: Serial2dOptions, line: LineSettings) -> LineSettings:
    return dataclasses.replace(line, baudrate=options.baudrate)


def open_driver(setup: DriverSetup) -> Any:
    from drivers.scanner.serial2d.driver import Serial2dDriver

    o = setup.options
    return Serial2dDriver(setup.name, setup.port, o.framing(), debounce_ms=o.debounce_ms,
                          trigger=o.trigger, owns_port=True)


def simulator() -> type:
    from drivers.scanner.serial2d.simulator import Serial2dSimulator

    return Serial2dSimulator


def sim_options(options: Serial2dOptions) -> dict[str, Any]:
    return {"prefix": options.prefix.encode("ascii"), "suffix": options.suffix.encode("ascii"),
            "aim": options.aim}


ENTRY = ProtocolEntry(device="scanner", protocol="serial2d", options=Serial2dOptions,
                      line=p.LINE, open_driver=open_driver, simulator=simulator,
                      line_for=line_for, sim_options=sim_options)
