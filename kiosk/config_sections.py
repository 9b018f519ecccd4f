"""The sections of the configuration file (README.md, Configuration): frozen dataclasses whose
field metadata (ranges, patterns) kiosk/config.py checks every value against."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from offline_queue.tls import TlsTrust, parse_pin


#: Terminal ids go into receipt numbers, transaction ids and URL paths (README: `kiosk.id`); the
#: billing API's own pattern (docs/billing-api.yaml) is wider, this is the part of it we issue.
KIOSK_ID = re.compile(r"[A-Z0-9][A-Z0-9-]{2,31}")
#: what ``kiosk billing-server --enrol-token`` accepts (and generates: 32 URL-safe characters)
ENROL_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")
#: a receipt's QR is this URL plus about 190 characters and must fit QR version 10 at ECC M
#: (kiosk/services/receipt_signing.py)
MAX_VERIFY_URL = 60


def _range(lo: int, hi: int | None = None) -> dict[str, Any]:
    return {"range": (lo, hi)}


@dataclass(frozen=True)
class KioskSection:
    id: str = field(default="KIOSK-0001", metadata={"pattern": KIOSK_ID})
    db: str = "var/kiosk.db"
    state_dir: str = "var/devices"
    service_phone: str = "95598"
    duplicate_window_min: int = 30  # 0: no duplicate-payment warning
    #: start even when the database or a key file is readable by group or others (a shared
    #: backup folder); off by default: they hold PIN hashes, accounts and keys (docs/security.md)
    allow_shared_files: bool = False


@dataclass(frozen=True)
class BillingSection:
    url: str = "http://127.0.0.1:8080"
    connect_timeout_s: float = 3.05
    read_timeout_s: float = 10.0
    sync_interval_s: float = 2.0
    #: PEM CA certificate(s) trusted for an https:// url instead of the system store
    ca_file: str = ""
    #: SHA-256 of the server certificate's SubjectPublicKeyInfo (hex or base64); "" = no pin
    pin_sha256: str = ""
    #: the one-time token this kiosk enrols its key with on first contact ("": none; README)
    enrol_token: str = ""

    def tls(self) -> TlsTrust:
        """What every client of the billing API must verify (offline_queue/tls.py)."""
        pin = parse_pin(self.pin_sha256) if self.pin_sha256 else None
        return TlsTrust(self.ca_file or None, pin)


@dataclass(frozen=True)
class GatewaySection:
    """The payment gateway of the code tender (docs/payment-gateway.yaml); "" url: not offered."""

    url: str = ""
    #: this utility's merchant id at the gateway
    merchant: str = field(default="", metadata={"pattern": re.compile(r"|[A-Z0-9][A-Z0-9-]{2,31}")})
    #: the one-time token this kiosk enrols its key with at the gateway ("": none)
    enrol_token: str = ""
    connect_timeout_s: float = 3.05
    read_timeout_s: float = 10.0


@dataclass(frozen=True)
class StaffSection:
    """Staff logins (docs/security.md, PINs and Lockout)."""

    #: scrypt cost of new PIN hashes: a power of two, at least 2**15 (kiosk.staff.pins.MIN_N)
    scrypt_n: int = 2**17
    #: wrong PINs per staff id before each further failure doubles the wait (from 30 s)
    free_attempts: int = field(default=3, metadata=_range(1, 20))
    #: wrong PINs terminal-wide (any ids) before the same
    global_free_attempts: int = field(default=10, metadata=_range(1, 1000))
    #: the terminal-wide count forgets one failure per this many seconds (a success does not)
    global_decay_s: float = 600.0
    #: a staff session (screen or control-socket request) ends after this long without use
    idle_timeout_s: float = field(default=120.0, metadata=_range(15, 3600))


@dataclass(frozen=True)
class ReceiptsSection:
    #: where a receipt's QR points ("": ``<billing.url>/v1/receipts/verify``)
    verify_url: str = ""


@dataclass(frozen=True)
class ArchiveSection:
    """Retention (docs/promises.md, Retention): delivered, reported payments older than
    ``keep_days`` move to the monthly archive, at idle, at most once a day; 0 = never."""

    keep_days: int = field(default=90, metadata=_range(0, 36500))


#: where a device sits on the cabinet, seen from the resident facing the screen
SIDES = ("left", "right", "below")


@dataclass(frozen=True)
class CabinetSection:
    """Where this cabinet's card reader, note slot and coin slot are relative to the screen: the
    identify and insert screens draw an arrow that way (docs/architecture.md: Screen sizes)."""

    card_reader: str = field(default="right", metadata={"choices": SIDES})
    note_slot: str = field(default="right", metadata={"choices": SIDES})
    coin_slot: str = field(default="below", metadata={"choices": SIDES})
