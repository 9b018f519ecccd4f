"""Account and card lookups, split along the one-thread rule: a worker thread asks the billing
API (HTTP only, no database) and posts a ``LookupDone``; the deciding thread resolves it against
the reference cache (its own connection), writes the cache, and nets out this terminal's own
payments the answer cannot know about yet (docs/architecture.md, "One connection per thread").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Callable

from kiosk.flow import events as e
from kiosk.services.billing_client import BillingClient
from offline_queue.errors import LookupFailed, NotFound, Unreachable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LookupDone:
    """What a lookup worker learned; handled on the deciding thread, never by the reducer."""

    session_id: str
    card_uid: str | None = None
    account_no: str | None = None
    account: e.AccountInfo | None = None  # the server's answer, checked
    account_body: dict[str, Any] | None = None
    card_body: dict[str, Any] | None = None
    not_found: str = ""  # a reason code: the server said no
    unreachable: str = ""  # why there was no usable answer (offline, nonsense)


def fetch(billing: BillingClient, session_id: str, card_uid: str | None = None,
          account_no: str | None = None) -> LookupDone:
    """On a worker thread: ask the server, touch nothing else."""
    done = LookupDone(session_id, card_uid, account_no)
    try:
        if card_uid is not None:
            account_no, card_body = billing.fetch_card(card_uid)
            done = replace(done, account_no=account_no, card_body=card_body)
        assert account_no is not None
        info, body = billing.fetch_account(account_no)
        return replace(done, account=info, account_body=body)
    except NotFound as exc:
        return replace(done, not_found=exc.reason)
    except Unreachable as exc:
        return replace(done, unreachable=str(exc) or "offline")
    except LookupFailed as exc:
        return replace(done, not_found=exc.reason)
    except Exception:  # never a traceback on the resident's screen
        log.exception("account lookup failed")
        return replace(done, not_found="lookup_failed")


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def resolve(done: LookupDone, billing: BillingClient,
            unreflected: Callable[[e.AccountInfo], int]) -> tuple[list[e.Event], e.AccountInfo | None]:
    """On the deciding thread: the events a lookup leads to, and the account (or None)."""
    sid = done.session_id
    if done.not_found:
        return [e.AccountNotFound(sid, done.not_found)], None
    if not done.unreachable:
        assert done.account is not None and done.account_body is not None
        if done.card_uid is not None and done.card_body is not None:
            billing.remember("card", done.card_uid, done.card_body, now_utc())
        billing.remember("account", done.account.account_no, done.account_body,
                         done.account.as_of or now_utc())
        info = done.account
        online = True
    else:
        online = False
        account_no = done.account_no
        if account_no is None and done.card_uid is not None:
            account_no = billing.cached_card(done.card_uid)
        if account_no is None:
            return [e.ConnectivityChanged(False), e.AccountNotFound(sid, "unknown_card_offline")], None
        if done.card_uid is not None and done.card_body is not None:
            billing.remember("card", done.card_uid, done.card_body, now_utc())
        info = billing.cached_account(account_no)
        if info is None:
            # Never seen and offline: the number passed its check, so it can still be paid.
            log.info("account lookup offline (%s); paying without a balance", done.unreachable)
            info = e.AccountInfo(account_no=account_no, from_cache=True)
    info = net_out(info, unreflected(info))
    return [e.ConnectivityChanged(online)], info


def net_out(info: e.AccountInfo, paid_minor: int) -> e.AccountInfo:
    """The balance after this terminal's payments the answer does not include: arrears shrink
    first, the surplus becomes prepaid balance (the terminal gives no change)."""
    if paid_minor <= 0 or info.arrears_minor is None:
        return info
    arrears = max(0, info.arrears_minor - paid_minor)
    surplus = max(0, paid_minor - info.arrears_minor)
    balance = None if info.balance_minor is None else info.balance_minor + surplus
    return replace(info, arrears_minor=arrears, balance_minor=balance,
                   netted_minor=info.netted_minor + paid_minor)
