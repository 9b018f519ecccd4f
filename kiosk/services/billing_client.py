"""Lookups against the billing API (accounts, cards, notices), with the reference cache as the
fallback while offline. Payments never go through here: they go through the outbox."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

import requests

from kiosk.flow.events import AccountInfo
from offline_queue.cache import ReferenceCache
from offline_queue.deadline import DeadlineSession
from offline_queue.tls import TlsTrust, tls_reason

log = logging.getLogger(__name__)


class LookupFailed(Exception):
    """Base: ``reason`` is the code the screen translates."""

    reason = "lookup_failed"


class NotFound(LookupFailed):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unreachable(LookupFailed):
    reason = "offline"


class BadAnswer(Unreachable):
    """The server answered something we can't read: treated like no answer, and logged."""


class BillingClient:
    def __init__(self, base_url: str, cache: ReferenceCache | None = None,
                 connect_timeout: float = 3.05, read_timeout: float = 5.0,
                 session: requests.Session | None = None, tls: TlsTrust | None = None) -> None:
        """``tls``: what an https:// server must prove (default: the system store)."""
        self.base_url = base_url.rstrip("/")
        self.cache = cache
        self.timeout = (connect_timeout, read_timeout)
        # A total deadline per lookup (a server trickling bytes cannot hold a resident's screen)
        # and never a redirect followed: an answer is only what the API itself says.
        self.http = session or DeadlineSession(connect_timeout + read_timeout, tls=tls)

    def _get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        try:
            resp = self.http.get(self.base_url + path, params=params, timeout=self.timeout,
                                 allow_redirects=False)
        except requests.RequestException as exc:
            why = tls_reason(exc)
            if why is not None:
                # No answer from a server that cannot prove who it is: offline, and said why.
                log.warning("billing API refused over TLS: %s", why)
                raise Unreachable(f"TLS: {why}") from exc
            raise Unreachable(str(exc)) from exc
        if 300 <= resp.status_code < 400:
            log.warning("billing API %s answered HTTP %s to %r: not followed", path.split("/")[2],
                        resp.status_code, resp.headers.get("Location", "")[:200])
            raise BadAnswer(f"HTTP {resp.status_code} redirect not followed")
        try:
            body = resp.json()
        except ValueError:
            log.warning("billing API %s answered HTTP %s with non-JSON", path, resp.status_code)
            raise BadAnswer(f"HTTP {resp.status_code}: not JSON") from None
        if not isinstance(body, dict):
            raise BadAnswer("not a JSON object")
        if resp.status_code in (400, 404, 422):
            raise NotFound(str(body.get("error") or "not_found"))
        if resp.status_code != 200:
            raise Unreachable(f"HTTP {resp.status_code}")
        return body

    # ---- HTTP only (any thread): the answer, checked, and the body to cache
    def fetch_account(self, account_no: str) -> tuple[AccountInfo, dict[str, Any]]:
        body = self._get(f"/v1/accounts/{account_no}")
        info = _account_info(body)
        if info.account_no != account_no:  # an answer about another account is no answer
            raise BadAnswer("account answer is about another account")
        return info, body

    def fetch_card(self, card_uid: str) -> tuple[str, dict[str, Any]]:
        """The account number a card belongs to."""
        body = self._get(f"/v1/cards/{card_uid}")
        account_no = body.get("account_no")
        if not isinstance(account_no, str):
            raise BadAnswer("card answer without account_no")
        echoed = body.get("card_uid")
        if not isinstance(echoed, str) or echoed.upper() != card_uid.upper():
            raise BadAnswer("card answer is about another card")
        return account_no, body

    # ---- the cache (only on the thread that owns its connection)
    def remember(self, kind: str, key: str, body: dict[str, Any], fetched_at: str) -> None:
        if self.cache is not None:
            self.cache.put(kind, key, body, fetched_at)

    def cached_card(self, card_uid: str) -> str | None:
        cached = self.cache.get("card", card_uid) if self.cache else None
        return str(cached[0]["account_no"]) if cached else None

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
            body = self._get("/v1/notices", {"lang": lang})
            notices = body.get("notices")
            if not isinstance(notices, list):
                raise BadAnswer("notices missing")
        except Unreachable:
            cached = self.cache.get("notices", lang) if self.cache else None
            return list(cached[0]["notices"]) if cached else []
        if self.cache:
            self.cache.put("notices", lang, {"notices": notices}, _now())
        return notices


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _int_or_none(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadAnswer(f"{name} is not integer minor units: {value!r}")
    return value


def _account_info(body: dict[str, Any]) -> AccountInfo:
    account_no = body.get("account_no")
    if not isinstance(account_no, str):
        raise BadAnswer("account answer without account_no")
    return AccountInfo(
        account_no=account_no,
        holder_masked=str(body.get("holder_masked", "")),
        address_masked=str(body.get("address_masked", "")),
        arrears_minor=_int_or_none(body.get("arrears_minor"), "arrears_minor"),
        balance_minor=_int_or_none(body.get("balance_minor"), "balance_minor"),
        as_of=str(body.get("as_of", "")),
    )
