"""The ``kiosk`` command line (docs/architecture.md): the only place real objects are wired together.

Every command takes ``--config`` and exits non-zero with one clear line on bad input.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
from typing import Any

from kiosk.config import DEFAULT_DEVICES, Config, ConfigError, config_with, load_raw

EXIT_BAD_INPUT = 2
EXIT_LOCKED = 3  # the terminal is out of service until staff clear a locking fault


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="TOML configuration (defaults: README)")
    p.add_argument("-v", "--verbose", action="store_true", help="log at debug level")


#: command-line override → (the config key it sets, its flag); checked exactly like the file
OVERRIDES = {"db": ("kiosk.db", "--db"), "kiosk_id": ("kiosk.id", "--kiosk-id"),
             "state_dir": ("kiosk.state_dir", "--state-dir"), "api": ("billing.url", "--api"),
             "enrol_token": ("billing.enrol_token", "--enrol-token")}


def _enrol_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--enrol-token", metavar="TOKEN",
                   help="enrol this kiosk's key with the billing server on first contact "
                        "(overrides billing.enrol_token; README: enrolment)")


def _config(args: argparse.Namespace, **overrides: Any) -> Config:
    """The file's config with the given overrides (None: not given) through the same checks."""
    values: dict[str, tuple[str, Any]] = {}
    for name, value in overrides.items():
        if value is None:
            continue
        if name == "poll_ms":
            values.update({f"devices.{dev}.poll_interval_ms": ("--poll-ms", value)
                           for dev in DEFAULT_DEVICES})
        else:
            key, flag = OVERRIDES[name]
            values[key] = (flag, value)
    return config_with(load_raw(args.config), values)


# ---------------------------------------------------------------- commands
def cmd_billing_server(args: argparse.Namespace) -> int:
    from billing_server import cli

    return cli.main(args.server_args, prog="kiosk billing-server")


def cmd_receipt_verify(args: argparse.Namespace) -> int:
    """Exit 0: this kiosk's key signed the receipt; 1: it did not; 2: not a receipt / no key."""
    from kiosk.services import receipt_signing
    from kiosk.services.identity import key_path
    from offline_queue.signing import public_b64

    cfg = _config(args, kiosk_id=args.kiosk_id, state_dir=args.state_dir)
    try:
        parsed = receipt_signing.parse(args.text)
    except ValueError as exc:
        raise ConfigError(f"receipt verify: {exc}") from None
    if args.public_key:
        public = args.public_key
    else:
        path = key_path(cfg)
        if not path.is_file():
            raise ConfigError(f"receipt verify: no kiosk key at {path} (or pass --public-key)")
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        public = public_b64(load_pem_private_key(path.read_bytes(), password=None))  # type: ignore[arg-type]
    try:
        valid = receipt_signing.verify(parsed, public)
    except ValueError as exc:
        raise ConfigError(f"--public-key: {exc}") from None
    facts = parsed.facts
    verdict = "valid" if valid else "INVALID"
    print(f"{verdict}: receipt {facts.receipt_no} txn {facts.txn_id} account "
          f"{facts.account_masked} {facts.amount_minor} fen, kiosk {facts.kiosk_id}")
    return 0 if valid else 1


def cmd_queue_status(args: argparse.Namespace) -> int:
    from offline_queue.outbox import Outbox
    from offline_queue.schema import connect

    cfg = _config(args, db=args.db)
    outbox = Outbox(connect(cfg.kiosk.db))
    stats = outbox.stats().as_dict()
    if args.json:
        stats["dead_letters"] = outbox.dead_rows()
        print(json.dumps(stats, ensure_ascii=False))
    else:
        for key, value in stats.items():
            print(f"{key:24} {value}")
        for row in outbox.dead_rows():
            print(f"DEAD {row['kind']} {row['idem_key']} {row['amount_minor']} {row['last_error']}")
    return 0


def cmd_queue_requeue(args: argparse.Namespace) -> int:
    from offline_queue.outbox import Outbox
    from offline_queue.schema import connect

    cfg = _config(args, db=args.db)
    n = Outbox(connect(cfg.kiosk.db)).requeue_dead(args.key)
    print(f"requeued {n}")
    return 0 if n or not args.key else 1


def cmd_sync(args: argparse.Namespace) -> int:
    import threading

    from offline_queue.outbox import Outbox
    from offline_queue.schema import connect
    from offline_queue.sync import SyncWorker, run_forever

    from kiosk.services.identity import signed

    cfg = _config(args, db=args.db, api=args.api, enrol_token=args.enrol_token,
                  state_dir=args.state_dir)
    outbox = Outbox(connect(cfg.kiosk.db, durable=False))  # delivery bookkeeping only
    outbox.release_in_flight()
    worker = SyncWorker(outbox, cfg.billing.url, connect_timeout=cfg.billing.connect_timeout_s,
                        read_timeout=cfg.billing.read_timeout_s, tls=cfg.billing.tls())
    signed(worker, cfg)
    if args.once:
        result = worker.run_once(ignore_backoff=True)
        stats = outbox.stats()
        print(json.dumps({"delivered": result.delivered, "retried": result.retried,
                          "dead": result.dead, "pending": stats.pending, "fault": result.fault}))
        if result.fault:
            print(f"kiosk sync: billing server not trusted: {result.fault}", file=sys.stderr)
            return 1
        return 0 if stats.pending == 0 else 1
    try:
        run_forever(worker, threading.Event(), cfg.billing.sync_interval_s)
    except KeyboardInterrupt:
        pass
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from billing_server.seed import DEMO_ACCOUNTS, DEMO_CARDS
    from drivers.transport import SimulatorHub
    from kiosk.services.simulate import run_sessions
    from kiosk.services.terminal import HeadlessTerminal
    from offline_queue.errors import IntegrityError

    if args.sessions < 0:
        raise ConfigError("--sessions: must be 0 or more")
    cfg = _config(args, db=args.db, api=args.api, kiosk_id=args.kiosk_id,
                  state_dir=args.state_dir, poll_ms=args.poll_ms, enrol_token=args.enrol_token)
    cards = {acct: uid for uid, acct in DEMO_CARDS.items()}
    accounts = [(a.account_no, cards.get(a.account_no)) for a in DEMO_ACCOUNTS]
    os.makedirs(cfg.kiosk.state_dir, mode=0o700, exist_ok=True)
    term = HeadlessTerminal(cfg, SimulatorHub(cfg.kiosk.state_dir))
    try:
        term.start()
    except IntegrityError as exc:  # a locking fault (journal, integrity): no cash is taken
        term.hub.stop()
        print(f"kiosk: out of service: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    try:
        report = run_sessions(term, args.sessions, accounts, seed=args.seed)
    finally:
        term.stop()
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        for key, value in report.as_dict().items():
            print(f"{key:20} {value}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    if not args.headless:
        if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
            from kiosk import cli_app

            return cli_app.run_demo_app(args)
        print("no display here: use `kiosk demo --headless` (running it now)", file=sys.stderr)
    from kiosk.demo.headless import run_demo

    return run_demo(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description="Community payment terminal")
    sub = parser.add_subparsers(dest="command", required=True)

    # Every argument after the command, options and --help too, is the server's own command
    # line (billing_server.cli): a prefix no argument starts with keeps argparse out of them.
    p = sub.add_parser("billing-server", help="the reference central billing server",
                       add_help=False, prefix_chars="\0")
    p.add_argument("server_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_billing_server)

    r = sub.add_parser("receipt", help="signed receipts")
    rsub = r.add_subparsers(dest="receipt_command", required=True)
    p = rsub.add_parser("verify", help="check a receipt's QR text against this kiosk's key")
    _common(p)
    p.add_argument("text", help="the QR text (the whole URL or what follows r=)")
    p.add_argument("--public-key", metavar="B64", help="the kiosk's public key (base64 raw "
                   "Ed25519) instead of the key under kiosk.state_dir")
    p.add_argument("--kiosk-id", help="terminal id (overrides kiosk.id)")
    p.add_argument("--state-dir", help="where the kiosk key is (overrides kiosk.state_dir)")
    p.set_defaults(func=cmd_receipt_verify)

    q = sub.add_parser("queue", help="the offline queue")
    qsub = q.add_subparsers(dest="queue_command", required=True)
    p = qsub.add_parser("status", help="pending, in flight, delivered, dead, oldest age")
    _common(p)
    p.add_argument("--db", help="journal database (default: from config)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_queue_status)
    p = qsub.add_parser("requeue", help="send dead letters again (staff decision)")
    _common(p)
    p.add_argument("--db")
    p.add_argument("key", nargs="?", help="one idempotency key (default: all dead letters)")
    p.set_defaults(func=cmd_queue_requeue)

    p = sub.add_parser("sync", help="deliver the queue to the billing API")
    _common(p)
    p.add_argument("--once", action="store_true", help="one pass over everything pending, then exit")
    p.add_argument("--db")
    p.add_argument("--api", help="billing API base URL (overrides billing.url)")
    p.add_argument("--state-dir", help="where the kiosk key is (overrides kiosk.state_dir)")
    _enrol_option(p)
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser("simulate", help="headless resident sessions on simulated devices")
    _common(p)
    p.add_argument("--sessions", type=int, required=True)
    p.add_argument("--api", help="billing API base URL (overrides billing.url)")
    p.add_argument("--db", help="journal database (overrides kiosk.db)")
    p.add_argument("--kiosk-id", help="terminal id (overrides kiosk.id)")
    p.add_argument("--state-dir", help="simulated devices' non-volatile state (overrides kiosk.state_dir)")
    p.add_argument("--poll-ms", type=int, help="device poll interval (default from config: 100)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true")
    _enrol_option(p)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("demo", help="the terminal on simulators and the reference billing server")
    _common(p)
    p.add_argument("--headless", action="store_true", help="no screen: scripted sessions, logged")
    p.add_argument("--sessions", type=int, default=3)
    p.add_argument("--enrol-token", metavar="TOKEN",
                   help="the token the demo's own billing server takes (default: a fresh one)")
    p.set_defaults(func=cmd_demo)

    from kiosk import cli_app, cli_devices, cli_staff

    cli_devices.register(sub, _common, _config)
    cli_app.register(sub, _common, _config)
    cli_staff.register(sub, _common, _config)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (OSError, sqlite3.DatabaseError) as exc:
        print(f"kiosk: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
