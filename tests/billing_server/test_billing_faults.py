"""Reference billing server: each fault mode as specified, fault knobs, lifecycle and CLI."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from argparse import ArgumentParser, Namespace
from pathlib import Path

import pytest
import requests

from billing_server import cli
from billing_server import server as bs
from billing_server.faults import Fault, parse_fault
from billing_server.seed import DEMO_ACCOUNTS
from tests.billing_server.conftest import (TEST_TOKEN, account_state, ledger_rows, post,
                                           signed_session, wait_for)
from tests.billing_server.openapi_check import validate_response

ACCT = DEMO_ACCOUNTS[0]  # arrears 12_850, balance 0


# ---- faults ----------------------------------------------------------------------------------

def test_fault_500_commits_nothing(billing_server, http, payment_body):
    billing_server.set_fault("500", count=1)
    r = post(http, billing_server, payment_body())
    assert (r.status_code, r.json()["error"]) == (500, "internal")
    validate_response("POST", "/v1/payments", 500, r.json())
    assert ledger_rows(billing_server) == []
    r = post(http, billing_server, payment_body())  # count=1: back to normal
    assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers


def test_fault_drop_commits_then_hangs_up(billing_server, http, payment_body):
    billing_server.set_fault("drop", count=1)
    with pytest.raises(requests.ConnectionError):
        post(http, billing_server, payment_body())
    assert ledger_rows(billing_server) == [("KIOSK-001", "T-0001", 15_150)]
    retry = post(http, billing_server, payment_body())
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert len(ledger_rows(billing_server)) == 1


def test_fault_reset_commits_nothing(billing_server, http, payment_body):
    billing_server.set_fault("reset", count=1)
    with pytest.raises(requests.ConnectionError) as info:
        post(http, billing_server, payment_body())
    assert "reset" in str(info.value).lower()
    assert ledger_rows(billing_server) == []
    retry = post(http, billing_server, payment_body())
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers


def test_fault_malformed_commits_with_garbage_body(billing_server, http, payment_body):
    billing_server.set_fault("malformed", count=1)
    r = post(http, billing_server, payment_body())
    assert r.status_code == 201
    with pytest.raises(ValueError):
        json.loads(r.content)
    assert len(ledger_rows(billing_server)) == 1
    retry = post(http, billing_server, payment_body())
    assert retry.headers["Idempotent-Replayed"] == "true"
    validate_response("POST", "/v1/payments", 201, retry.json())


def test_fault_delay_answers_late_and_commits(billing_server, http, payment_body):
    billing_server.set_fault("delay", seconds=0.4, count=1)
    t0 = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        post(http, billing_server, payment_body(), timeout=(2, 0.1))
    assert wait_for(lambda: len(ledger_rows(billing_server)) == 1)
    assert time.monotonic() - t0 >= 0.35
    billing_server.set_fault("delay", seconds=0.2)
    t0 = time.monotonic()
    r = post(http, billing_server, payment_body())
    assert r.status_code == 201 and time.monotonic() - t0 >= 0.2


def test_fault_count_and_path_filter(billing_server, http, payment_body):
    billing_server.set_fault("500", count=2)
    assert http.get(f"{billing_server.url}/v1/health").status_code == 200  # not a payment path
    codes = [post(http, billing_server, payment_body()).status_code for _ in range(3)]
    assert codes == [500, 500, 201]
    billing_server.set_fault("500", paths="/v1/accounts")
    assert http.get(f"{billing_server.url}/v1/accounts/{ACCT.account_no}").status_code == 500
    billing_server.set_fault("none")
    assert http.get(f"{billing_server.url}/v1/accounts/{ACCT.account_no}").status_code == 200


def test_admin_fault_over_http(billing_server, http, payment_body):
    url = f"{billing_server.url}/_admin/fault"
    r = http.post(url, json={"mode": "500", "count": 1})
    assert r.status_code == 200 and r.json()["fault"]["remaining"] == 1
    assert post(http, billing_server, payment_body()).status_code == 500
    assert http.get(url).json()["fault"]["mode"] == "none"
    for bad in ({"mode": "explode"}, {"mode": "delay", "seconds": -1}, {"mode": "500", "count": 0},
                {"mode": "drop", "paths": "v1"}, {"mode": "drop", "color": 1}, {}):
        assert http.post(url, json=bad).status_code == 400, bad
    billing_server.set_fault("500")
    assert http.get(f"{billing_server.url}/_admin/ledger").status_code == 200  # never faulted


def test_parse_fault():
    assert parse_fault("delay:2.5") == Fault("delay", seconds=2.5)
    assert parse_fault("drop:3") == Fault("drop", count=3)
    assert parse_fault("malformed") == Fault("malformed")
    for bad in ("explode", "drop:x", "delay:-1", "500:0"):
        with pytest.raises(Exception):
            parse_fault(bad)


# ---- lifecycle and CLI -----------------------------------------------------------------------

def test_ledger_and_idempotency_survive_restart(tmp_path, payment_body):
    db = tmp_path / "ledger.db"
    with bs.BillingServer("127.0.0.1", 0, db, enrol_token=TEST_TOKEN) as server, \
            signed_session() as s:
        first = post(s, server, payment_body())
    with bs.BillingServer("127.0.0.1", 0, db, enrol_token=TEST_TOKEN) as server, \
            signed_session() as s:
        again = post(s, server, payment_body())
        assert again.content == first.content and again.headers["Idempotent-Replayed"] == "true"
        # Re-seeding did not reset the balance that the payment moved.
        assert account_state(server, ACCT.account_no) == (0, 15_150 - ACCT.arrears_minor)
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_stop_ends_keepalive_connections_promptly(billing_server, http):
    assert http.get(f"{billing_server.url}/v1/health").status_code == 200  # idle keep-alive now
    httpd = billing_server._httpd
    assert wait_for(lambda: httpd._live, timeout=30)
    serving = list(httpd._live)  # the thread holding the idle connection open
    billing_server.stop()
    # Promptly = stop() ended the connection rather than giving up on it: a connection left
    # open would keep its thread waiting for the next request until the idle timeout.
    assert not any(t.is_alive() for t in serving)
    with pytest.raises(requests.ConnectionError):
        http.get(f"{billing_server.url}/v1/health", timeout=2)
    billing_server.stop()  # twice is fine


def test_handler_settings():
    assert bs._Handler.protocol_version == "HTTP/1.1"
    assert bs._Handler.disable_nagle_algorithm is True


def test_cli_arguments():
    parser = ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--port", "0", "--db", "x.db", "--fault", "delay:1"])
    assert (args.host, args.port, args.db, args.fault) == ("127.0.0.1", 0, "x.db",
                                                           Fault("delay", seconds=1.0))
    for bad in (["--port", "70000"], ["--fault", "explode"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_run_fails_cleanly_on_busy_port(tmp_path, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        args = Namespace(host="127.0.0.1", port=busy.getsockname()[1], db=str(tmp_path / "l.db"),
                         fault=None)
        assert cli.run(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot listen" in err


def test_run_fails_cleanly_on_a_bad_ledger_file(tmp_path, capsys):
    bad = tmp_path / "not-a-db.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    args = Namespace(host="127.0.0.1", port=0, db=str(bad), fault=None)
    assert cli.run(args) == 2
    assert "cannot open ledger" in capsys.readouterr().err


def test_run_serves_until_stopped(tmp_path):
    stop = threading.Event()
    args = Namespace(host="127.0.0.1", port=0, db=str(tmp_path / "l.db"), fault=None)
    result: list[int] = []
    t = threading.Thread(target=lambda: result.append(cli.run(args, stop)))
    t.start()
    assert wait_for(lambda: (tmp_path / "l.db").exists())
    stop.set()
    t.join(5)
    assert result == [0]


def test_process_serves_and_exits_cleanly_on_sigterm(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "billing_server", "--port", "0",
         "--db", str(tmp_path / "l.db")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        cwd=Path(bs.__file__).parents[1])
    try:
        line = proc.stdout.readline()  # printed once listening
        url = line.split(" on ")[1].split()[0]
        assert requests.get(url + "/v1/health", timeout=5).json()["ok"] is True
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_nothing_happens_at_import(tmp_path):
    code = ("import threading, billing_server.server, billing_server.seed, billing_server.ledger;"
            "assert threading.active_count() == 1")
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, timeout=30,
                   env={"PYTHONPATH": str(Path(bs.__file__).parents[1])})
    assert list(tmp_path.iterdir()) == []
