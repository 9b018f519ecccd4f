"""The headless terminal with the scanner simulator over a pty: a demo bill's code finds its
account like a tap; anything else is a message on the keypad, and the code is classified on the
deciding thread (the driver's thread only posts)."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from billing_server.seed import DEMO_ACCOUNTS, DEMO_BILLS
from drivers import interfaces as d
from drivers.transport import SimulatorHub
from kiosk.config import Config, config_from_dict
from kiosk.flow import events as e
from kiosk.flow import scan
from kiosk.flow.session import Phase
from kiosk.services.terminal import Terminal
from tests.billing_server.conftest import billing_server  # noqa: F401

ACC = DEMO_ACCOUNTS[2]


def make_terminal(tmp_path, server, cfg: Config | None = None) -> Terminal:
    cfg = cfg or Config()
    cfg = dataclasses.replace(
        cfg,
        kiosk=dataclasses.replace(cfg.kiosk, db=str(tmp_path / "k.db"), state_dir=str(tmp_path / "dev")),
        billing=dataclasses.replace(cfg.billing, url=server.url, sync_interval_s=0.2,
                                    enrol_token=server.enrol_token),
    )
    (tmp_path / "dev").mkdir()
    term = Terminal(cfg, SimulatorHub(str(tmp_path / "dev")))
    term.start()
    return term


@pytest.fixture
def terminal(tmp_path, billing_server):  # noqa: F811
    term = make_terminal(tmp_path, billing_server)
    yield term
    term.stop()


def test_a_scanned_demo_bill_shows_its_account(terminal):
    seen_on: list[str] = []
    terminal.interceptors.append(
        lambda ev: isinstance(ev, d.CodeScanned) and seen_on.append(threading.current_thread().name)
        and False)
    terminal.hub.get("scanner").command(f"scan {DEMO_BILLS[ACC.account_no]}")
    assert terminal.pump(lambda s: s.phase == Phase.ACCOUNT, 10)
    assert terminal.runner.session.account.account_no == ACC.account_no
    assert terminal.runner.session.account.arrears_minor == ACC.arrears_minor
    assert seen_on == [threading.current_thread().name]  # decided here, not on the reader
    assert terminal.runner.history[:2] == ["identifying", "account"]


def test_anything_else_is_the_message_on_the_keypad_and_then_a_bill_works(terminal):
    terminal.hub.get("scanner").command("scan 6901234567892")
    assert terminal.pump(lambda s: s.message == scan.NOT_A_BILL, 10)
    assert terminal.runner.session.phase == Phase.IDENTIFYING
    terminal.hub.get("scanner").command("scan 134567890123456789")
    assert terminal.pump(lambda s: s.message == scan.CODE_NOT_HERE, 10)
    terminal.hub.get("scanner").command(f"scan {DEMO_BILLS[ACC.account_no]}")
    assert terminal.pump(lambda s: s.phase == Phase.ACCOUNT, 10)
    terminal.events.post(e.ContinuePressed())
    assert terminal.pump(lambda s: s.phase == Phase.AMOUNT, 5)
    terminal.hub.get("scanner").command("scan 134567890123456789")  # nothing lost on the way
    assert terminal.pump(lambda s: s.message == scan.CODE_NOT_HERE, 10)
    assert terminal.runner.session.phase == Phase.AMOUNT
    assert terminal.runner.session.account.account_no == ACC.account_no


def test_the_utilitys_own_bill_pattern_from_the_config(tmp_path, billing_server):  # noqa: F811
    cfg = config_from_dict({"scanner": {"bill_pattern": r"BILL-(?P<account>\d{10})"}})
    term = make_terminal(tmp_path, billing_server, cfg)
    try:
        term.hub.get("scanner").command(f"scan BILL-{ACC.account_no}")
        assert term.pump(lambda s: s.phase == Phase.ACCOUNT, 10)
    finally:
        term.stop()


def test_without_a_scanner_the_terminal_runs(tmp_path, billing_server):  # noqa: F811
    cfg = config_from_dict({"devices": {"scanner": {"enabled": False}}})
    assert "scanner" not in cfg.devices
    term = make_terminal(tmp_path, billing_server, cfg)
    try:
        assert "scanner" not in term.manager.health()
        term.runner.enter_account(ACC.account_no)
        assert term.pump(lambda s: s.phase == Phase.ACCOUNT, 10)
    finally:
        term.stop()
