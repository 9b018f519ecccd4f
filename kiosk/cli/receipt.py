"""``kiosk receipt verify``: a receipt's QR text checked offline against this kiosk's key."""

from __future__ import annotations

import argparse
from typing import Any

from kiosk.cli.config_args import common, config
from kiosk.config import ConfigError


def register(sub: Any) -> None:
    r = sub.add_parser("receipt", help="signed receipts")
    common(r)
    rsub = r.add_subparsers(dest="receipt_command", required=True)
    p = rsub.add_parser("verify", help="check a receipt's QR text against this kiosk's key")
    common(p)
    p.add_argument("text", help="the QR text (the whole URL or what follows r=)")
    p.add_argument("--public-key", metavar="B64", help="the kiosk's public key (base64 raw "
                   "Ed25519) instead of the key under kiosk.state_dir")
    p.add_argument("--kiosk-id", help="terminal id (overrides kiosk.id)")
    p.add_argument("--state-dir", help="where the kiosk key is (overrides kiosk.state_dir)")
    p.set_defaults(func=cmd_receipt_verify)


def cmd_receipt_verify(args: argparse.Namespace) -> int:
    """Exit 0: this kiosk's key signed the receipt; 1: it did not; 2: not a receipt / no key."""
    from kiosk.services import receipt_signing
    from kiosk.services.identity import key_path
    from offline_queue.signing import public_b64

    cfg = config(args, kiosk_id=args.kiosk_id, state_dir=args.state_dir)
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
