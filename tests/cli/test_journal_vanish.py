"""A journal that vanishes locks the terminal: committed payments lost with the ``-wal`` file
(the database still opens cleanly) are noticed at the next start against the high-water record
outside the database; ``kiosk simulate`` refuses with one line and takes no cash until staff
clear the fault. A normal restart raises nothing."""

from __future__ import annotations

import json
import subprocess
import sys

from kiosk.staff.audit import AuditLog
from kiosk.staff.audit_keys import AuditKeys, key_path
from kiosk.staff.auth import StaffAuth
from offline_queue.crash import CRASH_EXIT_CODE
from offline_queue.highwater import read_record
from offline_queue.schema import connect
from tests.cli.conftest import ROOT
from tests.billing_server.conftest import TEST_TOKEN
from tests.staff.conftest import CHEAP, MT_PIN


def simulate(run_kiosk, db, state, server, sessions, env=None):
    return run_kiosk("simulate", "--sessions", str(sessions), "--json", "--db", str(db),
                     "--state-dir", str(state), "--api", server.url, "--poll-ms", "20",
                     "--enrol-token", TEST_TOKEN,
                     "--kiosk-id", "KIOSK-HW", env=env)


def faults(run_kiosk, db):
    out = run_kiosk("faults", "list", "--json", "--db", str(db))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def stacked(state) -> dict:
    path = state / "bill-validator.json"
    return json.loads(path.read_text())["counters"]["stacked"] if path.exists() else {}


def test_removed_wal_locks_until_staff_clear(run_kiosk, tmp_path, billing_server):
    db, state = tmp_path / "kiosk.db", tmp_path / "state"
    crashed = simulate(run_kiosk, db, state, billing_server, 2,
                       env={"KIOSK_CRASH_AT": "after_payment_committed"})
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr[-2000:]
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"kiosk.db{suffix}").unlink()
    notes_before = stacked(state)

    locked = simulate(run_kiosk, db, state, billing_server, 1)
    assert locked.returncode != 0 and locked.stdout == ""
    said = [line for line in locked.stderr.splitlines() if line.startswith("kiosk:")]
    assert len(said) == 1 and "Traceback" not in locked.stderr, locked.stderr
    # The payment was only in the log: the checkpoint thread copies the log back at idle
    # only (offline_queue/checkpoint.py). What it had copied before the session began decides
    # whether the file left is new (nothing copied yet) or behind (the set-up copied): either
    # way the lost payment is named and the terminal locks.
    code = "replaced" if "journal/replaced" in said[0] else "behind"
    assert (f"journal/{code}: database {db} is " + ("new" if code == "replaced" else "behind")
            in said[0]), said[0]
    assert "journal-highwater.json expected journal row" in said[0] and "1 payment" in said[0]
    assert stacked(state) == notes_before  # no cash taken
    assert connect(db).execute("SELECT count(*) FROM payments").fetchone()[0] == 0

    listed = faults(run_kiosk, db)
    assert [(f["device"], f["code"]) for f in listed] == [("journal", code)]
    assert "expected journal row" in listed[0]["reason"]
    again = simulate(run_kiosk, db, state, billing_server, 1)  # still locked: nothing cleared
    assert again.returncode == locked.returncode

    # The staff ids were in the lost database too: the shell account adds one again.
    conn = connect(db)
    StaffAuth(conn, AuditLog(conn, keys=AuditKeys(key_path(state))), params=CHEAP).add_user("mt1", "maintenance", MT_PIN, "test")
    cleared = subprocess.run(
        [sys.executable, "-m", "kiosk", "faults", "clear", "journal", code, "--user", "mt1",
         "--db", str(db), "--state-dir", str(state)],
        input=f"{MT_PIN}\n", text=True, capture_output=True, timeout=60, cwd=ROOT)
    assert cleared.returncode == 0, cleared.stderr
    assert faults(run_kiosk, db) == []
    audit = json.loads(run_kiosk("audit", "show", "--json", "--db", str(db)).stdout)
    assert any(e["action"] == "fault_cleared" and e["detail"]["device"] == "journal"
               and e["actor"] == "mt1" for e in audit)

    resumed = simulate(run_kiosk, db, state, billing_server, 1)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads(resumed.stdout)["paid"] == 1


def test_normal_restart_raises_no_fault(run_kiosk, tmp_path, billing_server):
    db, state = tmp_path / "kiosk.db", tmp_path / "state"
    for _ in range(2):
        run = simulate(run_kiosk, db, state, billing_server, 1)
        assert run.returncode == 0, run.stderr[-2000:]
        assert json.loads(run.stdout)["paid"] == 1
    assert faults(run_kiosk, db) == []
    assert read_record(state / "journal-highwater.json").payments == 2
