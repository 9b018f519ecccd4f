"""Serial line settings a protocol demands (baud, data bits, parity, stop bits).

The values are pyserial's own constants written out ('N', 'E', 8, 1), so a protocol's registry
entry can name its line without importing pyserial."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LineSettings:
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"  # serial.PARITY_NONE; "E" is serial.PARITY_EVEN
    stopbits: float = 1
    timeout: float = 0.05
