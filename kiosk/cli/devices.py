"""``kiosk devices``, ``kiosk sim`` and ``kiosk diag``: device health, bench simulators and the
maintenance diagnostics.

``kiosk devices`` opens every configured device once (``sim://`` ones on throw-away simulators),
lets it come up for about a second and reports its health; it is a report, so a device at fault
still exits 0.  ``kiosk sim DEVICE`` serves one simulator on a pty for any host program and
answers bench commands from stdin, one line each.  ``kiosk diag`` asks a running terminal for its
devices over the control socket, or opens the configured devices itself when none runs, and is a
report too; its self-tests act for
a member of maintenance staff (``--user``, PIN on stdin, audited).
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
from kiosk.cli.config_args import common, config
from kiosk.cli.staff_access import login, open_console, staff_command, user_option
from kiosk.config import ConfigError, replace_option, simulator_options

log = logging.getLogger(__name__)

#: ``kiosk sim`` device → the protocols its simulators speak (the first is the default)
SIM_PROTOCOLS: dict[str, tuple[str, ...]] = {
    registry.device_alias(device): protocols for device, protocols in registry.DEVICES.items()}
SELF_TESTS = ("printer", "validator", "coin", "card")
COME_UP_S = 1.0
QUIT = {"quit", "exit"}


def register(sub: Any) -> None:
    p = sub.add_parser("devices", help="list serial ports and the configured devices' health")
    common(p)
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--wait", type=float, default=COME_UP_S, metavar="S",
                   help=f"seconds each device gets to come up (default {COME_UP_S})")
    p.set_defaults(func=cmd_devices)

    p = sub.add_parser("sim", help="a device simulator on a pty, commands on stdin")
    common(p)
    p.add_argument("device", metavar="DEVICE", help=", ".join(SIM_PROTOCOLS))
    p.add_argument("--protocol", help="default: the device's default protocol; " + "; ".join(
        f"{alias}: {', '.join(protocols)}" for alias, protocols in SIM_PROTOCOLS.items()))
    p.add_argument("--state", metavar="FILE", help="non-volatile counters (default: in memory)")
    p.add_argument("--fixed-key", metavar="HEX",
                   help="eSSP: the fixed half of the AES key, 16 hex digits (default: "
                        "devices.bill_validator.fixed_key, else ITL's factory key)")
    p.set_defaults(func=cmd_sim)

    p = staff_command(sub, "diag", "device, API, queue, database and disk diagnostics", cmd_diag)
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--api", help="billing API base URL (overrides billing.url)")
    p.add_argument("--wait", type=float, default=2.0, metavar="S",
                   help="seconds the devices get to come up (default 2)")
    p.add_argument("--self-test", action="append", default=[], choices=SELF_TESTS,
                   help="run a self-test (repeatable; printer/validator/coin need --user)")
    p.add_argument("--test-timeout", type=float, default=10.0, metavar="S",
                   help="seconds a self-test waits for a note, coin or card (default 10)")
    user_option(p, "maintenance staff")
    p.add_argument("--no-devices", action="store_true", help="skip opening the devices")
    p.add_argument("--state-dir", help="the terminal's state directory, where its control "
                   "socket is (overrides kiosk.state_dir)")
    p.add_argument("--log", metavar="FILE", help="show the last lines of this log file")
    p.add_argument("--lines", type=int, default=20, metavar="N",
                   help="how many log lines (default 20)")


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
        hub = SimulatorHub(state_dir, **simulator_options(cfg))
        manager = DeviceManager(
            cfg.devices, lambda name: open_device(name, cfg.devices[name]),
            post=lambda event: None,  # a report: the events themselves are not needed
            reconnect=False,
        )
        identities: dict[str, Any] = {}
        try:
            manager.start(supervise=False)
            deadline = time.monotonic() + wait_s
            health = manager.health()
            while time.monotonic() < deadline and any(h.state.value == "unknown"
                                                      for h in health.values()):
                time.sleep(0.05)
                health = manager.health()
            for name in cfg.devices:
                identities[name] = identity_of(manager.driver(name))
        finally:
            manager.stop()
            hub.stop()
    return [
        {"name": name, "url": dev.url, "protocol": dev.protocol,
         "status": health[name].state.value, "reason": health[name].reason,
         "identity": identities.get(name)}
        for name, dev in cfg.devices.items()
    ]


def identity_of(driver: Any) -> dict[str, Any] | None:
    """What a driver that identifies itself (drivers/interfaces.py, ``Identified``) read from
    its device; None for the others."""
    from drivers.interfaces import Identified

    if not isinstance(driver, Identified):
        return None
    try:
        return dict(driver.identity())
    except Exception as exc:  # noqa: BLE001 - an identity not given is a detail, not a fault
        return {"error": str(exc) or type(exc).__name__}


def identity_text(identity: dict[str, Any] | None) -> str:
    """One line: ``firmware=… serial_number=… bill_table=1:100,…`` (protocol left out)."""
    if not identity:
        return ""
    parts = []
    for key, value in identity.items():
        if key == "protocol" or value in (None, "", {}):
            continue
        if isinstance(value, dict):
            value = ",".join(f"{k}:{v}" for k, v in value.items())
        parts.append(f"{key}={value}")
    return " ".join(parts)


def cmd_devices(args: argparse.Namespace) -> int:
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
        if dev["identity"]:
            print(f"  {'':15} {identity_text(dev['identity'])}")
    return 0


# ------------------------------------------------------------ kiosk sim
def make_simulator(device: str, protocol: str | None, state: str | None, cfg: Any,
                   fixed_key: str | None = None) -> Any:
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
    options = dev.options if dev is not None and dev.protocol == protocol else entry.options()
    if fixed_key is not None:
        if protocol != "essp":
            raise ConfigError(f"--fixed-key: only the essp simulator takes a key, not {protocol}")
        options = replace_option(options, "fixed_key", fixed_key, "--fixed-key")
    kwargs.update(entry.sim_options(options))
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


def cmd_sim(args: argparse.Namespace) -> int:
    sim = make_simulator(args.device, args.protocol, args.state, config(args), args.fixed_key)
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


# ---------------------------------------------------------------- kiosk diag
def cmd_diag(args: argparse.Namespace) -> int:
    from kiosk.staff import selftest as st
    from kiosk.staff.billing_queries import BillingProbe
    from kiosk.staff.diag import tail_file, text_lines
    from kiosk.services.devices import open_device
    from kiosk.staff.probe import DeviceProbe

    if args.wait < 0 or args.test_timeout <= 0 or args.lines < 0:
        raise ConfigError("--wait, --test-timeout and --lines must be positive")
    if _diag_by_terminal(args):
        return 0
    console = open_console(args)
    cfg = console.config
    active = [t for t in SELF_TESTS if t in args.self_test]
    session = None
    if args.user or set(active) - {"card"}:
        session = login(console, args.user)  # printing a page or moving a note is staff work
    views: dict[str, Any] = {}
    results = []
    if not args.no_devices:
        probe = DeviceProbe(cfg, open_device)
        try:
            probe.start(args.wait)
            runs = {
                "printer": lambda: st.printer_test_page(probe.driver("printer"), cfg.kiosk.id),
                "validator": lambda: st.validator_accept_test(
                    probe.driver("bill_validator"), probe.wait_event,
                    cfg.limits.accepted_notes_minor, args.test_timeout),
                "coin": lambda: st.coin_test(probe.driver("coin_acceptor"), probe.wait_event,
                                             cfg.limits.accepted_coins_minor, args.test_timeout),
                "card": lambda: st.card_read_test("card_reader", probe.wait_event, args.test_timeout),
            }
            for name in active:
                run = _unless_missing(probe, name, runs[name])
                results.append(console.self_test(session, name, run) if session else run())
            views = probe.views()
        finally:
            probe.stop()
    billing = cfg.billing
    api = BillingProbe(billing.url, connect_timeout=min(billing.connect_timeout_s, 3.05),
                       read_timeout=min(billing.read_timeout_s, 5.0), tls=billing.tls()).health()
    report = console.diagnostics_report(
        views, api, results, ports=list_ports(),
        recent_log=tail_file(args.log, args.lines) if args.log else [])
    if session is not None:
        console.diagnostics_viewed(session, report["status"])
    print(json.dumps(report, ensure_ascii=False) if args.json else "\n".join(text_lines(report)))
    return 0


def _diag_by_terminal(args: argparse.Namespace) -> bool:
    """A terminal runs on this database: it reports its own devices (it holds the ports); the
    API check and the serial port list are made here. False when no terminal runs."""
    from kiosk.cli.terminal_link import ask_terminal, command_config
    from kiosk.services.control import socket_path
    from kiosk.staff.billing_queries import BillingProbe
    from kiosk.staff.diag import tail_file, text_lines

    cfg = command_config(args)
    if not socket_path(cfg.kiosk.state_dir).exists() or ask_terminal(args, "ping") is None:
        return False
    if args.self_test:
        raise ConfigError("--self-test: the running terminal holds the devices; run self-tests "
                          "from its staff screen, or stop it first")
    fields: dict[str, Any] = {}
    if args.api:  # another API than the terminal's own: checked from here
        billing = cfg.billing
        fields["api"] = BillingProbe(
            billing.url, connect_timeout=min(billing.connect_timeout_s, 3.05),
            read_timeout=min(billing.read_timeout_s, 5.0), tls=billing.tls()).health().as_dict()
    answer = ask_terminal(args, "diag", user=args.user, ports=list_ports(),
                          recent_log=tail_file(args.log, args.lines) if args.log else [],
                          **fields)
    if answer is None:
        return False
    report = answer["report"]
    print(json.dumps(report, ensure_ascii=False) if args.json else "\n".join(text_lines(report)))
    return True


def _unless_missing(probe: Any, test: str, run: Callable[[], Any]) -> Callable[[], Any]:
    from kiosk.staff.diag import SELF_TEST_DEVICE
    from kiosk.staff.selftest import SelfTestResult

    device = SELF_TEST_DEVICE[test]
    # The card test only waits for the reader's event: it needs the reader configured, not a driver.
    if device not in probe.cfg.devices or (test != "card" and probe.driver(device) is None):
        return lambda: SelfTestResult(test, False, f"{device} is not available")
    return run
