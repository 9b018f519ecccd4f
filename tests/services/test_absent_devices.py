"""A device disabled in config does not exist: the headless terminal runs without it
(no coin acceptor: notes only; no card reader: keypad only), on real drivers over ptys, the
real journal and the reference server on loopback."""

from __future__ import annotations

import json

import pytest

from drivers.transport import SimulatorHub
from kiosk.config import config_from_dict
from billing_server.seed import DEMO_ACCOUNTS, DEMO_CARDS
from kiosk.flow import events as e
from kiosk.flow.session import Phase
from kiosk.services.terminal import Terminal
from kiosk.staff.wiring import devices_by_name
from tests.billing_server.conftest import billing_server  # noqa: F401
from tests.services.test_terminal import choose

ACC = DEMO_ACCOUNTS[0]
CARD = next(uid for uid, a in DEMO_CARDS.items() if a == ACC.account_no)
NAMES = ("bill_validator", "coin_acceptor", "card_reader", "printer")


@pytest.fixture
def terminal_without(tmp_path, billing_server):  # noqa: F811
    started = []

    def make(*absent: str) -> Terminal:
        (tmp_path / "dev").mkdir()
        cfg = config_from_dict({
            "kiosk": {"db": str(tmp_path / "k.db"), "state_dir": str(tmp_path / "dev")},
            "billing": {"url": billing_server.url, "sync_interval_s": 0.2,
                        "enrol_token": billing_server.enrol_token},
            "devices": {name: {"poll_interval_ms": 20, "enabled": name not in absent}
                        for name in NAMES},
        })
        term = Terminal(cfg, SimulatorHub(str(tmp_path / "dev")))
        started.append(term)
        term.start()
        return term

    yield make
    for term in started:
        term.stop()


def pay_with_notes(term, notes):
    term.events.post(e.ContinuePressed())
    assert term.pump(lambda s: s.phase == Phase.AMOUNT, 5)
    choose(term, sum(notes))
    assert term.pump(lambda s: s.phase == Phase.INSERTING or s.message, 5)
    assert term.runner.session.phase == Phase.INSERTING, term.runner.session.message
    validator = term.hub.get("bill-validator")
    for value in notes:
        before = term.runner.session.credited_minor
        assert term.pump(lambda s: validator.ready_for_note, 5)
        validator.insert_note(value)
        assert term.pump(lambda s: s.credited_minor > before, 10)
    term.events.post(e.FinishPressed())
    assert term.pump(lambda s: s.phase == Phase.RECEIPT and s.printed is not None, 10)
    return term.runner.session


def test_no_coin_acceptor_a_note_payment_completes(terminal_without, billing_server):  # noqa: F811
    term = terminal_without("coin_acceptor")
    assert term.devices.coins is None and "coin_acceptor" not in term.manager.names
    assert term.runner.session.config.accepted_coins_minor == frozenset()
    assert "coin_acceptor" not in devices_by_name(term.devices)  # not reported as a fault
    term.hub.get("card-reader").present(CARD)
    assert term.pump(lambda s: s.phase == Phase.ACCOUNT, 10)
    term.hub.get("card-reader").remove()
    s = pay_with_notes(term, [10000, 2000])
    assert s.printed is True
    assert term.runner.journal.payment(s.txn_id).amount_minor == 12000
    term.drain()
    (paid,) = billing_server.ledger.payments()
    assert paid["amount_minor"] == 12000 and paid["txn_id"] == s.txn_id


def test_no_card_reader_the_keypad_still_pays(terminal_without):
    term = terminal_without("card_reader")
    assert term.devices.card is None and "card_reader" not in term.manager.names
    term.runner.enter_account(ACC.account_no)
    assert term.pump(lambda s: s.phase == Phase.ACCOUNT, 10)
    s = pay_with_notes(term, [5000])
    assert term.runner.journal.payment(s.txn_id).amount_minor == 5000


def test_no_bill_validator_the_terminal_takes_coins_only(terminal_without, billing_server):  # noqa: F811
    term = terminal_without("bill_validator")
    assert term.devices.validator is None and term.power_up is None
    assert term.runner.session.config.accepted_notes_minor == frozenset()
    term.runner.enter_account(ACC.account_no)
    assert term.pump(lambda s: s.phase == Phase.ACCOUNT, 10)
    term.events.post(e.ContinuePressed())
    assert term.pump(lambda s: s.phase == Phase.AMOUNT, 5)
    choose(term, 100)
    # the coin acceptor is what takes cash here: the readiness gate lets the resident pay
    assert term.pump(lambda s: s.phase == Phase.INSERTING, 5)
    coins = term.hub.get("coin-acceptor")
    assert term.pump(lambda s: coins.master_enabled and coins.enabled_channels, 10)
    coins.insert_coin(100)
    assert term.pump(lambda s: s.credited_minor == 100, 10)
    term.events.post(e.FinishPressed())
    assert term.pump(lambda s: s.phase == Phase.RECEIPT, 10)
    (paid,) = term.journal.payments()
    assert paid["amount_minor"] == 100 and json.loads(paid["coins"]) == {"100": 1}


def test_no_cash_device_at_all_takes_no_cash(terminal_without):
    term = terminal_without("bill_validator", "coin_acceptor")
    term.runner.enter_account(ACC.account_no)
    assert term.pump(lambda s: s.phase == Phase.ACCOUNT, 10)
    term.events.post(e.ContinuePressed())
    assert term.pump(lambda s: s.phase == Phase.AMOUNT, 5)
    choose(term, 5000)
    # the readiness gate says why, on screen; nothing is enabled, nothing is journaled as money
    assert term.pump(lambda s: s.message == "validator_unavailable", 5)
    assert term.runner.session.phase == Phase.AMOUNT
