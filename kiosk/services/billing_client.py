"""Lookups against the billing system (accounts, cards, notices), with the reference cache as
the fallback while offline. Payments never go through here: they go through the outbox. The
requests and their answer checks are the gateway's (offline_queue/gateway.py); this turns its
answers into the flow's ``AccountInfo``."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

import requests

from kiosk.flow.events import AccountInfo
from offline_queue.cache import ReferenceCache
from offline_queue.errors import BadAnswer, LookupFailed, NotFound, Unreachable
from offline_queue.gateway import BillingGateway, check_account
from offline_queue.http_gateway import HttpGateway
from offline_queue.tls import TlsTrust

__all__ = ["BadAnswer", "BillingClient", "LookupFailed", "NotFound", "Unreachable"]

log = logging.getLogger(__name__)


class BillingClient:
    def __init__(self, base_url: str, cache: ReferenceCache | None = None,
                 connect_timeout: float = 3.05, read_timeout: float = 5.0,
                 session: requests.Session | None = None, tls: TlsTrust | None = None,
                 gateway: BillingGateway | None = None) -> None:
        """``gateway``: the billing system (default: today's contract over HTTP at
        ``base_url``, a total deadline per lookup so a server trickling bytes cannot hold a
        resident's screen, and ``tls``: what an https:// server must prove)."""
        self.cache = cache
        self.gateway = gateway or HttpGateway(base_url, connect_timeout=connect_timeout,
                                              read_timeout=read_timeout, session=session, tls=tls)

    @property
    def http(self) -> Any:
        """The HTTP gateway's session (where the kiosk's signing hook is set)."""
        return getattr(self.gateway, "http")

    # ---- the gateway only (any thread): the answer, checked, and the body to cache
    def fetch_account(self, account_no: str) -> tuple[AccountInfo, dict[str, Any]]:
        body = self.gateway.account(account_no)
        return _account_info(body), body

    def fetch_card(self, card_uid: str) -> tuple[str, dict[str, Any]]:
        """The account number a card belongs to."""
        body = self.gateway.card(card_uid)
        return str(body["account_no"]), body

    def fetch_history(self, account_no: str) -> dict[str, Any]:
        """docs/billing-api.yaml getHistory, checked by the gateway (any thread)."""
        return self.gateway.history(account_no)  # type: ignore[attr-defined]

    # ---- the cache (only on the thread that owns its connection)
    def remember(self, kind: str, key: str, body: dict[str, Any], fetched_at: str) -> None:
        if self.cache is not None:
            self.cache.put(kind, key, body, fetched_at)

    def cached_card(self, card_uid: str) -> str | None:
        cached = self.cache.get("card", card_uid) if self.cache else None
        return str(cached[0]["account_no"]) if cached else None

    def cached(self, kind: str, key: str) -> tuple[dict[str, Any], str] | None:
        """A cached answer and when it was fetched (the history shown while offline)."""
        return self.cache.get(kind, key) if self.cache else None

    def cached_account(self, account_no: str) -> AccountInfo | None:
        cached = self.cache.get("account", account_no) if self.cache else None
        if cached is None:
            return None
        info = _account_info(cached[0])
        return AccountInfo(**{**info.__dict__, "from_cache": True, "as_of": cached[1]})

    # ---- both, for callers on one thread (CLI, staff tools)
    def account(self, account_no: str) -> AccountInfo:
        try:
            info, body = self.fetch_account(account_no)
        except NotFound:
            raise
        except Unreachable as exc:
            cached = self.cached_account(account_no)
            if cached is None:
                # Never seen and offline: the number passed its check, so it can still be paid.
                log.info("account lookup offline (%s); paying without a balance", exc)
                return AccountInfo(account_no=account_no, from_cache=True)
            return cached
        self.remember("account", account_no, body, info.as_of or _now())
        return info

    def card(self, card_uid: str) -> str:
        """The account number a card belongs to."""
        try:
            account_no, body = self.fetch_card(card_uid)
        except NotFound:
            raise
        except Unreachable:
            cached = self.cached_card(card_uid)
            if cached is None:
                raise NotFound("unknown_card_offline") from None
            return cached
        self.remember("card", card_uid, body, _now())
        return account_no

    def notices(self, lang: str) -> list[dict[str, Any]]:
        try:
            notices = self.gateway.notices(lang)
        except Unreachable:
            cached = self.cache.get("notices", lang) if self.cache else None
            return list(cached[0]["notices"]) if cached else []
        if self.cache:
            self.cache.put("notices", lang, {"notices": notices}, _now())
        return notices


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _account_info(body: dict[str, Any]) -> AccountInfo:
    check_account(body)  # a cached answer was checked when fetched; this reads it the same way
    return AccountInfo(
        account_no=body["account_no"],
        holder_masked=str(body.get("holder_masked", "")),
        address_masked=str(body.get("address_masked", "")),
        arrears_minor=body.get("arrears_minor"),
        balance_minor=body.get("balance_minor"),
        as_of=str(body.get("as_of", "")),
        prepaid=body.get("prepaid") is True,
    )
