"""Device views for diagnostics.

``DeviceProbe`` opens the configured devices the way ``kiosk devices`` does (through the device
manager, with the opener it is given: ``kiosk.services.devices.open_device``; ``sim://`` ones on
throw-away simulators), lets them come up, keeps every event they post and offers
``wait_event`` for the self-tests — for ``kiosk diag`` over SSH, when the terminal is not
holding the ports. ``live_views`` reads the devices of a running terminal.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from drivers import interfaces as d
from drivers.ptypair import nudge_pty
from drivers.manager import DeviceManager
from drivers.transport import SimulatorHub
from kiosk.config import simulator_options

log = logging.getLogger(__name__)

SETTLE_POLLS = 4  # ID-003: status, reset, initialise, then the real status (a fault shows here)


@dataclass
class DeviceView:
    """What diagnostics know of one device."""

    health: d.Health
    stats: dict[str, Any] = field(default_factory=dict)
    identity: dict[str, Any] | None = None
    events: list[d.DeviceEvent] = field(default_factory=list)


def _stats(driver: Any) -> dict[str, Any]:
    stats = getattr(driver, "stats", None)
    return dict(stats) if isinstance(stats, dict) else {}


def _identity(driver: Any) -> dict[str, Any] | None:
    if isinstance(driver, d.Identified):  # what the driver read at start-up (drivers/interfaces.py)
        return dict(driver.identity())
    identify = getattr(driver, "identify", None)
    if not callable(identify):
        return None
    try:
        ident = identify(timeout=1.0)
    except Exception as exc:  # an identity the device will not give is a detail, not a fault
        return {"error": str(exc) or type(exc).__name__}
    return {k: getattr(ident, k) for k in ("manufacturer", "product", "serial", "software")
            if hasattr(ident, k)}


class DeviceProbe:
    def __init__(self, cfg: Any, opener: Callable[[str, Any], Any]) -> None:
        """``opener(name, device_section)`` opens one driver."""
        self.cfg = cfg
        self._opener = opener
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.hub: SimulatorHub | None = None
        self.manager: DeviceManager | None = None
        self._events: list[d.DeviceEvent] = []
        self._taken: set[int] = set()
        self._cond = threading.Condition()

    def _post(self, event: d.DeviceEvent) -> None:
        with self._cond:
            self._events.append(event)
            self._cond.notify_all()

    def _open(self, name: str) -> Any:
        dev = self.cfg.devices[name]
        if dev.protocol == "id003":
            nudge_pty(dev.url)  # a pty refuses a parity-only change on a second 8E1 open
        return self._opener(name, dev)

    def start(self, wait_s: float = 2.0) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="kiosk-diag-")
        self.hub = SimulatorHub(self._tmp.name, **simulator_options(self.cfg))
        self.manager = DeviceManager(self.cfg.devices, self._open, post=self._post, reconnect=False)
        self.manager.start(supervise=False)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and not self._settled():
            time.sleep(0.05)

    def _settled(self) -> bool:
        assert self.manager is not None
        for name in self.manager.names:
            if self.manager.health_of(name).state is d.HealthState.UNKNOWN:
                return False
            stats = _stats(self.manager.driver(name))
            if "polls" in stats and stats["polls"] < SETTLE_POLLS:
                return False
        return True

    def stop(self) -> None:
        if self.manager is not None:
            self.manager.stop()
        if self.hub is not None:
            self.hub.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> DeviceProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- for diagnostics
    def driver(self, name: str) -> Any:
        assert self.manager is not None
        return self.manager.driver(name)

    def wait_event(self, match: Callable[[d.DeviceEvent], bool], timeout: float) -> d.DeviceEvent | None:
        """The first matching event not yet taken, including those that came before the call
        (a card already held to the reader counts)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, ev in enumerate(self._events):
                    if i not in self._taken and match(ev):
                        self._taken.add(i)
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def views(self) -> dict[str, DeviceView]:
        assert self.manager is not None
        with self._cond:
            events = list(self._events)
        out = {}
        for name in self.manager.names:
            driver = self.manager.driver(name)
            out[name] = DeviceView(self.manager.health_of(name), _stats(driver), _identity(driver),
                                   [ev for ev in events if ev.device == name])
        return out


def live_views(devices: Mapping[str, Any]) -> dict[str, DeviceView]:
    """Views of a running terminal's drivers (or manager handles): health and counters only."""
    out = {}
    for name, driver in devices.items():
        if driver is None:
            out[name] = DeviceView(d.Health(d.HealthState.FAULT, "not connected"))
            continue
        try:
            health = driver.health()
        except Exception as exc:
            health = d.Health(d.HealthState.FAULT, f"health check failed: {exc}")
        out[name] = DeviceView(health, _stats(driver))
    return out
