"""The reference billing server's command line: ``billing-server`` (also ``kiosk billing-server``).

``billing-server [--host] [--port] [--db] [--fault MODE[:ARG]] [--enrol-token T] [--admin]
[--tls-cert C --tls-key K]`` serves until SIGINT/SIGTERM; ``billing-server settlement --db LEDGER --kiosk-id K
--date D`` prints a kiosk's day straight from a ledger file; ``billing-server demo-bills
[--json]`` lists the demo accounts with the code printed on each one's bill. Bad input: one line naming the
option and the bad value, exit 2 (docs/architecture.md, Command line).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import signal
import sqlite3
import ssl
import sys
import threading
from contextlib import closing
from pathlib import Path
from typing import NoReturn

from billing_server import contract
from billing_server.faults import Fault, parse_fault
from billing_server.ledger import SETTLEMENT_SQL
from billing_server.routes import LOOKUPS_PER_MINUTE, settlement_body
from billing_server.seed import DEMO_ACCOUNTS, DEMO_BILLS
from billing_server.server import BillingServer, server_context

EXIT_BAD_INPUT = 2
ENROL_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")  # kiosk/config.py checks the kiosk's copy


class _Parser(argparse.ArgumentParser):
    """argparse, but a refusal is one line (``prog: --option: why``), not a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message.removeprefix('argument ')}\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=_port, default=8080, help="TCP port (0: any free port)")
    parser.add_argument("--db", default="billing-server.db", help="SQLite ledger file")
    parser.add_argument("--fault", type=_fault, default=None, metavar="MODE[:ARG]",
                        help="misbehave from the start: delay:SECONDS, 500[:N], drop[:N], "
                             "reset[:N], malformed[:N], 429[:N] (N: only the next N payment requests)")
    parser.add_argument("--enrol-token", type=_token, default=None, metavar="TOKEN",
                        help="the one-time token kiosks enrol with (default: a random one, "
                             "printed at start)")
    parser.add_argument("--lookup-limit", type=_positive, default=LOOKUPS_PER_MINUTE,
                        metavar="N", help="account/card lookups per kiosk per minute (then 429)")
    parser.add_argument("--admin", action="store_true",
                        help="serve the test-only /_admin/* endpoints (fault injection, ledger "
                             "dump) on loopback; never in production")
    parser.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate chain")
    parser.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")


def add_settlement_arguments(p: argparse.ArgumentParser) -> None:
    """``billing-server settlement``: the settlement answer straight from a ledger file."""
    p.add_argument("--db", required=True, help="the server's SQLite ledger")
    p.add_argument("--kiosk-id", required=True, help="the kiosk whose day it is")
    p.add_argument("--date", required=True, help="YYYY-MM-DD (the kiosk's local day)")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    # The kiosk's commands all take --config; the server has no configuration file, so
    # `kiosk billing-server --config FILE` keeps working and the file is not read.
    p.add_argument("--config", metavar="FILE", help="accepted and ignored: the server is set "
                   "up by these options only")


def build_parser(prog: str = "billing-server") -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="Reference central billing server (demo/tests)")
    _common(parser)
    add_arguments(parser)
    sub = parser.add_subparsers(dest="server_command", metavar="settlement|demo-bills")
    s = sub.add_parser("settlement", help="a kiosk's day straight from the ledger (no key)")
    _common(s)
    add_settlement_arguments(s)
    b = sub.add_parser("demo-bills", help="the demo accounts and the code on each one's bill")
    _common(b)
    b.add_argument("--json", action="store_true", help="one JSON object per line")
    return parser


def demo_bills(args: argparse.Namespace) -> int:
    """What a demo user scans: each seeded account's bill code (billing_server/seed.py)."""
    for account in DEMO_ACCOUNTS:
        code = DEMO_BILLS[account.account_no]
        if args.json:
            line = json.dumps({"account_no": account.account_no, "holder": account.holder_masked,
                               "bill_code": code}, ensure_ascii=False)
        else:
            line = f"{account.account_no}  {code}  {account.holder_masked}"
        sys.stdout.write(line + "\n")
    return 0


def settlement(args: argparse.Namespace, prog: str = "billing-server") -> int:
    """Print the same JSON as GET /v1/kiosks/{kiosk_id}/settlement; no key needed (the ledger
    file is the utility's own). Bad input: one line, exit 2."""

    def bad(line: str) -> int:
        sys.stderr.write(f"{prog} settlement: {line}\n")
        return EXIT_BAD_INPUT

    if not contract.KIOSK_ID.fullmatch(args.kiosk_id):
        return bad(f"--kiosk-id: {args.kiosk_id!r} is not a kiosk id")
    try:
        day = contract.parse_date(args.date)
    except contract.BadRequest as exc:
        return bad(f"--date: {exc.message}")
    if not Path(args.db).is_file():
        return bad(f"--db: no ledger at {args.db}")
    try:
        # Read-only: looking at the books must never create or migrate a ledger.
        with closing(sqlite3.connect(f"file:{Path(args.db).resolve()}?mode=ro", uri=True)) as c:
            c.row_factory = sqlite3.Row
            rows = [dict(r) for r in c.execute(SETTLEMENT_SQL, (args.kiosk_id, day))]
    except sqlite3.DatabaseError as exc:
        return bad(f"--db: {args.db} is not a billing ledger ({exc})")
    sys.stdout.write(json.dumps(settlement_body(args.kiosk_id, day, rows), ensure_ascii=False,
                                separators=(",", ":")) + "\n")
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


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive integer: {text!r}")
    return value


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text!r}")
    return port


def run(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    """Serve until SIGINT/SIGTERM (or ``stop`` is set). Returns the process exit code."""
    stop = stop or threading.Event()
    tls = None
    cert, key = getattr(args, "tls_cert", None), getattr(args, "tls_key", None)
    if bool(cert) != bool(key):
        sys.stderr.write("billing-server: --tls-cert and --tls-key go together\n")
        return EXIT_BAD_INPUT
    if cert:
        try:
            tls = server_context(cert, key)
        except (OSError, ssl.SSLError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            sys.stderr.write(f"billing-server: cannot use TLS certificate {cert} / key {key}: "
                             f"{why}\n")
            return EXIT_BAD_INPUT
    server = BillingServer(args.host, args.port, args.db, fault=args.fault, tls=tls,
                           enrol_token=getattr(args, "enrol_token", None),
                           lookups_per_minute=getattr(args, "lookup_limit", LOOKUPS_PER_MINUTE),
                           admin=getattr(args, "admin", False))
    try:
        server.start()
    except OSError as exc:
        sys.stderr.write(f"billing-server: cannot listen on {args.host}:{args.port}: "
                         f"{exc.strerror or exc}\n")
        return EXIT_BAD_INPUT
    except Exception as exc:  # e.g. the ledger file is not a database
        sys.stderr.write(f"billing-server: cannot open ledger {args.db}: {exc}\n")
        return EXIT_BAD_INPUT
    old = None
    if threading.current_thread() is threading.main_thread():
        old = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sys.stdout.write(f"billing server listening on {server.url} (ledger {args.db})\n")
    if getattr(args, "enrol_token", None) is None:  # generated: kiosks need to be told it
        sys.stdout.write(f"enrol token: {server.enrol_token}\n")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if old is not None:
            signal.signal(signal.SIGTERM, old)
    return 0


def main(argv: list[str] | None = None, prog: str = "billing-server") -> int:
    """The command line; ``prog`` names it in help and refusals (``kiosk billing-server``)."""
    args = build_parser(prog).parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    logging.getLogger().setLevel(level)  # also when the kiosk's command line set it up first
    try:
        if args.server_command == "demo-bills":
            return demo_bills(args)
        return settlement(args, prog) if args.server_command == "settlement" else run(args)
    except (OSError, sqlite3.DatabaseError) as exc:  # whatever the checks above did not foresee
        sys.stderr.write(f"{prog}: {type(exc).__name__}: {exc}\n")
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
