"""Commands the reducer asks the shell to carry out, in order. Money-moving commands are
preceded by the journal command that records them (docs/architecture.md)."""

from __future__ import annotations

from dataclasses import dataclass


class Command:
    """Marker base class."""


@dataclass(frozen=True)
class LookupCard(Command):
    session_id: str  # echoed by the answer (AccountFound / AccountNotFound)
    card_uid: str


@dataclass(frozen=True)
class LookupAccount(Command):
    session_id: str
    account_no: str


@dataclass(frozen=True)
class CheckReadiness(Command):
    """Validator and printer status for this session; answered by ReadinessChanged."""

    session_id: str


@dataclass(frozen=True)
class EnableAcceptors(Command):
    notes_minor: frozenset[int]
    coins_minor: frozenset[int]


@dataclass(frozen=True)
class DisableAcceptors(Command):
    pass


@dataclass(frozen=True)
class JournalSessionStart(Command):
    session_id: str
    account_no: str
    target_minor: int


@dataclass(frozen=True)
class JournalEscrow(Command):
    session_id: str
    seq: int
    value_minor: int
    decision: str  # "stack" | "return"
    reason: str = ""


@dataclass(frozen=True)
class StackNote(Command):
    pass


@dataclass(frozen=True)
class ReturnNote(Command):
    pass


@dataclass(frozen=True)
class JournalCredit(Command):
    session_id: str
    seq: int
    tender: str  # "note" | "coin"
    value_minor: int
    device_counter: int | None = None  # kept with the credit, so a restart resumes after it


@dataclass(frozen=True)
class JournalReturned(Command):
    session_id: str
    seq: int
    value_minor: int
    reason: str


@dataclass(frozen=True)
class CommitPayment(Command):
    """Write the payment and its outbox row in one transaction; answered by PaymentCommitted."""

    session_id: str
    account_no: str
    notes: tuple[tuple[int, int], ...]  # (denomination, count), sorted
    coins: tuple[tuple[int, int], ...]
    amount_minor: int
    offline: bool
    prepaid_card: str = ""  # the card this purchase is written to (docs/prepaid.md)


@dataclass(frozen=True)
class JournalSessionEnd(Command):
    session_id: str
    outcome: str  # paid | cancelled | timed_out | failed


@dataclass(frozen=True)
class PrintReceipt(Command):
    txn_id: str


@dataclass(frozen=True)
class QueueRating(Command):
    txn_id: str
    stars: int


@dataclass(frozen=True)
class StartTimer(Command):
    name: str
    seconds: int


@dataclass(frozen=True)
class CancelTimer(Command):
    name: str


@dataclass(frozen=True)
class FetchHistory(Command):
    """Answered by HistoryFetched (the server's, or the cached copy while offline)."""

    session_id: str
    account_no: str


@dataclass(frozen=True)
class QueueRequest(Command):
    """A service request or e-bill sign-up into the outbox; answered by RequestQueued."""

    session_id: str
    kind: str  # fault | outage | complaint | suggestion | ebill
    account_no: str
    fields: tuple[tuple[str, object], ...]  # services_menu.body_fields, as sorted pairs


@dataclass(frozen=True)
class PrintSlip(Command):
    """The errand on screen (history, request) as a slip; answered by SlipPrinted."""

    session_id: str
# ---- the code tender (kiosk/flow/code_tender.py): each answered by CodeGatewayAnswered
@dataclass(frozen=True)
class ChargeCode(Command):
    """Record the order durably, then charge ``code`` on an I/O thread."""

    session_id: str
    order_id: str
    account_no: str
    amount_minor: int
    code: str


@dataclass(frozen=True)
class QueryCode(Command):
    session_id: str
    order_id: str
    amount_minor: int


@dataclass(frozen=True)
class ReverseCode(Command):
    session_id: str
    order_id: str
    amount_minor: int


@dataclass(frozen=True)
class CommitCodePayment(Command):
    """The paid order becomes a payment (journal, payment, outbox, one transaction, like cash);
    answered by PaymentCommitted."""

    session_id: str
    order_id: str
    account_no: str
    amount_minor: int
