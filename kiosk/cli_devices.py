"""``kiosk devices`` and ``kiosk sim``: device health and bench simulators.

``kiosk devices`` opens every configured device once (``sim://`` ones on throw-away simulators),
lets it come up for about a second and reports its health; it is a report, so a device at fault
still exits 0.  ``kiosk sim DEVICE`` serves one simulator on a pty for any host program and
answers bench commands from stdin, one line each.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from typing import Any, Callable

from drivers import registry
from kiosk.config import ConfigError

log = logging.getLogger(__name__)

#: ``kiosk sim`` device → the protocols its simulators speak (the first is the default)
SIM_PROTOCOLS: dict[str, tuple[str, ...]] = {
    registry.device_alias(device): protocols for device, protocols in registry.DEVICES.items()}
COME_UP_S = 1.0
QUIT = {"quit", "exit"}


def register(
    sub: Any, common: Callable[[argparse.ArgumentParser], None], config: Callable[..., Any]
) -> None:
    """Add the device commands to the ``kiosk`` parser."""
    p = sub.add_parser("devices", help="list serial ports and the configured devices' health")
    common(p)
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--wait", type=float, default=COME_UP_S, metavar="S",
                   help=f"seconds each device gets to come up (default {COME_UP_S})")
    p.set_defaults(func=lambda args: cmd_devices(args, config))

    p = sub.add_parser("sim", help="a device simulator on a pty, commands on stdin")
    common(p)
    p.add_argument("device", metavar="DEVICE", help=", ".join(SIM_PROTOCOLS))
    p.add_argument("--protocol",
                   help="default: the device's protocol (id003, cctalk, em4100, escpos)")
    p.add_argument("--state", metavar="FILE", help="non-volatile counters (default: in memory)")
    p.set_defaults(func=lambda args: cmd_sim(args, config))


# ------------------------------------------------------------ kiosk devices
def list_ports() -> list[dict[str, str]]:
    from serial.tools import list_ports as lp

    return [{"device": port.device, "description": port.description or "", "hwid": port.hwid or ""}
            for port in sorted(lp.comports(), key=lambda port: port.device)]


def device_report(cfg: Any, wait_s: float = COME_UP_S) -> list[dict[str, str]]:
    """Open, start and ask every configured device; everything is stopped again on return."""
    from drivers.manager import DeviceManager
    from drivers.transport import SimulatorHub
    from kiosk.services.devices import open_device

    with tempfile.TemporaryDirectory(prefix="kiosk-devices-") as state_dir:
        hub = SimulatorHub(state_dir)
        manager = DeviceManager(
            cfg.devices, lambda name: open_device(name, cfg.devices[name]),
            post=lambda event: None,  # a report: the events themselves are not needed
            reconnect=False,
        )
        try:
            manager.start(supervise=False)
            deadline = time.monotonic() + wait_s
            health = manager.health()
            while time.monotonic() < deadline and any(h.state.value == "unknown"
                                                      for h in health.values()):
                time.sleep(0.05)
                health = manager.health()
        finally:
            manager.stop()
            hub.stop()
    return [
        {"name": name, "url": dev.url, "protocol": dev.protocol,
         "status": health[name].state.value, "reason": health[name].reason}
        for name, dev in cfg.devices.items()
    ]


def cmd_devices(args: argparse.Namespace, config: Callable[..., Any]) -> int:
    cfg = config(args)
    if args.wait < 0:
        raise ConfigError("--wait: must be 0 or more seconds")
    ports = list_ports()
    devices = device_report(cfg, args.wait)
    if args.json:
        print(json.dumps({"ports": ports, "devices": devices}, ensure_ascii=False))
        return 0
    print("serial ports:")
    for port in ports:
        print(f"  {port['device']:16} {port['description']}  {port['hwid']}")
    if not ports:
        print("  (none)")
    print("devices:")
    for dev in devices:
        print(f"  {dev['name']:15} {dev['url']:28} {dev['protocol']:7} {dev['status']:9} "
              f"{dev['reason']}")
    return 0


# ------------------------------------------------------------ kiosk sim
def make_simulator(device: str, protocol: str | None, state: str | None, cfg: Any) -> Any:
    """The simulator for ``device``; ConfigError (one line) for anything unknown."""
    if device not in SIM_PROTOCOLS:
        raise ConfigError(f"sim: unknown device {device!r} (known: {', '.join(SIM_PROTOCOLS)})")
    protocols = SIM_PROTOCOLS[device]
    protocol = protocol or protocols[0]
    if protocol not in protocols:
        raise ConfigError(f"sim: {device} has no {protocol!r} simulator "
                          f"(available: {', '.join(protocols)})")
    if state is not None:
        folder = os.path.dirname(os.path.abspath(state))
        if not os.path.isdir(folder):
            raise ConfigError(f"--state: folder {folder} does not exist")
    kwargs: dict[str, Any] = {"state_path": state}
    # Same channels, address and checksum as the configured device, so a driver run with this
    # config credits what the simulator reports.
    dev = cfg.devices.get(device.replace("-", "_"))
    entry = registry.entry(protocol)
    if dev is not None and dev.protocol == protocol:
        kwargs.update(entry.sim_options(dev.options))
    try:
        return entry.simulator()(**kwargs)
    except ValueError as exc:
        raise ConfigError(f"sim {device}: {exc}") from None


def one_line(text: str) -> str:
    return " ".join(str(text).splitlines()) if text else ""


def serve_commands(sim: Any, stdin: Any, stdout: Any) -> None:
    """Answer each line of ``stdin`` with exactly one line, until ``quit`` or end of input."""
    while True:
        line = stdin.readline()
        if not line or line.strip().lower() in QUIT:
            return
        try:
            answer = sim.command(line.strip())
        except Exception as exc:  # a bench typo must never take the simulated device away
            log.exception("simulator command %r failed", line.strip())
            answer = f"error: {type(exc).__name__}: {exc}"
        stdout.write(one_line(answer) + "\n")
        stdout.flush()


def cmd_sim(args: argparse.Namespace, config: Callable[..., Any]) -> int:
    sim = make_simulator(args.device, args.protocol, args.state, config(args))
    path = sim.start_on_pty()
    try:
        sys.stdout.write(f"PORT {path}\n")
        sys.stdout.flush()
        serve_commands(sim, sys.stdin, sys.stdout)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0
