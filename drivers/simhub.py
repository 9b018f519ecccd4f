"""The in-process simulators behind ``sim://`` URLs (drivers/sim_urls/protocol_sim.py).

A :class:`SimulatorHub` starts each simulator on a pty pair the first time its URL is opened and
keeps it, so the demo, ``kiosk simulate`` and tests can act as the resident (insert a note, tap
a card) on the very simulator the driver talks to. The newest hub made in a process is the one
``sim://`` URLs open; no caller passes it along."""

from __future__ import annotations

import threading
import weakref
from typing import Any

from drivers import registry
from drivers.errors import PortError

_lock = threading.Lock()
_current: weakref.ref[SimulatorHub] | None = None


def simulator_class(name: str) -> type:
    """The simulator class ``sim://<name>`` serves (a protocol or a device alias)."""
    try:
        return registry.sim_entry(name).simulator()
    except KeyError as exc:
        raise PortError(exc.args[0]) from None


def state_name(name: str) -> str:
    """The state file a simulator keeps its counters in: the device alias for a device's default
    protocol (``bill-validator.json``), else ``<alias>-<protocol>.json``."""
    entry = registry.sim_entry(name)
    alias = registry.device_alias(entry.device)
    default = registry.DEVICES[entry.device][0] == entry.protocol
    return f"{alias}.json" if default else f"{alias}-{entry.protocol}.json"


class SimulatorHub:
    """Keeps the simulators opened through ``sim://`` URLs. ``options``: per name, keyword
    arguments for that simulator's constructor."""

    def __init__(self, state_dir: str | None = None, **options: Any) -> None:
        global _current
        self.state_dir = state_dir
        self.options = options
        self.sims: dict[str, Any] = {}
        with _lock:
            _current = weakref.ref(self)

    def get(self, name: str) -> Any:
        """The running simulator for ``name``; started on a fresh pty pair on first use.
        ``bill-validator`` and ``id003`` name the same one."""
        try:
            entry = registry.sim_entry(name)
        except KeyError as exc:
            raise PortError(exc.args[0]) from None
        alias = registry.device_alias(entry.device)
        key = alias if registry.DEVICES[entry.device][0] == entry.protocol else entry.protocol
        with _lock:
            if key not in self.sims:
                state = f"{self.state_dir}/{state_name(name)}" if self.state_dir else None
                kwargs = self.options.get(key, self.options.get(entry.protocol, {}))
                sim = entry.simulator()(state_path=state, **kwargs)
                sim.start_on_pty()
                self.sims[key] = sim
            return self.sims[key]

    def stop(self) -> None:
        """Stop every simulator; a later ``get`` starts it again from its state file."""
        with _lock:
            sims, self.sims = list(self.sims.values()), {}
        for sim in sims:
            sim.stop()


def current_hub() -> SimulatorHub:
    """The hub ``sim://`` URLs open; PortError when the process has none."""
    hub = _current() if _current is not None else None
    if hub is None:
        raise PortError("sim:// ports need a simulator hub (none was made in this process)")
    return hub
