"""Ports by URL: a device path, any pyserial URL (``spy://`` for a wire dump, ``loop://``), or
``sim://<device>`` for an in-process simulator served on a pty pair."""

from __future__ import annotations

import importlib
import termios
from dataclasses import dataclass
from typing import Any

import serial

from drivers.errors import PortError
from drivers.ptypair import nudge_pty

#: ``sim://<device>`` → the simulator class that plays that device (imported only when used).
SIMULATORS = {
    "bill-validator": "drivers.bill_validator.id003.simulator:Id003Simulator",
    "coin-acceptor": "drivers.coin_acceptor.cctalk.simulator:CcTalkSimulator",
    "card-reader": "drivers.card_reader.em4100.simulator:Em4100Simulator",
    "printer": "drivers.printer.escpos.simulator:EscPosSimulator",
}


@dataclass(frozen=True)
class LineSettings:
    baudrate: int = 9600
    bytesize: int = serial.EIGHTBITS
    parity: str = serial.PARITY_NONE
    stopbits: float = serial.STOPBITS_ONE
    timeout: float = 0.05


def simulator_class(device: str) -> type:
    try:
        target = SIMULATORS[device]
    except KeyError:
        raise PortError(f"no simulator for {device!r}; known: {', '.join(SIMULATORS)}") from None
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


class SimulatorHub:
    """Keeps the in-process simulators opened through ``sim://`` URLs, so the demo, ``kiosk
    simulate`` and tests can act as the resident (insert a note, tap a card)."""

    def __init__(self, state_dir: str | None = None, **options: Any) -> None:
        self.state_dir = state_dir
        self.options = options
        self.sims: dict[str, Any] = {}

    def get(self, device: str) -> Any:
        if device not in self.sims:
            cls = simulator_class(device)
            state = f"{self.state_dir}/{device}.json" if self.state_dir else None
            sim = cls(state_path=state, **self.options.get(device, {}))
            sim.start_on_pty()
            self.sims[device] = sim
        return self.sims[device]

    def stop(self) -> None:
        for sim in self.sims.values():
            sim.stop()
        self.sims.clear()


def open_port(url: str, settings: LineSettings, hub: SimulatorHub | None = None) -> serial.Serial:
    """Open ``url`` with the line settings the protocol demands (a pty ignores them; we still
    set them so a real port gets 8E1 where ID-003 needs it)."""
    try:
        if url.startswith("sim://"):
            if hub is None:
                raise PortError(f"{url}: sim:// ports need a simulator hub")
            url = hub.get(url[len("sim://"):]).port_path
        if settings.parity != serial.PARITY_NONE:
            nudge_pty(url)  # a pty opened with parity once refuses it a second time (ptypair)
        port = serial.serial_for_url(
            url,
            baudrate=settings.baudrate,
            bytesize=settings.bytesize,
            parity=settings.parity,
            stopbits=settings.stopbits,
            timeout=settings.timeout,
            write_timeout=1.0,
        )
    except (serial.SerialException, OSError, ValueError, termios.error) as exc:
        raise PortError(f"cannot open {url}: {exc}") from exc
    return port
