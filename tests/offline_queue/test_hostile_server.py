"""The sync worker against servers that lie: redirects, empty or foreign answers, HTML, a
trickle, rate limits, a hang-up mid-request. Nothing is DELIVERED unless the answer proves the
real ledger holds it, and after switching to the real reference server the books match."""

from __future__ import annotations

import json
import threading

import pytest

from offline_queue.deadline import DeadlineSession
from offline_queue.outbox import Outbox
from offline_queue.schema import connect
from offline_queue.http_gateway import retry_after_s
from offline_queue.sync import Backoff, SyncWorker
from tests.billing_server.conftest import AnyKioskAuth, sign_as_test_kiosk


@pytest.fixture(autouse=True)
def _enrol_upstream(request):
    """Test kiosks enrol with the real server behind the hostile one (as a kiosk enrolled
    before its server went bad)."""
    if "billing_server" in request.fixturenames:
        AnyKioskAuth.enrol_at = request.getfixturevalue("billing_server").url
    yield
    AnyKioskAuth.enrol_at = None
from tests.offline_queue.hostile import HostileServer
from tests.offline_queue.test_sync import (drain, kiosk_journal, one_pass_against, queue_payments,
                                           server_ledger, worker_for)

NO_BACKOFF = Backoff(base_s=0.0, factor=1.0, cap_s=120.0)
LIES = ["301", "302", "307", "empty", "array", "other_txn", "other_amount", "other_kiosk", "html"]


def last_errors(journal) -> list[str]:
    return [r[0] for r in journal.db.execute("SELECT last_error FROM outbox ORDER BY id")]


def settle_with_real_server(journal, outbox, billing_server) -> None:
    drain(worker_for(outbox, billing_server.url), outbox)
    stats = outbox.stats()
    assert stats.delivered == 3 and stats.pending == 0 and stats.dead == 0
    assert server_ledger(billing_server) == kiosk_journal(journal)  # by txn id and amount


@pytest.mark.parametrize("recorded", [False, True], ids=["nothing-recorded", "recorded-upstream"])
@pytest.mark.parametrize("mode", LIES)
def test_an_answer_without_proof_delivers_nothing(journal, outbox, billing_server, mode, recorded):
    queue_payments(journal, 3)
    with HostileServer(mode, billing_server.url if recorded else None) as bad:
        result = worker_for(outbox, bad.url).run_once(ignore_backoff=True)
        gets = bad.gets
    stats = outbox.stats()
    assert result.delivered == 0 and stats.delivered == 0 and stats.pending == 3
    assert gets == 0, "a redirect was followed"
    assert result.fault and "without proof" in result.fault  # three in a row: visible
    assert len(server_ledger(billing_server)) == (3 if recorded else 0)
    if mode in ("301", "302", "307"):
        assert all("/v1/health" in e and "not followed" in e for e in last_errors(journal))
    settle_with_real_server(journal, outbox, billing_server)


def test_a_proven_answer_clears_the_fault(journal, outbox, billing_server):
    queue_payments(journal, 4)
    with HostileServer("empty") as bad:
        worker = worker_for(outbox, bad.url)
        assert worker.run_once(ignore_backoff=True).fault
        worker.gateway.base_url = billing_server.url
        result = worker.run_once(ignore_backoff=True)
    assert result.fault is None and result.delivered == 4


def test_two_lies_are_retried_but_not_yet_a_fault(journal, outbox, billing_server):
    queue_payments(journal, 2)
    with HostileServer("empty") as bad:
        result = worker_for(outbox, bad.url).run_once(ignore_backoff=True)
    assert result.retried == 2 and result.fault is None and outbox.stats().pending == 2
    settle = worker_for(outbox, billing_server.url).run_once(ignore_backoff=True)
    assert settle.delivered == 2


@pytest.mark.parametrize("mode, read_timeout", [("trickle", 3), ("trickle_headers", 2)])
def test_a_trickling_server_cannot_hold_a_pass(journal, outbox, billing_server, mode, tmp_path,
                                               read_timeout):
    """One byte a second: each read succeeds within its timeout; only the total deadline ends
    it (about connect + read timeout per request)."""
    queue_payments(journal, 3)
    out: dict = {}

    def one_pass(url: str) -> None:  # its own connection: SQLite objects stay on their thread
        worker = sign_as_test_kiosk(SyncWorker(Outbox(connect(tmp_path / "kiosk.db")), url,
                                               connect_timeout=1.0, read_timeout=read_timeout,
                                               backoff=NO_BACKOFF))
        out["r"] = worker.run_once(ignore_backoff=True)

    with HostileServer(mode, billing_server.url) as bad:
        t = threading.Thread(target=one_pass, args=(bad.url,), daemon=True)
        t.start()
        t.join(timeout=60)  # bounds a hang only: each request ends at about 6 s
        assert not t.is_alive(), "a trickling server held the sync pass for a minute"
    assert out["r"].delivered == 0 and out["r"].retried == 3
    assert outbox.stats().delivered == 0 and outbox.stats().pending == 3
    assert all("DeadlineExceeded" in e for e in last_errors(journal))
    settle_with_real_server(journal, outbox, billing_server)


def test_half_read_then_hang_up_is_retried(journal, outbox, billing_server):
    queue_payments(journal, 3)
    with HostileServer("half") as bad:
        result = worker_for(outbox, bad.url).run_once(ignore_backoff=True)
    assert result.delivered == 0 and result.retried == 3 and outbox.stats().pending == 3
    assert result.fault is None  # a broken line is "unreachable", not a lying server
    settle_with_real_server(journal, outbox, billing_server)


@pytest.mark.parametrize("header, wait", [("30", 30.0), ("100000", 120.0), ("soon", 0.0)])
def test_429_retry_after_is_honoured_and_capped(journal, outbox, billing_server, header, wait):
    queue_payments(journal, 3)
    with HostileServer("429", retry_after=header) as bad:
        worker = sign_as_test_kiosk(SyncWorker(outbox, bad.url, connect_timeout=1, read_timeout=2,
                                               backoff=NO_BACKOFF, clock=lambda: 1000.0))
        result = worker.run_once(ignore_backoff=True)
    assert result.delivered == 0 and result.retried == 3
    next_at = [r[0] for r in journal.db.execute("SELECT next_attempt_at FROM outbox")]
    assert next_at == [1000.0 + wait] * 3
    settle_with_real_server(journal, outbox, billing_server)


def test_retry_after_forms():
    assert retry_after_s("7") == 7.0
    assert retry_after_s(" 7 ") == 7.0
    assert retry_after_s("Fri, 31 Dec 9999 23:59:59 GMT") == 600.0  # capped
    assert retry_after_s("Fri, 31 Dec 9999 23:59:59 GMT", cap_s=60) == 60.0
    assert retry_after_s("Sun, 06 Nov 1994 08:49:37 GMT") == 0.0  # in the past
    for junk in (None, "", "-5", "1.5", "tomorrow", "9" * 30):
        assert retry_after_s(junk) == 0.0


def test_deadline_session_never_follows_redirects():
    with HostileServer("302") as bad:
        s = DeadlineSession(5.0)
        r = s.post(bad.url + "/v1/payments", data=b"{}", allow_redirects=True, timeout=2)
        assert r.status_code == 302 and r.headers["Location"] == "/v1/health"
        assert bad.gets == 0 and bad.posts == 1


def test_a_huge_answer_is_refused(journal, outbox):
    import http.server

    class Huge(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(201)
            self.send_header("Content-Length", str(4 << 20))
            self.end_headers()
            try:
                self.wfile.write(b" " * (4 << 20))
            except OSError:
                pass

        def log_message(self, *a):
            pass

    result = one_pass_against(Huge, journal, outbox)
    assert result.retried == 1 and "AnswerTooLarge" in last_errors(journal)[0]


def test_stored_answer_is_the_proof(journal, outbox, billing_server):
    (rec,) = queue_payments(journal, 1)
    assert worker_for(outbox, billing_server.url).run_once().delivered == 1
    stored = json.loads(journal.db.execute("SELECT response FROM outbox").fetchone()[0])
    sent = json.loads(rec.body)
    assert {k: stored[k] for k in ("kiosk_id", "txn_id", "amount_minor")} == {
        k: sent[k] for k in ("kiosk_id", "txn_id", "amount_minor")}


@pytest.mark.parametrize("mode", ["302", "empty"])
def test_cli_sync_once_against_a_lying_server(tmp_path, billing_server, mode):
    """`kiosk sync --once` says why and fails; `kiosk queue status --json` shows all pending."""
    from offline_queue.journal import Journal
    from tests.cli.conftest import kiosk

    db_path = tmp_path / "cli.db"
    db = connect(db_path)
    queue_payments(Journal(db, "KIOSK-CLI"), 3)
    db.conn.close()
    conf = tmp_path / "kiosk.toml"  # the kiosk that queued them signs them
    conf.write_text(f'[kiosk]\nid = "KIOSK-CLI"\nstate_dir = "{tmp_path / "st"}"\n')
    with HostileServer(mode) as bad:  # no token: nothing to enrol with, it just signs
        proc = kiosk("sync", "--once", "--db", str(db_path), "--api", bad.url,
                     "--config", str(conf), timeout=120)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "not trusted" in proc.stderr and "without proof" in proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["delivered"] == 0
    status = json.loads(kiosk("queue", "status", "--json", "--db", str(db_path), check=True).stdout)
    assert status["delivered"] == 0 and status["pending"] == 3 and status["dead"] == 0
    # the same command against the real server settles everything
    ok = kiosk("sync", "--once", "--db", str(db_path), "--api", billing_server.url,
               "--enrol-token", billing_server.enrol_token, "--config", str(conf))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    status = json.loads(kiosk("queue", "status", "--json", "--db", str(db_path), check=True).stdout)
    assert status["delivered"] == 3 and status["pending"] == 0
