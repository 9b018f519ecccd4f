"""The runner's part (kiosk/services/runner.py): a prepaid payment commits first and owes its
card write in the same transaction, then the writer's steps come back through ``handle`` on
the one deciding thread, and the receipt screen follows the write until it is done."""

from __future__ import annotations

from dataclasses import replace

from kiosk.config import Config
from kiosk.flow import events as e
from kiosk.flow.session import Phase
from kiosk.services.runner import Devices, SessionRunner
from offline_queue.outbox import Outbox
from tests.prepaid.rig import ACCT, CARD, Rig


class Timers:
    def __init__(self) -> None:
        self.started: list[str] = []

    def start(self, name: str, seconds: int) -> None:
        self.started.append(name)

    def cancel(self, name: str) -> None:
        pass


def test_a_prepaid_payment_is_committed_then_written_through_the_runner(tmp_path):
    rig = Rig(tmp_path)
    try:
        runner = SessionRunner(Config(), rig.journal, Outbox(rig.db), None, Devices(),
                               rig.q.put, Timers())
        runner.prepaid = rig.writer
        account = e.AccountInfo(ACCT, "吴*军", "", 0, 0, prepaid=True)
        runner.session = replace(runner.session, phase=Phase.INSERTING, session_id="S-RUN",
                                 account=account, card_uid=CARD, target_minor=1000,
                                 printer_can_print=False, on_screen_receipt=True)
        runner.handle(e.NoteEscrowed(1000))
        runner.handle(e.NoteCredited(1000))
        runner.handle(e.FinishPressed())
        assert runner.session.phase == Phase.RECEIPT
        owed = rig.book.pending()
        assert [(w.txn_id, w.state) for w in owed] == [("S-RUN", "paid")]
        rig.utility.deliver("S-RUN", 1000)  # the sync worker's part
        seen: list[str] = []

        def step() -> None:
            ev = rig.q.get(timeout=10)
            runner.handle(ev)
            if runner.session.card_write and (not seen or seen[-1] != runner.session.card_write):
                seen.append(runner.session.card_write)

        while runner.session.card_write != "done":
            step()
        assert seen[0] == "writing" and seen[-1] == "done"
        assert rig.book.get("S-RUN").state == "done"
        assert rig.card_state().current.units == 1000 * 100 // 53
        runner.handle(e.TimerExpired("screen"))
        assert runner.session.phase == Phase.RATING
    finally:
        rig.close()
