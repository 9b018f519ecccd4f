"""The staff commands as staff run them over SSH (subprocesses): ``kiosk staff``, ``kiosk audit
verify`` on a tampered chain, ``kiosk diag --json`` against simulators on ptys with injected
faults, ``kiosk report daily`` against the reference server, ``kiosk collect``, ``kiosk faults``."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

from pathlib import Path

import pytest

from drivers.bill_validator.id003.simulator import Id003Simulator
from drivers.card_reader.em4100.simulator import Em4100Simulator
from drivers.coin_acceptor.cctalk.simulator import CcTalkSimulator
from drivers.printer.escpos.simulator import EscPosSimulator
from billing_server.seed import DEMO_ACCOUNTS
from kiosk.staff.audit import AuditLog
from kiosk.staff.audit_keys import AuditKeys, key_path
from kiosk.staff.auth import StaffAuth
from kiosk.staff.faults import LockingFaults
from offline_queue.journal import Journal
from offline_queue.schema import connect
from tests.billing_server.conftest import TEST_TOKEN
from tests.cli.conftest import ROOT
from tests.staff.conftest import CHEAP, MT_PIN, OP_PIN

DEAD_API = "http://127.0.0.1:9"  # discard port: nothing listens


def run(*args: str, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], input=stdin, text=True,
                          capture_output=True, timeout=timeout, cwd=ROOT)


def write_config(path, db, api=DEAD_API, devices: dict[str, tuple[str, str]] | None = None):
    state = Path(db).parent / "state"  # the kiosk key lives here, not in the repository
    text = f'[kiosk]\nid = "KIOSK-C1"\ndb = "{db}"\nstate_dir = "{state}"\n[billing]\n' \
           f'url = "{api}"\nenrol_token = "{TEST_TOKEN}"\n' \
           'connect_timeout_s = 1.0\nread_timeout_s = 2.0\n'
    for name, (url, protocol) in (devices or {}).items():
        text += f'[devices.{name}]\nurl = "{url}"\nprotocol = "{protocol}"\npoll_interval_ms = 50\n'
    path.write_text(text)
    return str(path)


def state_audit(db_path, db=None) -> AuditLog:
    """The audit log as the CLI sees it: the key in the state folder write_config names."""
    return AuditLog(db or connect(db_path), keys=AuditKeys(key_path(Path(db_path).parent / "state")))


@pytest.fixture
def setup(tmp_path):
    """A database with two staff ids (cheap test hashes; the CLI reads the cost from each hash)."""
    db_path = tmp_path / "k.db"
    db = connect(db_path)
    auth = StaffAuth(db, state_audit(db_path, db), params=CHEAP)
    auth.add_user("op1", "operator", OP_PIN, "test")
    auth.add_user("mt1", "maintenance", MT_PIN, "test")
    return db_path, db, write_config(tmp_path / "k.toml", db_path)


# ---------------------------------------------------------------- kiosk staff
def test_staff_add_list_passwd_remove(tmp_path):
    cfg = write_config(tmp_path / "k.toml", tmp_path / "k.db")
    assert run("staff", "add", "op9", "--role", "operator", "--config", cfg, stdin="482619\n").returncode == 0
    listed = json.loads(run("staff", "list", "--json", "--config", cfg).stdout)
    assert [(u["user_id"], u["role"]) for u in listed] == [("op9", "operator")]
    stored = sqlite3.connect(tmp_path / "k.db").execute("SELECT pin_hash FROM staff_users").fetchone()[0]
    assert stored.startswith(f"scrypt${2**17}$8$1$") and "482619" not in stored  # production cost
    weak = run("staff", "passwd", "op9", "--config", cfg, stdin="111111\n")
    assert weak.returncode == 1 and "pin_rejected" in weak.stderr
    dup = run("staff", "add", "op9", "--role", "maintenance", "--config", cfg, stdin="482619\n")
    assert dup.returncode == 2 and "already exists" in dup.stderr
    bad_role = run("staff", "add", "x", "--role", "boss", "--config", cfg, stdin="482619\n")
    assert bad_role.returncode == 2
    assert run("staff", "remove", "op9", "--config", cfg).returncode == 0
    assert json.loads(run("staff", "list", "--json", "--config", cfg).stdout) == []
    gone = run("staff", "remove", "op9", "--config", cfg)
    assert gone.returncode == 1 and len(gone.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- kiosk audit verify
def _tamper(db_path, sql: str) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TRIGGER IF EXISTS audit_append_only_u")
    conn.execute("DROP TRIGGER IF EXISTS audit_append_only_d")
    conn.executescript(sql)
    conn.commit()
    conn.close()


@pytest.mark.parametrize("how, sql, bad", [
    ("edit", "UPDATE audit_log SET actor = 'nobody' WHERE seq = 3", 3),
    ("delete", "DELETE FROM audit_log WHERE seq = 4", 5),
    ("reorder", "UPDATE audit_log SET seq = 100 WHERE seq = 2; UPDATE audit_log SET seq = 2"
                " WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = 100", 2),
])
def test_audit_verify_names_the_first_bad_entry(setup, how, sql, bad):
    db_path, db, cfg = setup
    log = state_audit(db_path, db)
    for i in range(4):
        log.append("op1", "operator", "reprint", txn_id=f"T{i}")
    ok = run("audit", "verify", "--config", cfg)
    assert ok.returncode == 0 and "intact: 6 entries" in ok.stdout
    _tamper(db_path, sql)
    broken = run("audit", "verify", "--config", cfg)
    assert broken.returncode != 0, how
    assert f"entry #{bad}" in broken.stdout
    as_json = json.loads(run("audit", "verify", "--json", "--config", cfg).stdout)
    assert as_json["ok"] is False and as_json["first_bad"] == bad


# ---------------------------------------------------------------- kiosk diag
@pytest.fixture
def sims(tmp_path):
    made = {
        "bill_validator": Id003Simulator(tmp_path / "bv.json"),
        "coin_acceptor": CcTalkSimulator(tmp_path / "ca.json"),
        "card_reader": Em4100Simulator(tmp_path / "cr.json"),
        "printer": EscPosSimulator(tmp_path / "pr.json"),
    }
    protocols = {"bill_validator": "id003", "coin_acceptor": "cctalk", "card_reader": "em4100",
                 "printer": "escpos"}
    urls = {name: (sim.start_on_pty(), protocols[name]) for name, sim in made.items()}
    yield made, urls
    for sim in made.values():
        sim.stop()


def diag(cfg: str, *extra: str, stdin: str = "") -> dict:
    proc = run("diag", "--json", "--config", cfg, "--wait", "3", "--test-timeout", "1", *extra,
               stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    return {e["name"]: e for e in report["entries"]} | {"_report": report}


def test_diag_json_reports_each_injected_fault(tmp_path, sims, billing_server):
    made, urls = sims
    db = tmp_path / "k.db"
    good = write_config(tmp_path / "good.toml", db, billing_server.url, urls)
    made["card_reader"].command("present 0102030405")  # a technician holds a test card

    healthy = diag(good, "--self-test", "card")
    for name in ("bill_validator", "coin_acceptor", "card_reader", "printer", "billing_api",
                 "queue", "database", "locks"):
        assert healthy[name]["status"] == "ok", healthy[name]
        assert {"name", "status", "reason"} <= set(healthy[name])
    assert healthy["billing_api"]["latency_ms"] is not None
    assert healthy["billing_api"]["clock_skew_s"] is not None
    assert {"depth", "oldest_pending_age_s", "dead_letters"} <= set(healthy["queue"])
    assert healthy["card_reader"]["self_test"]["ok"] is True

    # Paper out, validator jam, card reader unplugged, API down.
    made["printer"].command("paper out")
    made["bill_validator"].command("jam")
    made["card_reader"].command("unplug")
    down = write_config(tmp_path / "down.toml", db, DEAD_API, urls)
    r = diag(down, "--self-test", "card")
    assert (r["printer"]["status"], r["printer"]["reason"]) == ("fault", "paper out")
    assert r["bill_validator"]["status"] == "fault" and "jam" in r["bill_validator"]["reason"]
    assert r["card_reader"]["status"] == "fault" and "no card read" in r["card_reader"]["reason"]
    assert r["billing_api"]["status"] == "fault" and "unreachable" in r["billing_api"]["reason"]
    assert r["coin_acceptor"]["status"] == "ok" and r["_report"]["status"] == "fault"

    # Cover open, cash box removed; the reader's cable pulled out (its port is gone).
    made["printer"].command("paper ok")
    made["printer"].command("cover open")
    made["bill_validator"].command("clear")
    made["bill_validator"].command("cashbox-remove")
    made["card_reader"].stop()
    r = diag(good)
    assert (r["printer"]["status"], r["printer"]["reason"]) == ("fault", "cover open")
    assert r["bill_validator"]["status"] == "fault"
    assert "cash box removed" in r["bill_validator"]["reason"]
    assert r["card_reader"]["status"] == "fault" and r["card_reader"]["reason"]
    assert r["billing_api"]["status"] == "ok"


def test_diag_self_tests_need_a_maintenance_login(tmp_path, sims, setup):
    made, urls = sims
    db_path, db, _ = setup
    cfg = write_config(tmp_path / "d.toml", db_path, DEAD_API, urls)
    refused = run("diag", "--config", cfg, "--self-test", "printer", "--user", "op1",
                  "--wait", "2", stdin=f"{OP_PIN}\n")
    assert refused.returncode == 1 and "permission_denied" in refused.stderr
    r = diag(cfg, "--self-test", "printer", "--user", "mt1", stdin=f"{MT_PIN}\n")
    assert r["printer"]["self_test"]["ok"] is True
    page = made["printer"].wait_receipt(1, 5)
    assert any("Test page" in line for line in page["lines"])
    actions = [row[0] for row in sqlite3.connect(db_path).execute(
        "SELECT action FROM audit_log ORDER BY seq")]
    assert actions[-2:] == ["self_test", "diagnostics"]


# ---------------------------------------------------------------- kiosk report daily
def test_report_daily_json_matches_server_and_is_numbered(setup, billing_server, tmp_path):
    db_path, db, _ = setup
    cfg = write_config(tmp_path / "r.toml", db_path, billing_server.url)
    journal = Journal(db, "KIOSK-C1")
    rec = journal.commit_payment("S1", DEMO_ACCOUNTS[0].account_no, {10000: 1}, {50: 1}, 10050,
                                 offline=True)
    day = rec.created_at[:10]
    # delivered by the kiosk itself (its own key, enrolled with its token), as in the field
    assert run("sync", "--once", "--config", cfg).returncode == 0
    proc = run("report", "daily", "--date", day, "--format", "json", "--user", "op1",
               "--config", cfg, stdin=f"{OP_PIN}\n")
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert {"date", "count", "total_minor", "by_tender", "by_denomination", "server_total_minor",
            "mismatches", "seq"} <= set(r)
    assert (r["date"], r["count"], r["total_minor"], r["server_total_minor"]) == (day, 1, 10050, 10050)
    assert r["mismatches"] == [] and r["seq"] == 1
    assert r["by_tender"] == {"note": 10000, "coin": 50, "code": 0}
    again = run("report", "daily", "--date", day, "--format", "csv", "--user", "op1",
                "--config", cfg, stdin=f"{OP_PIN}\n")
    assert again.stdout.splitlines()[0] == "section,key,count,amount_minor,detail"
    assert "report,seq,2," in again.stdout
    text = run("report", "daily", "--date", day, "--user", "op1", "--preview", "--config", cfg,
               stdin=f"{OP_PIN}\n")
    assert "preview" in text.stdout and "Mismatches: none" in text.stdout


def test_report_daily_refusals(setup):
    _, _, cfg = setup
    mt = run("report", "daily", "--user", "mt1", "--config", cfg, stdin=f"{MT_PIN}\n")
    assert mt.returncode == 1 and "permission_denied" in mt.stderr and mt.stdout == ""
    wrong = run("report", "daily", "--user", "op1", "--config", cfg, stdin="9999\n")
    assert wrong.returncode == 1 and "bad_pin" in wrong.stderr
    bad = run("report", "daily", "--date", "2026-02-30", "--user", "op1", "--config", cfg,
              stdin=f"{OP_PIN}\n")
    assert bad.returncode == 2 and "--date" in bad.stderr
    nouser = run("report", "daily", "--config", cfg)
    assert nouser.returncode == 2 and "--user" in nouser.stderr


# ---------------------------------------------------------------- kiosk collect / faults
def test_collect_close_status_count_blind(setup):
    db_path, db, cfg = setup
    journal = Journal(db, "KIOSK-C1")
    journal.session_start("S1", DEMO_ACCOUNTS[0].account_no, 15000)
    journal.credit("S1", 1, "note", 10000)
    journal.credit("S1", 2, "note", 5000)
    closed = run("collect", "close", "--user", "op1", "--config", cfg, stdin=f"{OP_PIN}\n")
    assert closed.returncode == 0, closed.stderr
    status = run("collect", "status", "--json", "--user", "op1", "--config", cfg, stdin=f"{OP_PIN}\n")
    batches = json.loads(status.stdout)
    batch = next(b for b in batches if b["state"] == "CLOSED")
    assert "expected" not in status.stdout and "15000" not in status.stdout  # blind
    bad = run("collect", "count", batch["batch_id"], "--note", "100x3", "--user", "op1",
              "--config", cfg, stdin=f"{OP_PIN}\n")
    assert bad.returncode == 2
    counted = run("collect", "count", batch["batch_id"], "--note", "10000=1", "--json",
                  "--user", "op1", "--config", cfg, stdin=f"{OP_PIN}\n")
    assert counted.returncode == 0, counted.stderr
    out = json.loads(counted.stdout)
    assert out["expected"] == {"5000": 1, "10000": 1} and out["variance_minor"] == -5000
    assert out["printed"] is False  # no printer configured: the figures stand, reprint later
    queued = db.execute("SELECT count(*) FROM outbox WHERE kind = 'collection'").fetchone()[0]
    assert queued == 1
    mt = run("collect", "status", "--user", "mt1", "--config", cfg, stdin=f"{MT_PIN}\n")
    assert mt.returncode == 1 and "permission_denied" in mt.stderr


def test_faults_list_and_clear(setup):
    db_path, db, cfg = setup
    LockingFaults(db, db_path, state_audit(db_path, db)).raised("bill_validator", "acceptor_jam", "jammed")
    listed = json.loads(run("faults", "list", "--json", "--config", cfg).stdout)
    assert [(f["device"], f["code"]) for f in listed] == [("bill_validator", "acceptor_jam")]
    op = run("faults", "clear", "bill_validator", "acceptor_jam", "--user", "op1", "--config", cfg,
             stdin=f"{OP_PIN}\n")
    assert op.returncode == 1 and "permission_denied" in op.stderr
    mt = run("faults", "clear", "bill_validator", "acceptor_jam", "--user", "mt1", "--config", cfg,
             stdin=f"{MT_PIN}\n")
    assert mt.returncode == 0, mt.stderr
    assert json.loads(run("faults", "list", "--json", "--config", cfg).stdout) == []
    assert run("audit", "verify", "--config", cfg).returncode == 0
