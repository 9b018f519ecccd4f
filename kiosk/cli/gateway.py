"""``kiosk payment-gateway``: a thin entry to the reference payment gateway
(``payment_gateway``, a package of its own: in the field it is another company's system)."""

from __future__ import annotations

import argparse
from typing import Any

from payment_gateway import cli


def register(sub: Any) -> None:
    # Every argument after the command is the gateway's own command line (payment_gateway.cli).
    p = sub.add_parser("payment-gateway", help="the reference payment gateway (pay by phone)",
                       add_help=False, prefix_chars="\0")
    p.add_argument("gateway_args", nargs=argparse.REMAINDER,
                   help="the gateway's own options (kiosk payment-gateway --help)")
    p.set_defaults(func=cmd_payment_gateway)


def cmd_payment_gateway(args: argparse.Namespace) -> int:
    return cli.main(args.gateway_args, prog="kiosk payment-gateway")
