"""Events the session reducer understands. Immutable; made by services from device, HTTP and
timer happenings, and by screens from a resident's touches."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AccountInfo:
    account_no: str
    holder_masked: str = ""
    address_masked: str = ""
    arrears_minor: int | None = None  # None: never seen and offline — payable, amount unknown
    balance_minor: int | None = None
    as_of: str = ""
    from_cache: bool = False
    #: this terminal's payments not yet in the answer, already taken off the arrears shown
    netted_minor: int = 0
    #: a prepaid meter: the payment buys electricity written to the card (docs/prepaid.md)
    prepaid: bool = False


@dataclass(frozen=True)
class QueueState:
    """What the outbox says: drives the offline caps (docs/promises.md)."""

    online: bool = True
    pending_count: int = 0
    pending_total_minor: int = 0
    oldest_pending_age_s: int = 0


class Event:
    """Marker base class."""


# ---- resident
@dataclass(frozen=True)
class CardTapped(Event):
    card_uid: str
    session_id: str = ""  # minted by the shell: the reducer makes no ids


@dataclass(frozen=True)
class AccountEntered(Event):
    text: str
    session_id: str = ""


@dataclass(frozen=True)
class BillScanned(Event):
    """A bill of this utility read by the barcode scanner: identifies the account like a tap."""

    account_no: str
    session_id: str = ""


@dataclass(frozen=True)
class PaymentCodeScanned(Event):
    """A wallet app's payment code (付款码) read from the resident's phone by the scanner."""

    code: str


@dataclass(frozen=True)
class UnreadableScan(Event):
    """A scan that is neither a bill of this utility nor a payment code: the resident is told so."""

    reason: str = ""


@dataclass(frozen=True)
class AmountChosen(Event):
    amount_minor: int


@dataclass(frozen=True)
class AmountReconsidered(Event):
    """Asked whether to pay less than is owed, the resident chose to pick another amount."""


@dataclass(frozen=True)
class OnScreenReceiptAccepted(Event):
    """The printer can't print; the resident agreed to a receipt on screen instead."""


@dataclass(frozen=True)
class FinishPressed(Event):
    pass


@dataclass(frozen=True)
class CancelPressed(Event):
    pass


@dataclass(frozen=True)
class ContinuePressed(Event):
    pass


@dataclass(frozen=True)
class Rated(Event):
    stars: int | None  # None: skipped


class Answer(Event):
    """An answer to a request made on behalf of one session: it names that session, and the
    reducer drops it when another session is on screen (a slow lookup for resident A must never
    show A's account to resident B). See docs/architecture.md, "Every answer names its question"."""

    session_id: str


# ---- lookups (billing client / cache)
@dataclass(frozen=True)
class AccountFound(Answer):
    session_id: str
    account: AccountInfo
    recently_paid: bool = False  # the duplicate-payment guard: paid within the window


@dataclass(frozen=True)
class AccountNotFound(Answer):
    session_id: str
    reason: str  # unknown_account | unknown_card | malformed_account | lookup_failed


# ---- cash devices (values in minor units)
@dataclass(frozen=True)
class NoteEscrowed(Event):
    value_minor: int


@dataclass(frozen=True)
class NoteCredited(Event):
    value_minor: int


@dataclass(frozen=True)
class NoteReturned(Event):
    value_minor: int
    reason: str


@dataclass(frozen=True)
class NoteRejected(Event):
    reason: str


@dataclass(frozen=True)
class CoinCredited(Event):
    value_minor: int
    device_counter: int | None = None  # the acceptor's event counter: journaled with the credit


@dataclass(frozen=True)
class DeviceFaulted(Event):
    device: str
    code: str
    reason: str


@dataclass(frozen=True)
class DeviceCleared(Event):
    device: str
    code: str


@dataclass(frozen=True)
class ReadinessChanged(Answer):
    """The answer to CheckReadiness for one session."""

    session_id: str
    validator_ok: bool
    printer_can_print: bool | None  # None: unknown


@dataclass(frozen=True)
class PrinterStatusSeen(Event):
    """The printer's own thread read its status (terminal-wide, not an answer to a session)."""

    can_print: bool | None  # None: the printer did not answer


@dataclass(frozen=True)
class JournalFailed(Event):
    """A journal or outbox write did not commit (disk full, I/O error, busy past the timeout):
    nothing more may be taken or shown as paid until staff have looked (a locking fault)."""

    reason: str


@dataclass(frozen=True)
class QueueChanged(Event):
    queue: QueueState


@dataclass(frozen=True)
class ConnectivityChanged(Event):
    """A lookup or delivery found the billing API reachable (or not)."""

    online: bool


# ---- shell results
@dataclass(frozen=True)
class PaymentCommitted(Answer):
    session_id: str
    txn_id: str
    receipt_no: str


@dataclass(frozen=True)
class ReceiptPrinted(Event):
    txn_id: str  # the payment whose receipt came out (a reprint names its own)


@dataclass(frozen=True)
class ReceiptFailed(Event):
    txn_id: str
    reason: str


# ---- time (the reducer has no clock: timers arrive as events)
@dataclass(frozen=True)
class TimerExpired(Event):
    name: str
    token: int = 0  # which start of the timer fired: the shell drops one restarted meanwhile


@dataclass(frozen=True)
class CardWriteChanged(Event):
    """A prepaid purchase's card write (docs/prepaid.md), by transaction id: ``writing`` (keep
    the card on the reader), ``card_needed`` (put it back), ``deferred`` (re-write slip printed:
    the next tap of the card finishes it), ``done``, ``stuck`` (staff)."""

    txn_id: str
    status: str


# ---- beyond paying (kiosk/flow/services_menu.py)
@dataclass(frozen=True)
class ServicesPressed(Event):
    """From the account screen: history, service requests, e-bill sign-up."""


@dataclass(frozen=True)
class ErrandChosen(Event):
    kind: str  # services_menu.ERRANDS


@dataclass(frozen=True)
class OptionChosen(Event):
    code: str  # a category, a reason (toggled) or what an e-bill covers


@dataclass(frozen=True)
class PhoneEntered(Event):
    text: str


@dataclass(frozen=True)
class BackPressed(Event):
    pass


@dataclass(frozen=True)
class PrintPressed(Event):
    """Print the history or the request on screen as a slip."""


@dataclass(frozen=True)
class HistoryFetched(Answer):
    session_id: str
    history: object = None  # services_menu.History, or None with ``reason``
    reason: str = ""


@dataclass(frozen=True)
class RequestQueued(Answer):
    session_id: str
    request_id: str
    local_ref: str


@dataclass(frozen=True)
class RequestDelivered(Answer):
    session_id: str
    request_id: str
    reference_no: str  # the utility's


@dataclass(frozen=True)
class SlipPrinted(Answer):
    session_id: str
    ok: bool
# ---- the code tender (kiosk/flow/code_tender.py, docs/payment-gateway.yaml)
@dataclass(frozen=True)
class CodeTenderChosen(Event):
    """The resident chose to pay ``amount_minor`` with the payment code on their phone."""

    amount_minor: int


@dataclass(frozen=True)
class CodeTenderConfigured(Event):
    """Terminal-wide: a payment gateway is configured (the code tender may be offered)."""

    enabled: bool


@dataclass(frozen=True)
class CodeGatewayAnswered(Answer):
    """What the gateway said (or did not) about one order: ``status`` paid | failed |
    user_paying | reversed | not_found | unknown; already checked and recorded by the shell."""

    session_id: str
    order_id: str
    status: str
    gateway_ref: str = ""
    reason: str = ""
    step: str = ""  # which request it answers: charge | query | reverse
