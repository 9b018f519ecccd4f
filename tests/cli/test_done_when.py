"""The issue's acceptance runs: simulate against a server started by hand, and a run where the
server is down for the first half of the sessions, drained afterwards with ``kiosk sync --once``."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from datetime import date

import requests

from kiosk.demo.billing_server import BillingServer
from tests.cli.conftest import ROOT
from tests.offline_queue.test_sync import free_port


def settlement(url, kiosk_id):
    r = requests.get(f"{url}/v1/kiosks/{kiosk_id}/settlement", params={"date": date.today().isoformat()}, timeout=5)
    assert r.status_code == 200
    return r.json()


def test_simulate_matches_server_settlement(run_kiosk, tmp_path, billing_server):
    proc = run_kiosk("simulate", "--sessions", "12", "--json", "--api", billing_server.url,
                     "--db", str(tmp_path / "k.db"), "--state-dir", str(tmp_path / "dev"),
                     "--poll-ms", "20", "--kiosk-id", "KIOSK-DW1", check=True)
    report = json.loads(proc.stdout)
    assert report["sessions"] == 12 and report["pending"] == 0 and report["paid_minor"] > 0
    s = settlement(billing_server.url, "KIOSK-DW1")
    assert s["total_minor"] == report["paid_minor"]
    assert s["count"] == report["paid"]


def test_server_down_for_first_half_then_sync_once(run_kiosk, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    db = tmp_path / "k.db"
    args = ["simulate", "--sessions", "8", "--json", "--api", url, "--db", str(db),
            "--state-dir", str(tmp_path / "dev"), "--poll-ms", "20", "--kiosk-id", "KIOSK-DW2"]
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
        server = BillingServer("127.0.0.1", port, tmp_path / "server.db").start()
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-2000:]
        report = json.loads(out)
        offline = sqlite3.connect(db).execute("SELECT count(*) FROM payments WHERE offline = 1").fetchone()[0]
        assert offline >= 3  # taken and queued while the server was unreachable
        synced = run_kiosk("sync", "--once", "--db", str(db), "--api", url)
        assert synced.returncode == 0, synced.stdout + synced.stderr
        status = json.loads(run_kiosk("queue", "status", "--json", "--db", str(db), check=True).stdout)
        assert status["pending"] == 0 and status["dead"] == 0
        s = settlement(url, "KIOSK-DW2")
        assert s["total_minor"] == report["paid_minor"]
        assert sorted(s["payment_ids"]) and s["count"] == report["paid"]
    finally:
        if proc.poll() is None:
            proc.kill()
        if server is not None:
            server.stop()
