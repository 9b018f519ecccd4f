"""Crash at each named point, restart, and show no payment lost and none posted twice.

The device simulators keep their state in files, as a real device's NVRAM outlives the host.
"""

from __future__ import annotations

import json

import pytest

from offline_queue.crash import CRASH_EXIT_CODE, POINTS
from tests.billing_server.conftest import TEST_TOKEN


def simulate(run_kiosk, tmp_path, server, sessions, env=None, seed=1):
    return run_kiosk(
        "simulate", "--sessions", str(sessions), "--json", "--db", str(tmp_path / "kiosk.db"),
        "--state-dir", str(tmp_path / "devices"), "--api", server.url, "--poll-ms", "20",
        "--enrol-token", TEST_TOKEN,
        "--kiosk-id", "KIOSK-CRASH", "--seed", str(seed), env=env,
    )


@pytest.mark.parametrize("point", sorted(POINTS))
def test_crash_then_restart_loses_nothing(point, run_kiosk, tmp_path, billing_server, books_for):
    crashed = simulate(run_kiosk, tmp_path, billing_server, 3, env={"KIOSK_CRASH_AT": point})
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr[-2000:]
    recovered = simulate(run_kiosk, tmp_path, billing_server, 1, seed=2)
    assert recovered.returncode == 0, recovered.stderr[-2000:]
    report = json.loads(recovered.stdout)
    assert report["pending"] == 0
    books = books_for(tmp_path / "kiosk.db", tmp_path / "devices", billing_server)
    books.assert_consistent()
    assert books.journal_payments(), "the run made no payment at all"
