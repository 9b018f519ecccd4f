"""Kill -9 a running ``kiosk simulate`` at random moments, 60 times on ID-003 and 12 times on
each other bill validator protocol (``--validator``), then restart once and check every book
agrees: device counters, journal, outbox and the server's ledger.  ``make test-soak`` runs the
full 200 on ID-003 (``KIOSK_KILL9_COUNT``): too long for every ``make test`` on a small machine.

Each kill waits for progress first: the run must have completed a payment of its own (a
non-recovered row in the journal's ``payments``) before it is killed, at a random point in the
sessions after that.  Start-up time then never decides whether a run did anything, however busy
the machine is."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from drivers.simhub import state_name
from tests.cli.conftest import ROOT
from tests.conftest import wait_until
from tests.billing_server.conftest import TEST_TOKEN

KILLS = int(os.environ.get("KIOSK_KILL9_COUNT", "60"))
#: the other validator protocols share the machinery; 12 kills keep each run near a minute
PROTOCOL_KILLS = min(KILLS, 12)
#: bounds a hang only: a run on a loaded machine may need many seconds for its first payment
PROGRESS_TIMEOUT = 180.0
#: a kill lands this long (at most) after the run's first payment: one to three sessions, so
#: kills fall anywhere in a session (inserting notes, committing, printing, delivering)
KILL_SPREAD_S = 1.0


def fresh_payments(db_path: Path) -> int:
    """Payments sessions have completed (rows written by start-up recovery not counted).

    Read-only, so this connection never checkpoints the WAL a killed run left behind: the next
    run must find the database exactly as the kill left it."""
    if not db_path.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)) as db:
            return db.execute("SELECT count(*) FROM payments WHERE recovered = 0").fetchone()[0]
    except sqlite3.OperationalError:  # the first run has not created the schema yet
        return 0


@pytest.mark.slow
@pytest.mark.parametrize(("protocol", "kills"), [("id003", KILLS), ("ccnet", PROTOCOL_KILLS),
                                                 ("essp", PROTOCOL_KILLS)])
def test_random_kill9_never_loses_or_doubles_money(protocol, kills, tmp_path, billing_server,
                                                   books_for, run_kiosk):
    rng = random.Random(20261121)
    db = tmp_path / "kiosk.db"
    args = ["simulate", "--sessions", "1000", "--json", "--db", str(db),
            "--state-dir", str(tmp_path / "devices"), "--api", billing_server.url,
            "--enrol-token", TEST_TOKEN, "--poll-ms", "10", "--kiosk-id", "KIOSK-KILL9",
            "--validator", protocol]
    env = {k: v for k, v in os.environ.items() if k != "KIOSK_CRASH_AT"}
    stderr_path = tmp_path / "last-run.stderr"
    for i in range(kills):
        before = fresh_payments(db)
        with open(stderr_path, "wb") as stderr:
            proc = subprocess.Popen([sys.executable, "-m", "kiosk", *args, "--seed", str(i)],
                                    cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            wait_until(lambda: fresh_payments(db) > before or proc.poll() is not None,
                       timeout=PROGRESS_TIMEOUT, what=f"run {i}: a payment of its own")
            assert proc.poll() is None, (
                f"run {i} exited ({proc.returncode}) before it was killed:\n"
                + stderr_path.read_text(errors="replace")[-2000:])
            # Randomness, not ordering: the payment above is what the kill waits for.
            time.sleep(rng.uniform(0, KILL_SPREAD_S))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        every = min(50, kills)
        if i % every == every // 2:
            billing_server.set_fault("drop", count=2)  # some kills land with answers lost, too
    billing_server.set_fault("none")
    final = run_kiosk(*args[:2], "0", *args[3:], timeout=300)
    assert final.returncode == 0, final.stderr[-2000:]
    books = books_for(db, tmp_path / "devices", billing_server,
                      validator_state=state_name(protocol))
    assert len(books.journal_payments()) >= kills, "a run was killed before its payment"
    books.assert_consistent()
