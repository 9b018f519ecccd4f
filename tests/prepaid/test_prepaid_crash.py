"""A kiosk process killed (``os._exit``, like a power cut) at each step of a prepaid write --
the payment committed, the token received, the slot written, read back, the pointer flipped --
and restarted on the same database, reader state and utility ledger: the restart resolves
from what the card holds, so the card and the journal end with exactly one purchase."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.flow import prepaid_card as pc
from kiosk.services.prepaid_writer import CRASH_POINTS
from offline_queue.crash import CRASH_EXIT_CODE
from tests.prepaid.rig import CARD, Rig

REPO = Path(__file__).resolve().parents[2]


def run_child(tmp: Path, mode: str, crash_at: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "KIOSK_CRASH_AT"}
    env["PYTHONPATH"] = str(REPO)
    if crash_at:
        env["KIOSK_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, "-m", "tests.prepaid.rig", str(tmp), mode], env=env,
                          capture_output=True, text=True, timeout=120, cwd=REPO)


# two processes per point (~4 s): one point in the fast suite, all of them in the slow one
@pytest.mark.parametrize("point", [
    pytest.param(p, marks=() if p == "after_slot_written" else pytest.mark.slow)
    for p in ("after_payment_committed",) + CRASH_POINTS])
def test_crash_at_each_step_then_restart_writes_once(tmp_path, point):
    crashed = run_child(tmp_path, "fresh", point)
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr[-2000:]
    resumed = run_child(tmp_path, "resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed.stdout.split()[-1] == "done"
    rig = Rig(tmp_path)  # read what the processes left: database, card, utility
    try:
        tokens = rig.utility.tokens()
        assert len(tokens) == 1, "one purchase at the utility"
        (txn, _, sequence), = tokens
        writes = rig.book.db.execute("SELECT txn_id, state FROM prepaid_writes").fetchall()
        assert writes == [(txn, "done")], "one purchase in the journal, finished"
        assert rig.book.steps(txn).count("done") == 1
        state = rig.card_state()
        assert state.current is not None and state.current.sequence == sequence == 1
        assert state.current == pc.token_from_answer(rig.book.get(txn).token, txn, CARD,
                                                     rig.book.get(txn).amount_minor)
        assert state.pointer == state.current_slot and state.records[1 - state.current_slot] is None
        assert len(rig.journal.payments()) == 1
    finally:
        rig.close()
