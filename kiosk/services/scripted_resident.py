"""``kiosk simulate``: headless resident sessions through the real flow, journal, drivers and
device simulators (card tap or keypad → amount → notes → commit → receipt → rating)."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kiosk.flow import events as e
from kiosk.flow.session import Phase

log = logging.getLogger(__name__)


@dataclass
class SimulationReport:
    kiosk_id: str
    sessions: int = 0
    paid: int = 0
    paid_minor: int = 0  # cash and code
    paid_code_minor: int = 0  # of which paid with the phone's payment code
    code_failed: int = 0  # code attempts not charged (the resident then paid cash)
    refused: int = 0
    failed: int = 0
    delivered: int = 0  # payments delivered, as this database's outbox records them
    ratings_delivered: int = 0
    pending: int = 0
    dead: int = 0
    date: str = field(default_factory=lambda: date.today().isoformat())
    reconciled_at_start: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def notes_for(amount_minor: int, accepted: frozenset[int]) -> list[int]:
    """Notes a resident would insert to cover ``amount_minor`` (no change: may be over)."""
    out, left = [], amount_minor
    for v in sorted(accepted, reverse=True):
        while left >= v:
            out.append(v)
            left -= v
    if left > 0:
        out.append(min(accepted))
    return out


def run_sessions(term: Any, n: int, accounts: list[tuple[str, str | None]], seed: int = 1,
                 step_timeout: float = 15.0, tender: str = "cash") -> SimulationReport:
    """``accounts``: (account_no, card uid or None) pairs to pick from. ``tender``: cash, code
    (the phone's payment code) or mixed (every other resident pays by code)."""
    rng = random.Random(seed)
    report = SimulationReport(kiosk_id=term.config.kiosk.id, reconciled_at_start=term.reconciliation)
    validator = _simulator(term, "bill_validator")
    # Without a card reader (disabled in config) every resident types the account number.
    card_sim = _simulator(term, "card_reader")
    code_pay = getattr(term, "code_pay", None)
    if code_pay is not None:  # orders an earlier run left open are resolved first
        term.pump(lambda s: code_pay.resolved.is_set(), timeout=60)
    for i in range(n):
        report.sessions += 1
        account_no, card = rng.choice(accounts)
        by_code = tender == "code" or (tender == "mixed" and i % 2 == 1)
        ok = _one_session(term, rng, account_no, card, validator, card_sim, step_timeout, report,
                          by_code)
        if not ok:
            report.failed += 1
            term.pump(lambda s: s.phase in (Phase.IDLE, Phase.OUT_OF_SERVICE), timeout=step_timeout)
    term.drain()
    stats = term.outbox.stats()
    report.pending, report.dead = stats.pending + stats.in_flight, stats.dead
    delivered = dict(term.outbox.db.execute(
        "SELECT kind, count(*) FROM outbox WHERE state = 'DELIVERED' GROUP BY kind").fetchall())
    report.delivered = delivered.get("payment", 0)
    report.ratings_delivered = delivered.get("rating", 0)
    return report


def _simulator(term: Any, device: str) -> Any:
    """The simulator the configured ``device`` talks to (its ``sim://`` name: the protocol's
    own, ``sim://ccnet``, or the device's default); None without a hub or the device."""
    dev = term.config.devices.get(device)
    if term.hub is None or dev is None:
        return None
    url = dev.url
    return term.hub.get(url.rsplit("sim://", 1)[1] if "sim://" in url else device.replace("_", "-"))


def _one_session(term, rng, account_no, card, validator, card_sim, timeout, report,
                 by_code=False) -> bool:
    runner = term.runner
    identified = lambda s: s.phase == Phase.ACCOUNT or bool(s.message)  # noqa: E731
    reached = False
    if card and card_sim is not None:
        # The same card back before the reader saw it go is the same tap (drivers/interfaces.py,
        # CardReader): the next resident waits for the reader to let go of it first.
        reader = term.manager.driver("card_reader")
        term.pump(lambda s: getattr(reader, "current_card", None) != card, timeout)
        card_sim.present(card)
        reached = term.pump(identified, timeout)
        card_sim.remove()
    if not reached or runner.session.phase != Phase.ACCOUNT:
        # No card, or a card this terminal can't resolve offline: the resident types the number.
        runner.enter_account(account_no)
        reached = term.pump(lambda s: s.phase == Phase.ACCOUNT or (bool(s.message) and not s.message.startswith("unknown_card")), timeout)
    if not reached or runner.session.phase != Phase.ACCOUNT:
        log.warning("identification failed: %s", runner.session.message)
        term.events.post(e.CancelPressed())
        return False
    account = runner.session.account
    term.events.post(e.ContinuePressed())
    # a refusal (a prepaid meter typed in, not tapped) is on screen at once: no waiting it out
    term.pump(lambda s: s.phase == Phase.AMOUNT or bool(s.message), timeout)
    arrears = account.arrears_minor or 0
    amount = arrears if arrears >= runner.session.config.min_amount_minor else rng.choice((2000, 5000, 10000))
    if runner.session.printer_can_print is not True:
        term.events.post(e.OnScreenReceiptAccepted())
    if by_code and runner.session.phase == Phase.AMOUNT:
        paid = pay_by_code(term, rng, amount, timeout)
        if paid is not None:
            return _receipt_and_rating(term, rng, paid, timeout, report, code=True)
        report.code_failed += 1  # not charged: the resident pays cash instead
    term.events.post(e.AmountChosen(amount))
    if by_code:  # the code screen's words stay until the choice of cash is handled
        term.pump(lambda s: not s.message.startswith("code_"), timeout)
    term.pump(lambda s: s.phase == Phase.INSERTING or s.message, timeout)
    if runner.session.phase != Phase.INSERTING:
        report.refused += 1
        term.events.post(e.CancelPressed())
        term.pump(lambda s: s.phase == Phase.IDLE, timeout)
        return True
    for note in notes_for(amount, runner.session.config.accepted_notes_minor):
        before = runner.session.credited_minor
        # A resident feeds the next note once the previous one has gone in.
        term.pump(lambda s: validator.ready_for_note, timeout)
        validator.insert_note(note)
        got = term.pump(lambda s: s.credited_minor > before or s.message.startswith("returned")
                        or s.phase != Phase.INSERTING, timeout)
        if not got or runner.session.phase != Phase.INSERTING:
            break
    term.events.post(e.FinishPressed())
    if not term.pump(lambda s: s.phase in (Phase.RECEIPT, Phase.OUT_OF_SERVICE, Phase.CANCELLED), timeout):
        return False
    return _receipt_and_rating(term, rng, runner.session.credited_minor, timeout, report)


def _receipt_and_rating(term, rng, paid_minor, timeout, report, code=False) -> bool:
    if term.runner.session.phase == Phase.RECEIPT:
        report.paid += 1
        report.paid_minor += paid_minor
        report.paid_code_minor += paid_minor if code else 0
        term.pump(lambda s: s.printed is not None, timeout)
        term.events.post(e.ContinuePressed())
        term.pump(lambda s: s.phase == Phase.RATING, timeout)
        term.events.post(e.Rated(rng.choice((None, 4, 5))))
    else:
        term.events.post(e.ContinuePressed())
    return term.pump(lambda s: s.phase in (Phase.IDLE, Phase.OUT_OF_SERVICE), timeout)


def pay_by_code(term: Any, rng: random.Random, amount: int, timeout: float) -> int | None:
    """On the amount screen: choose the code tender, show the phone's payment code and wait
    for the outcome. The amount paid, or None when the resident was not charged (the session is
    then back on the amount screen's choice, ready for cash)."""
    term.events.post(e.CodeTenderChosen(amount))
    if not term.pump(lambda s: s.phase == Phase.CODE_SCAN or bool(s.message), timeout):
        return None
    if term.runner.session.phase != Phase.CODE_SCAN:
        return None
    # a wallet's payment code: 18 digits, the provider's prefix first
    term.events.post(e.PaymentCodeScanned("13" + "".join(rng.choice("0123456789")
                                                         for _ in range(16))))
    # the resident may be asked to confirm on the phone: polled for up to a minute
    done = term.pump(lambda s: s.phase in (Phase.RECEIPT, Phase.CODE_FAILED,
                                           Phase.OUT_OF_SERVICE), timeout + 90)
    if done and term.runner.session.phase == Phase.RECEIPT:
        return amount
    return None
