"""TLS end to end as staff run it: ``kiosk billing-server --tls-cert … --tls-key …`` in its own
process, ``kiosk sync --once`` with ``billing.ca_file``, ``kiosk queue status --json`` and
``kiosk diag`` saying why a server that cannot prove itself was refused."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from billing_server.seed import DEMO_ACCOUNTS
from offline_queue.journal import Journal
from offline_queue.schema import connect
from tests.cli.conftest import ROOT, kiosk
from tests.billing_server.conftest import TEST_TOKEN
from tests.tls_pki import make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def https_server(pki, tmp_path):
    """The reference server as a process over TLS; yields its https:// URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "billing-server", "--port", "0",
         "--db", str(tmp_path / "ledger.db"), "--tls-cert", pki.certs["good"],
         "--tls-key", pki.certs["good"], "--enrol-token", TEST_TOKEN],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        url = None
        for line in proc.stdout:  # other lines (e.g. an enrolment token) may come first
            if "listening on" in line:
                url = line.split(" on ")[1].split()[0]
                break
        assert url and url.startswith("https://127.0.0.1:"), proc.stderr.read()
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


def kiosk_with_queue(tmp_path, name: str, url: str, n: int = 2, **billing: str) -> str:
    """A kiosk database holding ``n`` queued payments and a config for it; the config's path."""
    db = tmp_path / f"{name}.db"
    journal = Journal(connect(db), "KIOSK-C1")
    for i in range(n):
        account = DEMO_ACCOUNTS[i % len(DEMO_ACCOUNTS)].account_no
        journal.session_start(f"{name}-S{i}", account, 1000)
        journal.commit_payment(f"{name}-S{i}", account, {1000: 1}, {}, 1000, offline=True)
    journal.db.conn.close()
    extra = "".join(f'{key} = "{value}"\n' for key, value in billing.items())
    cfg = tmp_path / f"{name}.toml"
    cfg.write_text(f'[kiosk]\nid = "KIOSK-C1"\ndb = "{db}"\nstate_dir = "{tmp_path / name}"\n'
                   f'[billing]\nurl = "{url}"\nenrol_token = "{TEST_TOKEN}"\n'
                   f'connect_timeout_s = 2.0\nread_timeout_s = 5.0\n{extra}')
    return str(cfg)


def pending(cfg: str) -> int:
    return json.loads(kiosk("queue", "status", "--json", "--config", cfg, check=True).stdout)[
        "pending"]


def api_line(cfg: str) -> dict:
    report = json.loads(kiosk("diag", "--no-devices", "--json", "--config", cfg,
                              check=True).stdout)
    return next(e for e in report["entries"] if e["name"] == "billing_api")


def test_sync_once_over_tls_with_ca_file(pki, https_server, tmp_path):
    cfg = kiosk_with_queue(tmp_path, "good", https_server, ca_file=pki.ca_file)
    proc = kiosk("sync", "--once", "--config", cfg)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["delivered"] == 2 and pending(cfg) == 0
    api = api_line(cfg)
    assert api["reachable"] and api["tls"] == "verified"


@pytest.mark.parametrize("case", ["wrong_ca", "pin_mismatch"])
def test_sync_once_refuses_a_server_it_cannot_verify(pki, https_server, tmp_path, case):
    trust = ({"ca_file": pki.other_ca_file} if case == "wrong_ca" else
             {"ca_file": pki.ca_file, "pin_sha256": pki.pin_b64("other_key")})
    reason = ("TLS: certificate verify failed: unable to get local issuer certificate"
              if case == "wrong_ca" else "TLS: pinned key mismatch")
    cfg = kiosk_with_queue(tmp_path, case, https_server, **trust)
    proc = kiosk("sync", "--once", "--config", cfg)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["delivered"] == 0 and pending(cfg) == 2
    last = proc.stderr.strip().splitlines()[-1]  # what it ends on names the reason
    assert last.startswith("kiosk sync: billing server not trusted: " + reason), proc.stderr
    api = api_line(cfg)
    assert api["status"] == "fault" and api["reason"].startswith(reason)
    text = kiosk("diag", "--no-devices", "--config", cfg, check=True).stdout
    assert any("billing_api" in ln and reason in ln for ln in text.splitlines())


def test_an_unreadable_certificate_or_key_is_one_line_and_exit_2(pki, tmp_path):
    missing = str(tmp_path / "missing.pem")
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("not a certificate\n")
    for cert, key in ((missing, missing), (str(not_pem), str(not_pem)),
                      (pki.certs["good"], pki.certs["expired"])):  # a key of another cert
        proc = kiosk("billing-server", "--port", "0", "--db", str(tmp_path / "l.db"),
                     "--tls-cert", cert, "--tls-key", key, timeout=30)
        assert proc.returncode == 2, proc.stdout
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "TLS certificate" in lines[0], proc.stderr
    alone = kiosk("billing-server", "--port", "0", "--tls-cert", pki.certs["good"], timeout=30)
    assert alone.returncode == 2 and "--tls-key" in alone.stderr


def test_a_missing_ca_file_is_a_config_error(tmp_path):
    cfg = kiosk_with_queue(tmp_path, "k", "https://127.0.0.1:9",
                           ca_file=str(tmp_path / "nope.pem"))
    proc = kiosk("sync", "--once", "--config", cfg)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"kiosk: billing.ca_file: no such file: {tmp_path / 'nope.pem'}"
