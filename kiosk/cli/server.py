"""``kiosk billing-server``: a thin entry to the reference billing server (``billing_server``,
a package of its own), and the one place the command line reaches into it (the demos start one
in-process; the seed says who its residents are)."""

from __future__ import annotations

import argparse
from typing import Any

from billing_server import cli
from billing_server.seed import DEMO_ACCOUNTS, DEMO_CARDS
from billing_server.server import BillingServer

__all__ = ["BillingServer", "register", "seeded_residents"]


def register(sub: Any) -> None:
    # Every argument after the command, options and --help too, is the server's own command
    # line (billing_server.cli): a prefix no argument starts with keeps argparse out of them.
    p = sub.add_parser("billing-server", help="the reference central billing server",
                       add_help=False, prefix_chars="\0")
    p.add_argument("server_args", nargs=argparse.REMAINDER,
                   help="the server's own options (kiosk billing-server --help)")
    p.set_defaults(func=cmd_billing_server)


def cmd_billing_server(args: argparse.Namespace) -> int:
    return cli.main(args.server_args, prog="kiosk billing-server")


def seeded_residents() -> list[tuple[str, str | None]]:
    """The reference server's seeded accounts as (account_no, card uid or None) pairs."""
    cards = {acct: uid for uid, acct in DEMO_CARDS.items()}
    return [(a.account_no, cards.get(a.account_no)) for a in DEMO_ACCOUNTS]
