"""Kill -9 a running ``kiosk simulate`` at random moments, ≥ 200 times, then restart once and
check every book agrees: device counters, journal, outbox and the server's ledger."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from tests.cli.conftest import ROOT

KILLS = int(os.environ.get("KIOSK_KILL9_COUNT", "200"))


@pytest.mark.slow
def test_random_kill9_never_loses_or_doubles_money(tmp_path, billing_server, books_for, run_kiosk):
    rng = random.Random(20261121)
    args = ["simulate", "--sessions", "1000", "--json", "--db", str(tmp_path / "kiosk.db"),
            "--state-dir", str(tmp_path / "devices"), "--api", billing_server.url,
            "--poll-ms", "10", "--kiosk-id", "KIOSK-KILL9"]
    env = {k: v for k, v in os.environ.items() if k != "KIOSK_CRASH_AT"}
    for i in range(KILLS):
        proc = subprocess.Popen([sys.executable, "-m", "kiosk", *args, "--seed", str(i)],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 1.6))  # start-up takes ~0.3 s: most kills land mid-session
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if i % 50 == 25:
            billing_server.set_fault("drop", count=2)  # some kills land with answers lost, too
    billing_server.set_fault("none")
    final = run_kiosk(*args[:2], "0", *args[3:], timeout=120)
    assert final.returncode == 0, final.stderr[-2000:]
    books = books_for(tmp_path / "kiosk.db", tmp_path / "devices", billing_server)
    assert len(books.journal_payments()) > 20, "too few payments to have tested anything"
    books.assert_consistent()
