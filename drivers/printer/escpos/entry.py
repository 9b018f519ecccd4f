"""ESC/POS receipt printer's registry entry: its options (baud rate, QR size, Chinese mode, the
mode it powers up in), its 8N1 line at the configured speed, its driver and simulator."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from drivers.line import LineSettings
from drivers.protocol_entry import DriverSetup, ProtocolEntry

LINE = LineSettings()


@dataclass(frozen=True)
class EscPosOptions:
    """ESC/POS receipt printers run at 9600–115200 baud; ``qr_size`` is the QR module size in
    dots (1–7: the largest receipt QR, version 10 at 6 dots per module, is 342 dots and a 58 mm
    roll prints 384; at 8 it would run off the paper); ``chinese`` puts the printer in Chinese
    mode (GB18030 text, GB2312-safe); ``power_up`` is the mode the printer powers up in (its
    memory switch: many China-market printers power up in Chinese mode). The driver selects the
    mode it prints in either way; the simulator plays the configured power-up."""

    baudrate: int = field(default=9600, metadata={"choices": (9600, 19200, 38400, 57600, 115200)})
    chinese: bool = True
    qr_size: int = field(default=6, metadata={"range": (1, 7)})
    power_up: str = field(default="western", metadata={"choices": ("western", "chinese")})


def line_for(options: EscPosOptions, line: LineSettings) -> LineSettings:
    return dataclasses.replace(line, baudrate=options.baudrate)


def open_driver(setup: DriverSetup) -> Any:
    from drivers.printer.escpos.driver import EscPosPrinter

    return EscPosPrinter(setup.name, setup.port, chinese=setup.options.chinese,
                         qr_size=setup.options.qr_size, owns_port=True)


def simulator() -> type:
    from drivers.printer.escpos.simulator import EscPosSimulator

    return EscPosSimulator


def sim_options(options: EscPosOptions) -> dict[str, Any]:
    return {"chinese_default": options.power_up == "chinese"}


ENTRY = ProtocolEntry(device="printer", protocol="escpos", options=EscPosOptions, line=LINE,
                      open_driver=open_driver, simulator=simulator, line_for=line_for,
                      sim_options=sim_options)
