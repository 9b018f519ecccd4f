"""The card-write job of a prepaid purchase (docs/prepaid.md): after the payment has committed,
fetch the utility's token, then write it into the card's spare slot, read it back, flip the
slot pointer -- one step at a time.

Threading (docs/architecture.md, "One thread decides"): every decision and every journal write
is taken here on the deciding thread (``offer`` is called by the runner); each card exchange
and each token request runs on a worker thread that only posts its result back as an event.
One step is in flight at a time. Each step is decided from what the card holds
(kiosk/flow/prepaid_card.py ``plan``), so a card pulled at any byte, a retry, or a restart
after a crash all resolve the same way: the same purchase id, written once, never lost.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from drivers import interfaces as d
from kiosk.flow import events as e
from kiosk.flow import prepaid_card as pc
from offline_queue.crash import crash_point
from offline_queue.errors import PermanentError
from offline_queue.prepaid import STUCK, PrepaidBook, PrepaidWrite

log = logging.getLogger(__name__)

#: the named crash points of a card write (tests/prepaid/test_prepaid_crash.py)
CRASH_POINTS = ("after_token_received", "after_slot_written", "after_read_back",
                "after_pointer_flipped")
PUT_BACK_S = 30.0  # how long "put your card back" waits before the re-write slip
PROBE_S = 1.0
TOKEN_RETRY_S = 3.0
MAX_READER_ERRORS = 3


# ---- what the workers post back (immutable)
@dataclass(frozen=True)
class TokenAnswer:
    txn_id: str
    answer: Any = None
    error: str = ""
    permanent: bool = False


@dataclass(frozen=True)
class CardStepDone:
    txn_id: str
    step: str  # read | write | verify | flip
    blocks: tuple[tuple[int, bytes], ...] = ()
    card_gone: bool = False
    error: str = ""


@dataclass(frozen=True)
class RetryToken:
    txn_id: str


@dataclass(frozen=True)
class ProbeCard:
    """Look for the card again: a card pulled and put back faster than the reader's removal
    polls is never a new tap."""

    txn_id: str
    generation: int


@dataclass(frozen=True)
class PutBackExpired:
    txn_id: str
    generation: int


@dataclass
class _Job:
    write: PrepaidWrite
    token: pc.PurchaseToken | None = None
    slot: int | None = None
    generation: int = 0
    reader_errors: int = 0
    waiting: bool = False  # for the card to come back
    probing: bool = False  # the read out is a probe: the card gone again is no news
    slip_printed: bool = False


Schedule = Callable[[float, Any], None]


def _timer_schedule(post: Callable[[Any], None]) -> Schedule:
    def schedule(seconds: float, event: Any) -> None:
        t = threading.Timer(seconds, post, args=(event,))
        t.daemon = True
        t.start()
    return schedule


class PrepaidWriter:
    def __init__(self, book: PrepaidBook, card: Any, fetch_token: Callable[[str, str], Any],
                 post: Callable[[Any], None], *, print_slip: Callable[[PrepaidWrite], None] | None = None,
                 schedule: Schedule | None = None, put_back_s: float = PUT_BACK_S,
                 token_retry_s: float = TOKEN_RETRY_S, probe_s: float = PROBE_S,
                 background: Callable[[Callable[[], None]], None] | None = None) -> None:
        """``card``: a reader with ``read_block``/``write_block`` (the PN532 driver);
        ``fetch_token(txn_id, card_uid)``: the utility's answer, raising PermanentError for a
        refusal and anything else for "try again"."""
        self.book, self.card, self.fetch_token, self.post = book, card, fetch_token, post
        self.print_slip = print_slip
        self.schedule = schedule or _timer_schedule(post)
        self.put_back_s, self.token_retry_s, self.probe_s = put_back_s, token_retry_s, probe_s
        self._background = background or (lambda fn: threading.Thread(target=fn, daemon=True).start())
        self.jobs: dict[str, _Job] = {}
        self._busy: str | None = None  # the txn with a worker step out

    # ---- entry points (deciding thread)
    def resume_pending(self) -> None:
        """At start-up: every write owed. Those with a token wait for the card's next tap."""
        for w in self.book.pending():
            if w.state in STUCK:
                continue
            job = self._job(w)
            if job.token is None:
                self._fetch(w.txn_id)
            else:
                job.waiting = True

    def start(self, txn_id: str) -> None:
        """Just after the payment committed: the resident's card is still on the reader."""
        w = self.book.get(txn_id)
        if w is None or w.state == "done":
            return
        job = self._job(w)
        self._status(txn_id, "writing")
        if job.token is None:
            self._fetch(txn_id)
        else:
            self._card_step(job, "read")

    def owed_for(self, card_uid: str) -> str | None:
        for txn, job in self.jobs.items():
            if job.write.card_uid == card_uid.upper() and job.token is not None:
                return txn
        return None

    def offer(self, ev: Any) -> bool:
        """True when the event was this job's (it goes no further)."""
        if isinstance(ev, TokenAnswer):
            self._on_token(ev)
        elif isinstance(ev, CardStepDone):
            self._on_step(ev)
        elif isinstance(ev, RetryToken):
            if ev.txn_id in self.jobs and self.jobs[ev.txn_id].token is None:
                self._fetch(ev.txn_id)
        elif isinstance(ev, PutBackExpired):
            self._on_put_back_expired(ev)
        elif isinstance(ev, ProbeCard):
            self._on_probe(ev)
        elif isinstance(ev, d.CardPresented):
            return self._on_tap(ev.card_uid)
        else:
            return False
        return True

    # ---- token
    def _job(self, w: PrepaidWrite) -> _Job:
        job = self.jobs.get(w.txn_id)
        if job is None:
            job = self.jobs[w.txn_id] = _Job(w)
            if w.token is not None:
                job.token = pc.token_from_answer(w.token, w.txn_id, w.card_uid, w.amount_minor)
        return job

    def _fetch(self, txn_id: str) -> None:
        w = self.jobs[txn_id].write

        def work() -> None:
            try:
                self.post(TokenAnswer(txn_id, self.fetch_token(txn_id, w.card_uid)))
            except PermanentError as exc:
                self.post(TokenAnswer(txn_id, error=str(exc), permanent=True))
            except Exception as exc:  # offline, not delivered yet, a bad answer: ask again
                self.post(TokenAnswer(txn_id, error=f"{type(exc).__name__}: {exc}"))
        self._background(work)

    def _on_token(self, ev: TokenAnswer) -> None:
        job = self.jobs.get(ev.txn_id)
        if job is None or job.token is not None:
            return
        w = job.write
        if ev.permanent:
            log.error("prepaid %s: the utility refused the token: %s", w.txn_id, ev.error)
            self.book.advance(w.txn_id, "token_refused", ev.error[:200])
            self._status(w.txn_id, "stuck")
            return
        token = None
        if not ev.error:
            try:
                token = pc.token_from_answer(ev.answer, w.txn_id, w.card_uid, w.amount_minor)
            except ValueError as exc:
                ev = TokenAnswer(ev.txn_id, error=f"unusable token: {exc}")
        if token is None:
            log.info("prepaid %s: no token yet (%s)", w.txn_id, ev.error)
            self.schedule(self.token_retry_s, RetryToken(w.txn_id))
            return
        self.book.token_received(w.txn_id, ev.answer)
        crash_point("after_token_received")
        job.token = token
        self._card_step(job, "read")

    # ---- card steps
    def _card_step(self, job: _Job, step: str, plan: pc.Plan | None = None) -> None:
        if self._busy is not None and self._busy != job.write.txn_id:
            job.waiting = True  # another card is being written; this one resumes on its tap
            return
        self._busy = job.write.txn_id
        job.waiting = False
        uid, txn = job.write.card_uid, job.write.txn_id

        def work() -> None:
            try:
                if step in ("read", "verify"):
                    got = tuple((b, self.card.read_block(uid, b)) for b in pc.blocks_to_read())
                    self.post(CardStepDone(txn, step, got))
                    return
                assert plan is not None
                writes = plan.blocks if isinstance(plan, pc.WriteSlot) else ((plan.block, plan.data),)
                for block, data in writes:  # type: ignore[union-attr]
                    self.card.write_block(uid, block, data)  # reads back and compares
                self.post(CardStepDone(txn, step))
            except Exception as exc:
                gone = _card_gone(exc)
                self.post(CardStepDone(txn, step, card_gone=gone,
                                       error=f"{type(exc).__name__}: {exc}"))
        self._background(work)

    def _on_step(self, ev: CardStepDone) -> None:
        job = self.jobs.get(ev.txn_id)
        if job is None or job.token is None:
            return
        self._busy = None
        txn = ev.txn_id
        probing, job.probing = job.probing, False
        if ev.card_gone and probing:
            job.waiting = True
            self.schedule(self.probe_s, ProbeCard(txn, job.generation))
            return
        if probing:
            self.book.note(txn, "card_back", "found on the reader")
            self._status(txn, "writing")
        if ev.card_gone:
            log.warning("prepaid %s: card left during %s (%s)", txn, ev.step, ev.error)
            self.book.note(txn, "card_removed", f"{ev.step}: {ev.error}"[:200])
            self._ask_card_back(job)
            return
        if ev.error:
            job.reader_errors += 1
            log.warning("prepaid %s: %s failed: %s", txn, ev.step, ev.error)
            if job.reader_errors >= MAX_READER_ERRORS:
                self._defer(job)
                return
            self._card_step(job, "read")
            return
        if ev.step == "read":
            self._decide(job, pc.read_state(dict(ev.blocks)))
        elif ev.step == "write":
            self.book.advance(txn, "slot_written", f"slot {job.slot}")
            crash_point("after_slot_written")
            self._card_step(job, "verify")
        elif ev.step == "verify":
            state = pc.read_state(dict(ev.blocks))
            if job.slot is None or not pc.slot_holds(state, job.slot, job.token):
                job.reader_errors += 1  # what the card holds decides the next step
                self._decide(job, state)
                return
            self.book.advance(txn, "read_back", f"slot {job.slot}")
            crash_point("after_read_back")
            self._card_step(job, "flip", pc.FlipPointer(
                job.slot, pc.POINTER_BLOCK, pc.encode_pointer(job.slot, job.token)))
        elif ev.step == "flip":
            self.book.advance(txn, "pointer_flipped", f"slot {job.slot}")
            crash_point("after_pointer_flipped")
            self._finish(job)

    def _decide(self, job: _Job, state: pc.CardState) -> None:
        assert job.token is not None
        step = pc.plan(state, job.token)
        txn = job.write.txn_id
        if isinstance(step, pc.AlreadyDone):
            job.slot = step.slot
            self._finish(job, "found on the card")
        elif isinstance(step, pc.FlipPointer):
            job.slot = step.slot
            if self.book.get(txn).state in ("token_received", "slot_written"):  # type: ignore[union-attr]
                self.book.advance(txn, "read_back", f"slot {step.slot}, found written")
            self._card_step(job, "flip", step)
        elif isinstance(step, pc.WriteSlot):
            job.slot = step.slot
            self._card_step(job, "write", step)
        else:
            log.error("prepaid %s: the card holds purchase %d (sequence %d): not written", txn,
                      step.on_card.purchase_no, step.on_card.sequence)
            self.book.advance(txn, "card_ahead",
                              f"card holds purchase {step.on_card.purchase_no}"
                              f" sequence {step.on_card.sequence}")
            self.jobs.pop(txn, None)
            self._status(txn, "stuck")

    def _finish(self, job: _Job, detail: str = "") -> None:
        txn = job.write.txn_id
        self.book.advance(txn, "done", detail)
        self.jobs.pop(txn, None)
        log.info("prepaid %s: purchase on the card", txn)
        self._status(txn, "done")

    # ---- the card left
    def _ask_card_back(self, job: _Job) -> None:
        job.waiting = True
        job.generation += 1
        if not job.slip_printed:
            self._status(job.write.txn_id, "card_needed")
            self.schedule(self.put_back_s, PutBackExpired(job.write.txn_id, job.generation))
            self.schedule(self.probe_s, ProbeCard(job.write.txn_id, job.generation))

    def _on_probe(self, ev: ProbeCard) -> None:
        job = self.jobs.get(ev.txn_id)
        if job is None or not job.waiting or job.generation != ev.generation:
            return
        if self._busy is not None:
            self.schedule(self.probe_s, ev)
            return
        job.probing = True
        self._card_step(job, "read")

    def _on_tap(self, card_uid: str) -> bool:
        txn = self.owed_for(card_uid)
        if txn is None:
            return False
        job = self.jobs[txn]
        if not job.waiting or self._busy is not None:
            return True  # a step is out: its answer decides; the tap is this write's
        self.book.note(txn, "card_back")
        job.generation += 1  # the put-back timer no longer applies
        self._status(txn, "writing")
        self._card_step(job, "read")
        return True

    def _on_put_back_expired(self, ev: PutBackExpired) -> None:
        job = self.jobs.get(ev.txn_id)
        if job is None or not job.waiting or job.generation != ev.generation:
            return
        self._defer(job)

    def _defer(self, job: _Job) -> None:
        """The resident has gone: a slip says the purchase is paid and finishes on the next tap."""
        job.waiting, job.reader_errors = True, 0
        self._busy = None if self._busy == job.write.txn_id else self._busy
        if not job.slip_printed:
            job.slip_printed = True
            self.book.note(job.write.txn_id, "slip_printed")
            if self.print_slip is not None:
                w = job.write
                self._background(lambda: self.print_slip(w))  # type: ignore[misc]
        self._status(job.write.txn_id, "deferred")

    def _status(self, txn_id: str, status: str) -> None:
        self.post(e.CardWriteChanged(txn_id, status))


def _card_gone(exc: Exception) -> bool:
    """CardRemovedError (WriteInterrupted is one) from the PN532 driver, by name: the services
    do not depend on one reader's module (drivers/card_reader/pn532/driver.py)."""
    return any(cls.__name__ == "CardRemovedError" for cls in type(exc).__mro__)


def slip_lines(w: PrepaidWrite) -> d.PrintJob:
    """The re-write slip (zh and en): the purchase is paid and owed to the card."""
    return d.PrintJob(title="预付电费待写卡 / PREPAID: TAP CARD AGAIN", lines=(
        f"交易号 / Txn: {w.txn_id}",
        f"卡号 / Card: ****{w.card_uid[-4:]}",
        f"金额 / Paid: ¥{w.amount_minor // 100}.{w.amount_minor % 100:02d}",
        "已付款，电量尚未写入卡片。",
        "请再次在本机刷同一张卡完成写卡。",
        "Paid. The electricity is not on your card yet:",
        "tap the same card on this terminal again.",
    ))


def for_terminal(db: Any, billing: Any, kiosk_id: str, card: Any, printer: Any,
                 post: Callable[[Any], None]) -> PrepaidWriter:
    """The writer as the terminal wires it: the journal's connection (the deciding thread's),
    the billing gateway's token request, the printer for re-write slips."""
    gateway = billing.gateway

    def fetch(txn_id: str, card_uid: str) -> Any:
        return gateway.prepaid_token(kiosk_id, txn_id, card_uid)

    def slip(w: PrepaidWrite) -> None:
        if printer is None:
            return
        try:
            printer.print_job(slip_lines(w))
        except Exception as exc:  # the journal keeps the write owed; the slip is a courtesy
            log.warning("prepaid %s: re-write slip not printed: %s", w.txn_id, exc)

    return PrepaidWriter(PrepaidBook(db), card, fetch, post, print_slip=slip)
