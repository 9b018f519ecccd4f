"""Today's billing contract over HTTP/JSON (docs/billing-api.yaml): the one place that knows its
paths, methods, headers and answer shapes.

Every request has one total deadline (connect + the whole answer, offline_queue/deadline.py),
is never redirected (a 302 would turn a POST into a GET of the Location), is signed as the kiosk
when ``http.auth`` is a ``KioskAuth`` (offline_queue/signing.py), and trusts an https:// server
only as ``tls`` says (offline_queue/tls.py). A delivery is POSTed with its stored bytes and
``Idempotency-Key``, and counts only when the answer echoes what was sent
(offline_queue/answers.py).

One instance per thread that uses it: each holds its own ``requests`` session.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import time
from datetime import datetime
from typing import Any

import requests

from offline_queue.answers import check_history, unproven
from offline_queue.crash import crash_point
from offline_queue.deadline import DeadlineSession
from offline_queue.errors import (ApiUnavailable, BadAnswer, NotFound, PermanentError,
                                  RetryableError, TlsRefused, Unreachable, Untrusted)
from offline_queue.gateway import (COLLECTION, EBILL, PAYMENT, RATING, SERVICE_REQUEST,
                                   DeliveryReceipt, canonical_json, check_account)
from offline_queue.tls import TlsTrust, tls_reason

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 425, 429}) | frozenset(range(500, 600))
RETRY_AFTER_CAP_S = 600.0  # a server may slow us down, not park the queue for days


def encode(kind: str, payload: Any) -> bytes:
    """docs/billing-api.yaml request bodies. A payment's is built from its record here and
    nowhere else; the other kinds arrive as the JSON object to send."""
    if kind == PAYMENT:
        p = payload
        body = {
            "kiosk_id": p.kiosk_id,
            "txn_id": p.txn_id,
            "account_no": p.account_no,
            "amount_minor": p.amount_minor,
            "currency": "CNY",
            "tender": getattr(p, "tender", "cash"),
            "notes": {str(value): n for value, n in p.notes},
            "coins": {str(value): n for value, n in p.coins},
            "created_at": p.created_at,
            "offline": p.offline,
        }
        if getattr(p, "readdressed_from", None):  # absent otherwise: older bodies unchanged
            body["readdressed_from"] = p.readdressed_from
        if getattr(p, "gateway_ref", None):  # a payment by code (docs/billing-api.yaml)
            body["gateway_ref"] = p.gateway_ref
        return canonical_json(body)
    return canonical_json(payload)


def delivery_path(kind: str, body: bytes) -> str:
    """Where a row of ``kind`` goes. A collection is filed under the kiosk that counted it."""
    if kind == PAYMENT:
        return "/v1/payments"
    if kind in (RATING, "feedback"):
        return "/v1/feedback"
    if kind == COLLECTION:
        try:
            kiosk_id = json.loads(body)["kiosk_id"]
        except (ValueError, KeyError, TypeError):
            raise PermanentError("collection body names no kiosk_id") from None
        return f"/v1/kiosks/{kiosk_id}/collections"
    if kind == SERVICE_REQUEST:
        return "/v1/service-requests"
    if kind == EBILL:  # filed under the account it signs up
        return f"/v1/accounts/{_body_field(body, 'account_no')}/e-bill"
    raise PermanentError(f"no delivery path for outbox kind {kind!r}")


def _body_field(body: bytes, name: str) -> str:
    try:
        value = json.loads(body)[name]
    except (ValueError, KeyError, TypeError):
        raise PermanentError(f"body names no {name}") from None
    if not isinstance(value, str) or not value.isalnum():
        raise PermanentError(f"body's {name} cannot be a path segment")
    return value


class HttpGateway:
    """``BillingGateway`` (offline_queue/gateway.py) for docs/billing-api.yaml."""

    def __init__(self, base_url: str, *, connect_timeout: float = 3.05, read_timeout: float = 10.0,
                 request_deadline_s: float | None = None, session: requests.Session | None = None,
                 tls: TlsTrust | None = None) -> None:
        """``request_deadline_s``: the total per request (default connect + read); ``tls``:
        what an https:// server must prove (default: the system store)."""
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.trust = tls or TlsTrust()
        if request_deadline_s is None:
            request_deadline_s = connect_timeout + read_timeout
        self.http = session or DeadlineSession(request_deadline_s, tls=self.trust)

    encode = staticmethod(encode)

    # ---------------------------------------------------------------- deliveries
    def deliver(self, kind: str, key: str, body: bytes) -> DeliveryReceipt:
        path = delivery_path(kind, body)
        try:
            resp = self.http.request(
                "POST", self.base_url + path, data=body, timeout=self.timeout,
                headers={"Idempotency-Key": key, "Content-Type": "application/json",
                         "Accept": "application/json"},
                allow_redirects=False,  # a 302 would turn this POST into a GET of the Location
            )
        except requests.RequestException as exc:
            why = tls_reason(exc)  # also when it broke an enrolment on the way
            if why is None:
                raise RetryableError(f"transport: {type(exc).__name__}: {exc}") from exc
            raise TlsRefused(f"TLS: {why}") from exc
        crash_point("after_post_sent")
        status = resp.status_code
        text = resp.content.decode("utf-8", errors="replace")
        if 300 <= status < 400:
            # Not an answer to what we sent. The server may still have recorded it: the retry
            # is the byte-identical body under the same Idempotency-Key.
            location = resp.headers.get("Location", "")[:200]
            log.warning("outbox %s: HTTP %d to %r, not followed", key, status, location)
            raise _untrusted(status, text, f"redirect to {location!r} not followed")
        if status in RETRYABLE_STATUS:
            err = _status_error(RetryableError, status, text)
            if status in (429, 503):
                wait = retry_after_s(resp.headers.get("Retry-After"))
                err.retry_after = wait  # type: ignore[attr-defined]
            raise err
        if status in (401, 403):
            # docs/billing-api.yaml: the signature or the kiosk's enrolment was refused, so
            # nothing was recorded. Not the payment's fault: it stays queued, staff see why.
            raise _untrusted(status, text, f"{_error_code(text)}: kiosk identity refused")
        if 400 <= status < 500:
            # 409: this key was used with different bytes — never resend blindly; staff decide.
            raise _status_error(PermanentError, status, text)
        if not 200 <= status < 300:
            raise _status_error(RetryableError, status, text)
        # docs/billing-api.yaml: a recorded request is answered with its ids (and amount) echoed.
        # Anything less may have come from something that is not the ledger.
        why = unproven(kind, body, text)
        if why is not None:
            raise _untrusted(status, text, why)
        return DeliveryReceipt(status, text)

    def prepaid_token(self, kiosk_id: str, txn_id: str, card_uid: str) -> dict[str, Any]:
        """docs/billing-api.yaml postPrepaidToken: the purchase token of a delivered payment.
        PermanentError: refused for good (422, 400); RetryableError: ask again later (the
        payment not delivered yet, 409 payment_not_recorded; transport; 5xx)."""
        body = canonical_json({"kiosk_id": kiosk_id, "txn_id": txn_id, "card_uid": card_uid})
        try:
            resp = self.http.request(
                "POST", self.base_url + "/v1/prepaid/tokens", data=body, timeout=self.timeout,
                headers={"Idempotency-Key": txn_id, "Content-Type": "application/json",
                         "Accept": "application/json"}, allow_redirects=False)
        except requests.RequestException as exc:
            raise RetryableError(f"transport: {type(exc).__name__}: {exc}") from exc
        text = resp.content.decode("utf-8", errors="replace")
        if resp.status_code in (400, 422):
            raise _status_error(PermanentError, resp.status_code, text)
        if resp.status_code not in (200, 201):
            raise _status_error(RetryableError, resp.status_code, text)
        try:
            answer = resp.json()
        except ValueError:
            raise RetryableError("token answer is not JSON") from None
        if not isinstance(answer, dict):
            raise RetryableError("token answer is not an object")
        return answer

    # ---------------------------------------------------------------- lookups
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

    def account(self, account_no: str) -> dict[str, Any]:
        body = self._get(f"/v1/accounts/{account_no}")
        check_account(body)
        if body["account_no"] != account_no:  # an answer about another account is no answer
            raise BadAnswer("account answer is about another account")
        return body

    def card(self, card_uid: str) -> dict[str, Any]:
        body = self._get(f"/v1/cards/{card_uid}")
        if not isinstance(body.get("account_no"), str):
            raise BadAnswer("card answer without account_no")
        echoed = body.get("card_uid")
        if not isinstance(echoed, str) or echoed.upper() != card_uid.upper():
            raise BadAnswer("card answer is about another card")
        return body

    def history(self, account_no: str) -> dict[str, Any]:
        """docs/billing-api.yaml getHistory, checked (offline_queue/answers.py check_history)."""
        body = self._get(f"/v1/accounts/{account_no}/history")
        why = check_history(body, account_no)
        if why is not None:
            raise BadAnswer(why)
        return body

    def notices(self, lang: str) -> list[dict[str, Any]]:
        notices = self._get("/v1/notices", {"lang": lang}).get("notices")
        if not isinstance(notices, list):
            raise BadAnswer("notices missing")
        return notices

    # ---------------------------------------------------------------- staff queries
    def health(self) -> tuple[int, float | None]:
        """The health endpoint's status and the server's clock (epoch seconds, None: unknown).
        Raises ``TlsRefused`` or ``Unreachable``."""
        try:
            resp = self.http.get(self.base_url + "/v1/health", timeout=self.timeout)
        except requests.RequestException as exc:
            why = tls_reason(exc)  # a refused handshake, a pin, or an enrolment they broke
            if why is not None:
                raise TlsRefused(why) from exc
            raise Unreachable(f"unreachable: {type(exc).__name__}") from exc
        return resp.status_code, _server_epoch(resp)

    def settlement(self, kiosk_id: str, day: str) -> dict[str, Any]:
        """The server's count, total and payments for a kiosk and (kiosk-local) day."""
        body = self._staff(self.http.get, f"/v1/kiosks/{kiosk_id}/settlement", params={"date": day})
        payments = body.get("payments")
        if not (_is_int(body.get("count")) and _is_int(body.get("total_minor"))
                and isinstance(payments, list)):
            raise ApiUnavailable("settlement answer does not follow the contract")
        for p in payments:
            if not (isinstance(p, dict) and isinstance(p.get("txn_id"), str)
                    and _is_int(p.get("amount_minor"))):
                raise ApiUnavailable("settlement answer holds a malformed payment")
        return body

    def heartbeat(self, kiosk_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._staff(self.http.post, f"/v1/kiosks/{kiosk_id}/heartbeat", json=body)

    def _staff(self, send: Any, path: str, **kw: Any) -> dict[str, Any]:
        try:
            resp = send(self.base_url + path, timeout=self.timeout, **kw)
        except requests.RequestException as exc:
            raise ApiUnavailable(f"unreachable: {type(exc).__name__}") from exc
        if resp.status_code != 200:
            raise ApiUnavailable(f"HTTP {resp.status_code}")
        try:
            answer = resp.json()
        except ValueError:
            raise ApiUnavailable("the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise ApiUnavailable("the answer is not a JSON object")
        return answer


def retry_after_s(value: str | None, cap_s: float = RETRY_AFTER_CAP_S) -> float:
    """RFC 9110 section 10.2.3: delay-seconds or an HTTP-date; capped at ``cap_s`` (the backoff's
    own cap: a later retry time is taken for one set on another clock); 0 if absent/unreadable."""
    if not value:
        return 0.0
    value = value.strip()
    if re.fullmatch(r"[0-9]{1,10}", value):
        seconds = float(value)
    else:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return 0.0
    return max(0.0, min(cap_s, RETRY_AFTER_CAP_S, seconds))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _error_code(text: str) -> str:
    try:
        code = json.loads(text).get("error", "")
    except (ValueError, AttributeError):
        return "?"
    return code if isinstance(code, str) else "?"


def _status_error(cls: type, status: int, text: str) -> Exception:
    code = ""
    try:
        code = json.loads(text).get("error", "")
    except (ValueError, AttributeError):
        pass
    err = cls(f"HTTP {status} {code}".strip())
    err.status = status  # type: ignore[attr-defined]
    err.body = text[:2000]  # type: ignore[attr-defined]
    return err


def _untrusted(status: int, text: str, why: str) -> Untrusted:
    err = Untrusted(f"HTTP {status} {why}")
    err.status = status  # type: ignore[attr-defined]
    err.body = text[:2000]  # type: ignore[attr-defined]
    return err


def _server_epoch(resp: requests.Response) -> float | None:
    try:
        body = resp.json()
        text = body.get("server_time") if isinstance(body, dict) else None
        if isinstance(text, str):
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        pass
    date = resp.headers.get("Date")
    if date:
        try:
            return email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return None
    return None
