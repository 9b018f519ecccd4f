"""The issue's acceptance runs: simulate against a server started by hand, and a run where the
server is down for the first half of the sessions, drained afterwards with ``kiosk sync --once``."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from datetime import date


from billing_server.server import BillingServer
from tests.cli.conftest import ROOT, kiosk
from tests.offline_queue.test_sync import free_port
from tests.billing_server.conftest import TEST_TOKEN


def settlement(ledger, kiosk_id):
    """The utility's side of the books, read from the ledger file (no kiosk key needed)."""
    proc = kiosk("billing-server", "settlement", "--db", str(ledger), "--kiosk-id", kiosk_id,
                 "--date", date.today().isoformat(), check=True)
    return json.loads(proc.stdout)


def test_simulate_matches_server_settlement(run_kiosk, tmp_path, billing_server):
    proc = run_kiosk("simulate", "--sessions", "12", "--json", "--api", billing_server.url,
                     "--db", str(tmp_path / "k.db"), "--state-dir", str(tmp_path / "dev"),
                     "--poll-ms", "20", "--kiosk-id", "KIOSK-DW1",
                     "--enrol-token", TEST_TOKEN, check=True)
    report = json.loads(proc.stdout)
    assert report["sessions"] == 12 and report["pending"] == 0 and report["paid_minor"] > 0
    s = settlement(billing_server.db_path, "KIOSK-DW1")
    assert s["total_minor"] == report["paid_minor"]
    assert s["count"] == report["paid"]


def test_server_down_for_first_half_then_sync_once(run_kiosk, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    db = tmp_path / "k.db"
    args = ["simulate", "--sessions", "8", "--json", "--api", url, "--db", str(db),
            "--state-dir", str(tmp_path / "dev"), "--poll-ms", "20", "--kiosk-id", "KIOSK-DW2",
            "--enrol-token", TEST_TOKEN]
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server = None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            paid = 0
            if db.exists():
                try:
                    paid = sqlite3.connect(db).execute("SELECT count(*) FROM payments").fetchone()[0]
                except sqlite3.Error:
                    pass
            if paid >= 3:
                break
            time.sleep(0.1)
        assert paid >= 3, "no payments taken while the server was down"
        server = BillingServer("127.0.0.1", port, tmp_path / "server.db",
                               enrol_token=TEST_TOKEN).start()
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-2000:]
        report = json.loads(out)
        offline = sqlite3.connect(db).execute("SELECT count(*) FROM payments WHERE offline = 1").fetchone()[0]
        assert offline >= 3  # taken and queued while the server was unreachable
        synced = run_kiosk("sync", "--once", "--db", str(db), "--api", url, "--enrol-token",
                           TEST_TOKEN, "--state-dir", str(tmp_path / "dev"))
        assert synced.returncode == 0, synced.stdout + synced.stderr
        status = json.loads(run_kiosk("queue", "status", "--json", "--db", str(db), check=True).stdout)
        assert status["pending"] == 0 and status["dead"] == 0
        s = settlement(tmp_path / "server.db", "KIOSK-DW2")
        assert s["total_minor"] == report["paid_minor"]
        assert sorted(s["payment_ids"]) and s["count"] == report["paid"]
    finally:
        if proc.poll() is None:
            proc.kill()
        if server is not None:
            server.stop()
