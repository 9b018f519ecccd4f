"""What the payment session is: its phases and the immutable ``Session`` the reducer
(kiosk/flow/session.py) turns into the next one. Pure data; money in integer fen."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field

from kiosk.flow import code_tender as ct
from kiosk.flow import commands as c
from kiosk.flow import events as e
from kiosk.flow import services_menu as sm
from kiosk.flow.rules import FlowConfig


class Phase(str, enum.Enum):
    IDLE = "idle"
    IDENTIFYING = "identifying"
    ACCOUNT = "account"
    AMOUNT = "amount"
    INSERTING = "inserting"
    COMMITTING = "committing"
    RECEIPT = "receipt"
    RATING = "rating"
    CANCELLED = "cancelled"
    OUT_OF_SERVICE = "out_of_service"
    SERVICES = "services"  # history, service requests, e-bill (kiosk/flow/services_menu.py)
    ERRAND = "errand"
    # the code tender (kiosk/flow/code_tender.py)
    CODE_SCAN = "code_scan"
    CODE_WAIT = "code_wait"
    CODE_FAILED = "code_failed"


#: a resident is choosing: no money in yet, the idle timer applies
CHOOSING = frozenset({Phase.IDENTIFYING, Phase.ACCOUNT, Phase.AMOUNT, Phase.SERVICES,
                      Phase.ERRAND})

IDLE_TIMER, INSERT_TIMER, SCREEN_TIMER = "idle", "insert", "screen"
#: a prepaid card write the receipt screen waits for (kiosk/services/prepaid_writer.py)
CARD_BUSY = frozenset({"writing", "card_needed"})
#: the locking fault a failed journal write raises; staff clear it like a device fault
JOURNAL_FAULT = ("journal", "write_failed")


@dataclass(frozen=True)
class Credit:
    seq: int
    tender: str  # note | coin
    value_minor: int


@dataclass(frozen=True)
class Session:
    config: FlowConfig = field(default_factory=FlowConfig)
    phase: Phase = Phase.IDLE
    session_id: str = ""
    account: e.AccountInfo | None = None
    recently_paid: bool = False
    target_minor: int = 0
    credits: tuple[Credit, ...] = ()
    escrow: tuple[int, int] | None = None  # (seq, value) awaiting the device's outcome
    next_seq: int = 1
    finishing: bool = False
    committed: bool = False
    late_payments: int = 0
    txn_id: str = ""
    receipt_no: str = ""
    printed: bool | None = None
    message: str = ""  # a reason code for the screen
    faults: frozenset[tuple[str, str]] = frozenset()
    queue: e.QueueState = field(default_factory=e.QueueState)
    validator_ok: bool = True
    printer_can_print: bool | None = None
    on_screen_receipt: bool = False
    #: asked the devices (CheckReadiness) and not yet answered: an amount chosen meanwhile waits
    readiness_pending: bool = False
    #: the card tapped to start (a prepaid purchase is written to it) and its write's status
    card_uid: str = ""
    card_write: str = ""
    #: an amount under the arrears the resident was asked about (kiosk/flow/outcome.py)
    short_asked: int = 0
    #: the fault code that stopped insertion: the ending says the target was not reached
    interrupted: str = ""
    #: the errand beyond paying on screen (Phase.ERRAND)
    errand: sm.Errand | None = None
    #: a payment gateway is configured (the code tender is offered online), and this session's
    #: code payment, if the resident chose one (kiosk/flow/code_tender.py)
    code_enabled: bool = False
    code: ct.CodeState | None = None

    @property
    def credited_minor(self) -> int:
        return sum(cr.value_minor for cr in self.credits)

    @property
    def offline(self) -> bool:
        return not self.queue.online

    def tally(self, tender: str) -> tuple[tuple[int, int], ...]:
        counts = Counter(cr.value_minor for cr in self.credits if cr.tender == tender)
        return tuple(sorted(counts.items()))


Result = tuple[Session, list[c.Command]]
