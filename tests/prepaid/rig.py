"""A prepaid card write end to end on one deciding thread (this test's): the kiosk database
with a committed prepaid payment, the PN532 driver against its byte-exact simulator on a pty,
the reference server's ledger issuing the token, and the PrepaidWriter between them. Timers
are injected: the test fires "put your card back" expiry itself (no sleeping)."""

from __future__ import annotations

import json
import queue
import sys
from pathlib import Path
from typing import Any, Callable

from billing_server import prepaid as server_prepaid
from billing_server.ledger import Ledger
from billing_server.seed import DEMO_ACCOUNTS, DEMO_CARDS, DEMO_NOTICES, DEMO_PREPAID_CARDS
from drivers.card_reader.pn532.driver import Pn532Driver
from drivers.card_reader.pn532.link import LINE_SETTINGS
from drivers.card_reader.pn532.simulator import Pn532Simulator
from drivers.transport import open_port
from kiosk.flow import events as e
from kiosk.flow import prepaid_card as pc
from kiosk.services.prepaid_writer import PrepaidWriter
from offline_queue.journal import Journal
from offline_queue.prepaid import PrepaidBook
from offline_queue.schema import connect
from tests.billing_server.conftest import make_payment

CARD, ACCT = next(iter(DEMO_PREPAID_CARDS.items()))
KIOSK = "KIOSK-001"
SESSION = "S-PREPAID-1"
AMOUNT = 5_300  # 100.00 kWh at the demo tariff


class Utility:
    """The reference server's ledger in-process: the payment 'delivered', the token issued."""

    def __init__(self, path: Path) -> None:
        self.ledger = Ledger(path)
        self.ledger.seed(DEMO_ACCOUNTS, dict(DEMO_CARDS), DEMO_NOTICES)
        self.asked = 0

    def deliver(self, txn_id: str, amount_minor: int) -> None:
        body = make_payment(kiosk_id=KIOSK, txn_id=txn_id, account_no=ACCT,
                            amount_minor=amount_minor, notes={"100": amount_minor // 100}, coins={})
        self.ledger.record_payment(body, txn_id)

    def token(self, txn_id: str, card_uid: str) -> dict[str, Any]:
        self.asked += 1
        out = server_prepaid.issue(self.ledger, {"kiosk_id": KIOSK, "txn_id": txn_id,
                                                 "card_uid": card_uid})
        return json.loads(out.body)

    def tokens(self) -> list[tuple]:
        with self.ledger._lock:
            return self.ledger._conn.execute(
                "SELECT txn_id, card_uid, sequence FROM prepaid_tokens ORDER BY purchase_no").fetchall()


class Rig:
    def __init__(self, tmp_path: Path, *, present: bool = True,
                 before_step: Callable[[int], None] | None = None) -> None:
        self.tmp = tmp_path
        self.sim = Pn532Simulator(state_path=tmp_path / "pn532.json")
        if present and self.sim.present_uid is None:
            self.sim.present(CARD)
        self.port = open_port(self.sim.start_on_pty(), LINE_SETTINGS)
        self.q: queue.Queue[Any] = queue.Queue()
        self.driver = Pn532Driver("card", self.port, poll_interval=0.02, ack_timeout=0.5,
                                  answer_timeout=1.0, retry_interval=0.05)
        self.db = connect(tmp_path / "kiosk.db")
        self.journal = Journal(self.db, KIOSK)
        self.book = PrepaidBook(self.db)
        self.utility = Utility(tmp_path / "ledger.db")
        self.statuses: list[str] = []
        self.scheduled: list[tuple[float, Any]] = []
        self.retries: list[Any] = []
        self.steps_run = 0
        self.before_step = before_step
        self.writes_done = 0
        self.before_write: Callable[[int], None] | None = None
        self.writer = PrepaidWriter(self.book, self, self.utility.token, self.q.put,
                                    schedule=self._schedule,
                                    background=self._background, print_slip=self._slip)
        self.slips: list[str] = []
        self.driver.start(self.q.put)

    def _schedule(self, seconds: float, ev: Any) -> None:
        """Probes and token retries run on real (short) timers; "put your card back" expires
        only when the test says so (fire_timers)."""
        import threading

        from kiosk.services.prepaid_writer import PutBackExpired

        if isinstance(ev, PutBackExpired):
            self.scheduled.append((seconds, ev))
        else:
            self.retries.append(ev)
            t = threading.Timer(0.05, self.q.put, args=(ev,))
            t.daemon = True
            t.start()

    def _background(self, fn: Callable[[], None]) -> None:
        import threading

        n = self.steps_run
        self.steps_run += 1

        def run() -> None:
            if self.before_step is not None:
                self.before_step(n)
            fn()
        threading.Thread(target=run, daemon=True).start()

    # the card reader the writer sees: the driver, with a hook before each block write (on the
    # worker thread, so a tear is armed exactly for the write it is meant for)
    def read_block(self, uid: str, block: int) -> bytes:
        return self.driver.read_block(uid, block)

    def write_block(self, uid: str, block: int, data: bytes) -> None:
        n = self.writes_done
        self.writes_done += 1
        if self.before_write is not None:
            self.before_write(n)
        self.driver.write_block(uid, block, data)

    def _slip(self, w) -> None:
        self.slips.append(w.txn_id)

    def pay(self, session_id: str = SESSION, amount_minor: int = AMOUNT) -> str:
        rec = self.journal.commit_payment(session_id, ACCT, {100: amount_minor // 100}, {},
                                          amount_minor, False, prepaid_card=CARD)
        self.utility.deliver(rec.txn_id, amount_minor)
        return rec.txn_id

    def pump(self, until: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
        """Be the deciding thread: take events until ``until()`` holds."""
        import time

        deadline = time.monotonic() + timeout
        while not until():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; statuses {self.statuses}")
            try:
                ev = self.q.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if isinstance(ev, e.CardWriteChanged):
                self.statuses.append(ev.status)
            self.writer.offer(ev)

    def status_is(self, *wanted: str) -> Callable[[], bool]:
        return lambda: bool(self.statuses) and self.statuses[-1] in wanted

    def fire_timers(self) -> None:
        due, self.scheduled = self.scheduled, []
        for _, ev in due:
            self.q.put(ev)

    def card_state(self) -> pc.CardState:
        card = self.sim.cards[CARD]
        return pc.read_state({b: card.blocks[b] for b in pc.blocks_to_read()})

    def close(self) -> None:
        self.driver.stop()
        self.port.close()
        self.sim.stop()
        self.utility.ledger.close()
        self.db.conn.close()


def child(tmp: str, resume: bool) -> int:
    """One kiosk process of the crash test: pay and write, or (``resume``) restart and finish."""
    rig = Rig(Path(tmp))
    try:
        if resume:
            for w in rig.book.pending():  # the sync worker's part: the payment reaches the utility
                rig.utility.deliver(w.txn_id, w.amount_minor)
            rig.writer.resume_pending()
        else:
            rig.writer.start(rig.pay())
        rig.pump(rig.status_is("done", "stuck"), what="the write to finish")
        print(rig.statuses[-1])
        return 0
    finally:
        rig.close()


if __name__ == "__main__":
    sys.exit(child(sys.argv[1], sys.argv[2] == "resume"))
