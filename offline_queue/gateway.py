"""The one door to a utility's billing system: what the terminal asks (lookups, staff queries)
and what it delivers (outbox rows), with nothing about paths, methods, headers or answer shapes.

``offline_queue/http_gateway.py`` implements today's contract (docs/billing-api.yaml). Another
utility's API is one new module beside it: a class with these methods, handed to the sync
worker, the journal (its ``encode``) and the lookups in place of ``HttpGateway``. Nothing else
changes: the outbox stores only a row's kind, its idempotency key and the bytes ``encode`` made,
so the sync worker hands those back to ``deliver`` unread (tests/offline_queue/test_gateway.py
drives the worker with a second, test-only gateway of another path layout).

Errors are the queue's own (offline_queue/errors.py): ``deliver`` raises ``RetryableError``
(``Untrusted`` and ``TlsRefused`` are kinds of it) or ``PermanentError``; lookups raise
``NotFound`` or ``Unreachable``; staff queries ``ApiUnavailable``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from offline_queue.errors import BadAnswer

#: the kinds of outbox row (docs/architecture.md, "The offline queue")
PAYMENT, RATING, COLLECTION = "payment", "rating", "collection"
#: a resident's fault/outage report, complaint or suggestion, and an SMS e-bill sign-up
SERVICE_REQUEST, EBILL = "service_request", "ebill"


def canonical_json(obj: Any) -> bytes:
    """The exact bytes stored once and sent on every retry (Idempotency-Key's body)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def check_account(body: dict[str, Any]) -> None:
    """The account answer every gateway returns (docs/billing-api.yaml Account): an
    ``account_no``, ``holder_masked``/``address_masked``/``as_of`` strings if given, and
    ``arrears_minor``/``balance_minor`` integer minor units or absent."""
    if not isinstance(body.get("account_no"), str):
        raise BadAnswer("account answer without account_no")
    for name in ("arrears_minor", "balance_minor"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise BadAnswer(f"{name} is not integer minor units: {value!r}")


@dataclass(frozen=True)
class DeliveryReceipt:
    """Proof that the billing system recorded a delivery: the answer echoed what was sent."""

    status: int
    answer: str  # the answer as received, kept on the outbox row


class Encoder(Protocol):
    def __call__(self, kind: str, payload: Any) -> bytes: ...


class BillingGateway(Protocol):
    """What the terminal needs from a billing system. Lookups return the answer as a checked
    JSON-shaped ``dict`` (it is what the reference cache keeps)."""

    def encode(self, kind: str, payload: Any) -> bytes:
        """The bytes stored in the outbox for ``payload`` (a ``PaymentRecord`` for a payment,
        a JSON-shaped dict otherwise); sent unchanged on every retry."""

    def deliver(self, kind: str, key: str, body: bytes) -> DeliveryReceipt:
        """Send ``body`` under idempotency ``key``; a receipt only when the answer proves it."""

    def account(self, account_no: str) -> dict[str, Any]:
        """The account's answer; it is about ``account_no``, its money integer minor units."""

    def card(self, card_uid: str) -> dict[str, Any]:
        """The card's answer: its ``account_no``, and it is about ``card_uid``."""

    def notices(self, lang: str) -> list[dict[str, Any]]:
        """The notices board in ``lang``."""

    def history(self, account_no: str) -> dict[str, Any]:
        """The account's twelve months and last payments (kWh and money integers)."""

    def heartbeat(self, kiosk_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Best effort, never queued: the terminal's health now."""
