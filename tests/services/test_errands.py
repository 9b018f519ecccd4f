"""History, service requests and e-bill sign-ups through the headless terminal and the reference
server: the history fetched off the deciding thread and cached (offline shows the copy and its
date), each request queued offline and delivered exactly once — across a restart between enqueue
and delivery, and an answer lost after the server recorded it — with the utility's reference on
screen, and slips on the printer with the phone masked."""

from __future__ import annotations

import dataclasses
import json

import pytest

from billing_server.seed import DEMO_ACCOUNTS
from drivers.transport import SimulatorHub
from kiosk.config import Config
from kiosk.flow import events as e
from kiosk.flow.session import Phase
from kiosk.services.identity import signed
from kiosk.services.terminal import Terminal
from offline_queue.schema import connect
from offline_queue.errors import RetryableError
from offline_queue.http_gateway import HttpGateway
from offline_queue.outbox import Outbox
from offline_queue.sync import SyncWorker
from tests.billing_server.conftest import billing_server  # noqa: F401

ACC = DEMO_ACCOUNTS[0]


def make_terminal(tmp_path, server) -> Terminal:
    cfg = Config()
    cfg = dataclasses.replace(
        cfg,
        kiosk=dataclasses.replace(cfg.kiosk, db=str(tmp_path / "k.db"),
                                  state_dir=str(tmp_path / "dev")),
        billing=dataclasses.replace(cfg.billing, url=server.url, sync_interval_s=0.2,
                                    enrol_token=server.enrol_token),
        devices={k: dataclasses.replace(v, poll_interval_ms=20) for k, v in cfg.devices.items()},
    )
    (tmp_path / "dev").mkdir(exist_ok=True)
    term = Terminal(cfg, SimulatorHub(str(tmp_path / "dev")))
    term.start()
    return term


@pytest.fixture
def terminal(tmp_path, billing_server):
    term = make_terminal(tmp_path, billing_server)
    yield term
    term.stop()


def to_menu(term) -> None:
    term.runner.enter_account(ACC.account_no)
    assert term.pump(lambda s: s.phase == Phase.ACCOUNT, 10)
    term.events.post(e.ServicesPressed())
    assert term.pump(lambda s: s.phase == Phase.SERVICES, 5)


def report_fault(term) -> str:
    to_menu(term)
    for ev in (e.ErrandChosen("fault"), e.OptionChosen("no_power"),
               e.PhoneEntered("13812341234"), e.ContinuePressed()):
        term.events.post(ev)
    assert term.pump(lambda s: s.errand is not None and s.errand.step == "done", 5)
    errand = term.runner.session.errand
    assert errand.local_ref.startswith("K") and errand.request_id
    return errand.request_id


def requests_on(server) -> list[dict]:
    return server.ledger.dump()["service_requests"]


def test_history_is_shown_cached_and_printed(terminal, billing_server):
    to_menu(terminal)
    terminal.events.post(e.ErrandChosen("history"))
    assert terminal.pump(lambda s: s.errand and s.errand.history is not None, 10)
    h = terminal.runner.session.errand.history
    assert len(h.months) == 12 and not h.from_cache
    terminal.events.post(e.PrintPressed())
    assert terminal.pump(lambda s: s.errand.printed is not None, 10)
    slip = terminal.hub.get("printer").wait_receipt(1, 5)
    assert "用电及缴费记录" in json.dumps(slip, ensure_ascii=False)
    assert ACC.account_no not in "\n".join(slip["lines"])

    # offline: the copy kept here, with the date it was fetched
    terminal.events.post(e.CancelPressed())
    billing_server.set_fault("500", paths="/v1/accounts/" + ACC.account_no + "/history")
    to_menu(terminal)
    terminal.events.post(e.ErrandChosen("history"))
    assert terminal.pump(lambda s: s.errand and s.errand.history is not None, 10)
    cached = terminal.runner.session.errand.history
    assert cached.from_cache and cached.as_of and cached.months == h.months


def test_fault_report_offline_is_delivered_once_when_the_network_is_back(terminal,
                                                                          billing_server):
    billing_server.set_fault("500", paths="/v1/service-requests")
    key = report_fault(terminal)
    # sync passes against the failing server: still queued, the local reference only
    attempts = "SELECT attempts FROM outbox WHERE idem_key = ?"
    assert terminal.pump(lambda s: terminal.runner.outbox.db.execute(attempts, (key,))
                         .fetchone()[0] >= 2, 15)
    assert requests_on(billing_server) == []
    assert terminal.runner.session.errand.utility_ref == ""
    billing_server.set_fault("none")
    assert terminal.pump(lambda s: s.errand is not None and s.errand.utility_ref, 15)
    (recorded,) = requests_on(billing_server)
    assert recorded["request_id"] == key and recorded["callback_phone"] == "13812341234"
    assert terminal.runner.session.errand.utility_ref == recorded["reference_no"]
    terminal.events.post(e.PrintPressed())
    assert terminal.pump(lambda s: s.errand.printed is not None, 10)
    lines = "\n".join(terminal.hub.get("printer").wait_receipt(1, 5)["lines"])
    assert "138****1234" in lines and "13812341234" not in lines
    assert recorded["reference_no"] in lines


def test_a_restart_between_enqueue_and_delivery_delivers_once(tmp_path, billing_server):
    billing_server.set_fault("500", paths="/v1/service-requests")
    term = make_terminal(tmp_path, billing_server)
    key = report_fault(term)
    term.stop()  # the power goes with the request queued and not delivered
    billing_server.set_fault("none")
    again = make_terminal(tmp_path, billing_server)
    try:
        again.drain()
    finally:
        again.stop()
    assert [r["request_id"] for r in requests_on(billing_server)] == [key]


class LosesTheAnswer(HttpGateway):
    """The server records the request, then the answer is lost (a crash after the POST)."""

    lost = 0

    def deliver(self, kind, key, body):
        receipt = super().deliver(kind, key, body)
        if kind == "ebill" and not self.lost:
            type(self).lost += 1
            raise RetryableError("answer lost after the server recorded it")
        return receipt


def test_ebill_answer_lost_after_recording_is_replayed_not_doubled(tmp_path, billing_server):
    term = make_terminal(tmp_path, billing_server)
    term.stop_sync()
    to_menu(term)
    for ev in (e.ErrandChosen("ebill"), e.OptionChosen("both"), e.PhoneEntered("19912345678"),
               e.ContinuePressed()):
        term.events.post(ev)
    assert term.pump(lambda s: s.errand is not None and s.errand.step == "done", 5)
    term.stop()
    outbox = Outbox(connect(str(tmp_path / "k.db"), durable=False))

    worker = SyncWorker(outbox, LosesTheAnswer(billing_server.url))
    signed(worker, term.config)
    worker.run_once(ignore_backoff=True)
    assert outbox.stats().pending == 1  # not counted delivered without its answer
    worker.run_once(ignore_backoff=True)
    assert outbox.stats().pending == 0 and outbox.stats().delivered == 1
    (signup,) = billing_server.ledger.dump()["ebill_signups"]
    assert signup["sms_bill"] == 1 and signup["reminder"] == 1
    row = outbox.db.execute("SELECT response FROM outbox WHERE kind = 'ebill'").fetchone()
    assert json.loads(row[0])["reference_no"] == signup["reference_no"]
