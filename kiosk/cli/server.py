"""``kiosk billing-server``: a thin entry to the reference billing server, and the one place the
command line reaches into it (the demos start one in-process; the seed says who its residents
are)."""

from __future__ import annotations

import argparse
from typing import Any

from kiosk.cli.config_args import common
from kiosk.demo import billing_server
from kiosk.demo.billing_server import BillingServer
from kiosk.demo.seed import DEMO_ACCOUNTS, DEMO_CARDS

__all__ = ["BillingServer", "register", "seeded_residents"]


def register(sub: Any) -> None:
    p = sub.add_parser("billing-server", help="the reference central billing server")
    common(p)
    billing_server.add_arguments(p)
    p.set_defaults(func=cmd_billing_server)
    bsub = p.add_subparsers(dest="server_command", metavar="settlement")
    s = bsub.add_parser("settlement", help="a kiosk's day straight from the ledger (no key)")
    common(s)
    billing_server.add_settlement_arguments(s)


def cmd_billing_server(args: argparse.Namespace) -> int:
    if getattr(args, "server_command", None) == "settlement":
        return billing_server.settlement(args)
    return billing_server.run(args)


def seeded_residents() -> list[tuple[str, str | None]]:
    """The reference server's seeded accounts as (account_no, card uid or None) pairs."""
    cards = {acct: uid for uid, acct in DEMO_CARDS.items()}
    return [(a.account_no, cards.get(a.account_no)) for a in DEMO_ACCOUNTS]
