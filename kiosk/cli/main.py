"""The ``kiosk`` command line (docs/architecture.md, Command line): the parser, built from one
module per command group, and the dispatch that turns bad input into one line and exit 2."""

from __future__ import annotations

import logging
import os
import sqlite3
import sys

from kiosk import redact
from kiosk.cli import (devices, gateway, queue, receipt, reports, run_demo, server, simulate,
                       staff)
from kiosk.cli.config_args import EXIT_BAD_INPUT, OneLineParser, common
from kiosk.config import ConfigError
from offline_queue.private import UMASK

#: the command groups, in the order ``kiosk --help`` lists them
GROUPS = (server, gateway, receipt, queue, simulate, run_demo, devices, staff, reports)


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="kiosk", description="Community payment terminal")
    common(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Before anything is created or logged (docs/security.md): what the terminal writes is
    # private whatever the shell's umask, and no log line carries an account, card or token.
    os.umask(UMASK)
    redact.install()
    args = build_parser().parse_args(argv)
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
