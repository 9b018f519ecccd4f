"""``kiosk simulate``: scripted resident sessions on simulated devices, headless, with a summary."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from drivers import registry
from kiosk.cli.config_args import EXIT_LOCKED, common, config, db_option, enrol_option
from kiosk.cli.server import seeded_residents
from kiosk.config import ConfigError, simulator_options, with_simulated


def register(sub: Any) -> None:
    p = sub.add_parser("simulate", help="headless resident sessions on simulated devices")
    common(p)
    p.add_argument("--sessions", type=int, required=True, metavar="N",
                   help="how many resident sessions to run (0 or more)")
    p.add_argument("--api", help="billing API base URL (overrides billing.url)")
    db_option(p)
    p.add_argument("--kiosk-id", help="terminal id (overrides kiosk.id)")
    p.add_argument("--state-dir", help="simulated devices' non-volatile state and the kiosk key "
                   "(overrides kiosk.state_dir; default: a devices folder beside --db)")
    p.add_argument("--poll-ms", type=int, metavar="MS",
                   help="device poll interval (overrides devices.*.poll_interval_ms; default 100)")
    p.add_argument("--seed", type=int, default=1,
                   help="seed of the residents' random choices (default 1)")
    p.add_argument("--validator", choices=registry.DEVICES["bill_validator"],
                   help="the residents pay through this protocol's simulator (sim://PROTOCOL; "
                        "default: devices.bill_validator as configured)")
    p.add_argument("--tender", choices=("cash", "code", "mixed"), default="cash",
                   help="how the residents pay: cash, the phone's payment code, or mixed "
                        "(every other resident by code; default cash)")
    p.add_argument("--gateway", metavar="URL",
                   help="payment gateway base URL for the code tender (overrides gateway.url)")
    p.add_argument("--merchant", metavar="ID",
                   help="merchant id at the gateway (overrides gateway.merchant)")
    p.add_argument("--gateway-token", metavar="TOKEN",
                   help="enrol this kiosk's key with the gateway on first contact "
                        "(overrides gateway.enrol_token)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    enrol_option(p)
    p.set_defaults(func=cmd_simulate)


def cmd_simulate(args: argparse.Namespace) -> int:
    from drivers.transport import SimulatorHub
    from kiosk.services.scripted_resident import run_sessions
    from kiosk.services.terminal import Terminal
    from offline_queue.errors import IntegrityError

    if args.sessions < 0:
        raise ConfigError("--sessions: must be 0 or more")
    cfg = config(args, db=args.db, api=args.api, kiosk_id=args.kiosk_id,
                 state_dir=args.state_dir, poll_ms=args.poll_ms, enrol_token=args.enrol_token,
                 gateway=args.gateway, merchant=args.merchant, gateway_token=args.gateway_token)
    if args.tender != "cash" and not cfg.gateway.url:
        raise ConfigError(f"--tender {args.tender}: needs a payment gateway (--gateway or gateway.url)")
    if args.validator:
        cfg = with_simulated(cfg, "bill_validator", args.validator)
    os.makedirs(cfg.kiosk.state_dir, mode=0o700, exist_ok=True)
    term = Terminal(cfg, SimulatorHub(cfg.kiosk.state_dir, **simulator_options(cfg)))
    try:
        term.start()
    except IntegrityError as exc:  # a locking fault (journal, integrity): no cash is taken
        term.hub.stop()
        print(f"kiosk: out of service: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    try:
        report = run_sessions(term, args.sessions, seeded_residents(), seed=args.seed,
                              tender=args.tender)
    finally:
        term.stop()
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        for key, value in report.as_dict().items():
            print(f"{key:20} {value}")
    return 0
