"""``kiosk simulate`` over TLS balances against the ledger: the reference server as its own
process with a throwaway CA's certificate (``--tls-cert``/``--tls-key``, README: TLS), the kiosk
trusting that CA through ``[billing] ca_file``, and the books compared with
``kiosk billing-server settlement``. Then the server is stopped: payments queue, the server comes
back on the same port and ledger, ``kiosk sync --once`` delivers them, and the books still agree.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest

from tests.cli.conftest import ROOT, kiosk
from tests.billing_server.conftest import TEST_TOKEN
from tests.offline_queue.test_sync import free_port
from tests.tls_pki import make_pki

KIOSK_ID = "KIOSK-TLS1"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


class ServerProcess:
    """``kiosk billing-server`` over TLS on a fixed port and ledger, started and stopped at will;
    started means its "listening on" line was printed (the socket is bound by then)."""

    def __init__(self, pki, port: int, ledger, log) -> None:
        self.args = [sys.executable, "-m", "kiosk", "billing-server", "--host", "127.0.0.1",
                     "--port", str(port), "--db", str(ledger), "--tls-cert", pki.certs["good"],
                     "--tls-key", pki.certs["good"], "--enrol-token", TEST_TOKEN]
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> str:
        err = open(self.log, "a")  # never a pipe nobody reads: a full pipe would stall it
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=err, text=True,
                                     cwd=ROOT)
        err.close()
        url = None
        for line in self.proc.stdout:
            if "listening on" in line:
                url = line.split(" on ")[1].split()[0]
                break
        assert url, f"billing server did not start: {self.log.read_text()[-2000:]}"
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()  # drain the rest
        return url

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()  # SIGTERM: it stops serving and closes the ledger (run())
        assert self.proc.wait(15) == 0
        self.proc = None


@pytest.fixture
def server(pki, tmp_path):
    srv = ServerProcess(pki, free_port(), tmp_path / "ledger.db", tmp_path / "server.log")
    try:
        yield srv
    finally:
        if srv.proc is not None:
            srv.proc.kill()
            srv.proc.wait(10)


def kiosk_config(tmp_path, url: str, ca_file: str) -> str:
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f'[kiosk]\nid = "{KIOSK_ID}"\ndb = "{tmp_path / "k.db"}"\n'
                   f'state_dir = "{tmp_path / "dev"}"\n'
                   f'[billing]\nurl = "{url}"\nca_file = "{ca_file}"\n'
                   'connect_timeout_s = 2.0\nread_timeout_s = 5.0\n')
    return str(cfg)


def simulate(cfg: str, url: str, sessions: int, seed: int) -> dict:
    proc = kiosk("simulate", "--sessions", str(sessions), "--api", url, "--enrol-token",
                 TEST_TOKEN, "--json", "--poll-ms", "20", "--seed", str(seed), "--config", cfg,
                 timeout=300, check=True)
    return json.loads(proc.stdout)


def settlement(ledger, day: str) -> dict:
    proc = kiosk("billing-server", "settlement", "--db", str(ledger), "--kiosk-id", KIOSK_ID,
                 "--date", day, check=True)
    return json.loads(proc.stdout)


def pending(cfg: str) -> dict:
    return json.loads(kiosk("queue", "status", "--json", "--config", cfg, check=True).stdout)


def test_simulate_over_tls_then_an_outage_drained_by_sync_once(pki, server, tmp_path):
    url = server.start()
    assert url.startswith("https://127.0.0.1:")
    cfg = kiosk_config(tmp_path, url, pki.ca_file)
    ledger = tmp_path / "ledger.db"

    online = simulate(cfg, url, 10, seed=1)
    assert online["sessions"] == 10 and online["failed"] == 0, online
    assert online["paid"] > 0 and online["pending"] == 0 and online["dead"] == 0, online
    books = settlement(ledger, online["date"])
    assert books["total_minor"] == online["paid_minor"], (books, online)
    assert books["count"] == online["paid"]

    # Outage: nothing listens on the port; every payment is taken and queued.
    server.stop()
    outage = simulate(cfg, url, 4, seed=2)
    assert outage["paid"] > 0 and outage["delivered"] == online["delivered"], outage
    queued = pending(cfg)["pending"]
    assert queued == outage["pending"] >= outage["paid"]  # payments (and their ratings)
    assert settlement(ledger, online["date"])["total_minor"] == online["paid_minor"]

    assert server.start() == url  # back, same port and ledger
    synced = kiosk("sync", "--once", "--enrol-token", TEST_TOKEN, "--config", cfg)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    result = json.loads(synced.stdout)
    assert result["delivered"] == queued and not result["fault"], result
    status = pending(cfg)
    assert status["pending"] == 0 and status["dead"] == 0, status
    days = [settlement(ledger, d) for d in sorted({online["date"], outage["date"]})]
    assert sum(b["total_minor"] for b in days) == online["paid_minor"] + outage["paid_minor"]
    assert sum(b["count"] for b in days) == online["paid"] + outage["paid"]
