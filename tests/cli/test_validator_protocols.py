"""``kiosk simulate --validator ccnet|essp``: the scripted residents pay through that protocol's
simulator, and every book agrees as it does for ID-003 (device counters == journal credits ==
payments == the server's ledger)."""

from __future__ import annotations

import json

import pytest

from drivers.simhub import state_name
from tests.billing_server.conftest import TEST_TOKEN


@pytest.mark.parametrize("protocol", ["ccnet", "essp"])
def test_simulate_balances_through_the_protocol(protocol, run_kiosk, tmp_path, billing_server,
                                                books_for):
    db, devices = tmp_path / "k.db", tmp_path / "dev"
    proc = run_kiosk("simulate", "--sessions", "30", "--json", "--validator", protocol,
                     "--api", billing_server.url, "--db", str(db), "--state-dir", str(devices),
                     "--poll-ms", "20", "--kiosk-id", "KIOSK-BV" + protocol.upper(),
                     "--enrol-token", TEST_TOKEN, timeout=240, check=True)
    report = json.loads(proc.stdout)
    assert report["sessions"] == 30 and report["failed"] == 0 and report["pending"] == 0
    assert report["paid"] > 0 and report["paid_minor"] > 0
    state = state_name(protocol)
    assert state == f"bill-validator-{protocol}.json"
    counters = json.loads((devices / state).read_text())["counters"]
    assert counters["total_notes"] > 0  # the notes went through this protocol's simulator
    assert not (devices / "bill-validator.json").exists()  # and not through ID-003's
    books = books_for(db, devices, billing_server, validator_state=state)
    assert books.device_stacked_minor() == report["paid_minor"]
    books.assert_consistent()


def test_simulate_refuses_an_unknown_validator(run_kiosk, tmp_path):
    proc = run_kiosk("simulate", "--sessions", "1", "--validator", "mdb",
                     "--db", str(tmp_path / "k.db"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--validator" in lines[0] and "mdb" in lines[0]
