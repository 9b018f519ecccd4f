"""The reference payment gateway's command line: ``payment-gateway`` (also
``kiosk payment-gateway``).

``payment-gateway [--host] [--port P] [--db G] [--fault MODE[:ARG]] [--enrol-token T]`` serves
until SIGINT/SIGTERM; ``payment-gateway settlement --db G --merchant K --date D`` prints the
merchant's settled day as JSON ``{"count", "total_minor"}`` straight from the store. Bad input:
one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import signal
import sqlite3
import sys
import threading
from contextlib import closing
from pathlib import Path
from typing import NoReturn

from payment_gateway.api import DATE, MERCHANT_ID, settlement_body
from payment_gateway.faults import MODES, Fault, parse_fault
from payment_gateway.server import PaymentGateway
from payment_gateway.store import SETTLEMENT_SQL

EXIT_BAD_INPUT = 2
ENROL_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message.removeprefix('argument ')}\n")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    p.add_argument("--config", metavar="FILE", help="accepted and ignored: the gateway is set "
                   "up by these options only")


def build_parser(prog: str = "payment-gateway") -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="Reference payment gateway (demo/tests)")
    _common(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=_port, default=8090, help="TCP port (0: any free port)")
    parser.add_argument("--db", default="payment-gateway.db", help="the gateway's SQLite store")
    parser.add_argument("--fault", type=_fault, default=None, metavar="MODE[:ARG]",
                        help=f"misbehave from the start: {', '.join(MODES[1:])} "
                             "(user_paying:N polls; otherwise :N = only the next N charges)")
    parser.add_argument("--enrol-token", type=_token, default=None, metavar="TOKEN",
                        help="the one-time token kiosks enrol with (default: a random one, "
                             "printed at start)")
    sub = parser.add_subparsers(dest="gateway_command", metavar="settlement")
    s = sub.add_parser("settlement", help="a merchant's settled day straight from the store")
    _common(s)
    s.add_argument("--db", required=True, help="the gateway's SQLite store")
    s.add_argument("--merchant", required=True, help="the merchant id")
    s.add_argument("--date", required=True, help="YYYY-MM-DD (the gateway's local day)")
    return parser


def settlement(args: argparse.Namespace, prog: str) -> int:
    def bad(line: str) -> int:
        sys.stderr.write(f"{prog} settlement: {line}\n")
        return EXIT_BAD_INPUT

    if not MERCHANT_ID.fullmatch(args.merchant):
        return bad(f"--merchant: {args.merchant!r} is not a merchant id")
    if not DATE.fullmatch(args.date):
        return bad(f"--date: {args.date!r} is not YYYY-MM-DD")
    if not Path(args.db).is_file():
        return bad(f"--db: no gateway store at {args.db}")
    try:
        # Read-only: looking at the books never creates or migrates a store.
        with closing(sqlite3.connect(f"file:{Path(args.db).resolve()}?mode=ro", uri=True)) as c:
            count, total = c.execute(SETTLEMENT_SQL, (args.merchant, args.date)).fetchone()
    except sqlite3.DatabaseError as exc:
        return bad(f"--db: {args.db} is not a gateway store ({exc})")
    body = settlement_body(args.merchant, args.date, int(count), int(total))
    sys.stdout.write(json.dumps(body, separators=(",", ":")) + "\n")
    return 0


def run(args: argparse.Namespace, prog: str, stop: threading.Event | None = None) -> int:
    stop = stop or threading.Event()
    gateway = PaymentGateway(args.host, args.port, args.db, fault=args.fault,
                             enrol_token=args.enrol_token)
    try:
        gateway.start()
    except OSError as exc:
        sys.stderr.write(f"{prog}: cannot listen on {args.host}:{args.port}: "
                         f"{exc.strerror or exc}\n")
        return EXIT_BAD_INPUT
    except (sqlite3.DatabaseError, RuntimeError) as exc:
        sys.stderr.write(f"{prog}: cannot open store {args.db}: {exc}\n")
        return EXIT_BAD_INPUT
    old = None
    if threading.current_thread() is threading.main_thread():
        old = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sys.stdout.write(f"payment gateway listening on {gateway.url} (store {args.db})\n")
    if args.enrol_token is None:
        sys.stdout.write(f"enrol token: {gateway.enrol_token}\n")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        gateway.stop()
        if old is not None:
            signal.signal(signal.SIGTERM, old)
    return 0


def _fault(text: str) -> Fault:
    try:
        return parse_fault(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None


def _token(text: str) -> str:
    if not ENROL_TOKEN.fullmatch(text):
        raise argparse.ArgumentTypeError("expected 16-128 letters, digits, '-' or '_'")
    return text


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text!r}")
    return port


def main(argv: list[str] | None = None, prog: str = "payment-gateway") -> int:
    args = build_parser(prog).parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.gateway_command == "settlement":
            return settlement(args, prog)
        return run(args, prog)
    except (OSError, sqlite3.DatabaseError) as exc:
        sys.stderr.write(f"{prog}: {type(exc).__name__}: {exc}\n")
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
