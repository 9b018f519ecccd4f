"""Wiring the staff parts into a running terminal (headless or the app): the console, the
device watch on the runner, the open collection batch and the locks restored at start-up.

The terminal (``kiosk.services.terminal``) calls in here; nothing in ``kiosk.staff`` imports
``kiosk.services`` (docs/architecture.md, layers), so what staff needs of the shell — signing a
request as this kiosk, opening a device — is handed in by whoever wires it."""

from __future__ import annotations

import logging
from typing import Any, Callable, TypeVar

from kiosk.staff.audit import AuditLog
from kiosk.staff.audit_keys import configured
from kiosk.staff.collection import CounterSource
from kiosk.staff.console import StaffConsole
from kiosk.staff.faults import DeviceWatch
from kiosk.staff.heartbeat import HeartbeatService
from kiosk.staff.probe import live_views
from offline_queue.http_gateway import HttpGateway
from offline_queue.outbox import Outbox
from offline_queue.schema import connect

log = logging.getLogger(__name__)
T = TypeVar("T")


def counter_source(config: Any, hub: Any, validator: Any) -> CounterSource | None:
    """Where the validator's own stacked-note counters come from: the driver if it can read
    them, the simulator's non-volatile counters for ``sim://``; otherwise none (ID-003 has no
    standard counter command, so the comparison with the device is reported as unavailable)."""
    if validator is not None and callable(getattr(validator, "counters", None)):
        return validator.counters
    dev = config.devices.get("bill_validator")
    if hub is not None and dev is not None and dev.url.startswith("sim://"):
        name = dev.url[len("sim://"):]
        return lambda: hub.get(name).counters()["stacked"]
    return None


def devices_by_name(devices: Any) -> dict[str, Any]:
    """The runner's ``Devices`` by their configuration names; a disabled device (None) is not
    there, so diagnostics and the heartbeat do not report it as a fault."""
    named = {"bill_validator": devices.validator, "coin_acceptor": devices.coins,
             "card_reader": devices.card, "printer": devices.printer,
             "scanner": getattr(devices, "scanner", None)}
    return {name: dev for name, dev in named.items() if dev is not None}


def attach_staff(terminal: Any, **console_options: Any) -> StaffConsole:
    """Call after power-up reconciliation and before the first event is handled: locking faults
    persisted before the restart lock the session again, device faults are recorded from now on,
    and a cash box removal closes the collection batch."""
    devices = terminal.devices
    by_name = devices_by_name(devices)
    console = StaffConsole(
        terminal.db, terminal.config, terminal.journal, printer=devices.printer,
        post=terminal.events.post,
        counters=counter_source(terminal.config, terminal.hub, devices.validator),
        device_health=lambda: {n: v.health for n, v in live_views(by_name).items()},
        **console_options)
    # Made at the first start. A key lost under an existing chain is replaced rather than
    # leaving the terminal unable to record a fault: the chain records it and the entries
    # before it never verify again, so the loss shows (docs/security.md, The audit key).
    console.audit.ensure_key(rekey=True)
    console.collections.ensure_open()
    terminal.runner.device_watch = DeviceWatch(console.faults, console.cashbox_removed)
    locked = console.faults.replay(terminal.runner.handle)
    if locked:
        log.warning("%d locking fault(s) from before the restart: out of service until cleared",
                    locked)
    return console


def heartbeat_service(terminal: Any, sign: Callable[[T], T]) -> HeartbeatService:
    """A HeartbeatService for a started terminal; the app calls ``send_once()`` on a timer
    (off the UI thread: it is an HTTP request). ``sign(client)`` returns the client with its
    requests signed as this kiosk (``kiosk.services.identity.signed``)."""
    cfg = terminal.config
    db = connect(cfg.kiosk.db)  # its own connection: it runs on another thread
    by_name = devices_by_name(terminal.devices)
    service = HeartbeatService(
        cfg.kiosk.id, Outbox(db), AuditLog(db, keys=configured(cfg)),
        HttpGateway(cfg.billing.url, connect_timeout=cfg.billing.connect_timeout_s,
                    read_timeout=cfg.billing.read_timeout_s, tls=cfg.billing.tls()),
        lambda: {n: v.health for n, v in live_views(by_name).items()})
    sign(service.gateway)  # a heartbeat is signed like every request
    return service
