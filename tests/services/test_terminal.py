"""The headless terminal end to end: real drivers over ptys to the simulators, the real
journal, the reference server on loopback. Faults in the middle of a session end on the right
phase with no money lost."""

from __future__ import annotations

import dataclasses

import pytest

from drivers.transport import SimulatorHub
from kiosk.config import Config
from billing_server.seed import DEMO_ACCOUNTS, DEMO_CARDS
from kiosk.flow import events as e
from kiosk.flow.session import Phase
from kiosk.services.terminal import Terminal
from tests.billing_server.conftest import billing_server  # noqa: F401

ACC = DEMO_ACCOUNTS[0]
CARD = next(uid for uid, a in DEMO_CARDS.items() if a == ACC.account_no)


@pytest.fixture
def terminal(tmp_path, billing_server):
    cfg = Config()
    cfg = dataclasses.replace(
        cfg,
        kiosk=dataclasses.replace(cfg.kiosk, db=str(tmp_path / "k.db"), state_dir=str(tmp_path / "dev")),
        billing=dataclasses.replace(cfg.billing, url=billing_server.url, sync_interval_s=0.2,
                                    enrol_token=billing_server.enrol_token),
        limits=dataclasses.replace(cfg.limits, insert_timeout_s=2),
        devices={k: dataclasses.replace(v, poll_interval_ms=20) for k, v in cfg.devices.items()},
    )
    (tmp_path / "dev").mkdir()
    term = Terminal(cfg, SimulatorHub(str(tmp_path / "dev")))
    term.start()
    yield term
    term.stop()


def to_inserting(term, amount=ACC.arrears_minor, consent=False):
    term.hub.get("card-reader").present(CARD)
    assert term.pump(lambda s: s.phase == Phase.ACCOUNT, 10)
    term.hub.get("card-reader").remove()
    term.events.post(e.ContinuePressed())
    assert term.pump(lambda s: s.phase == Phase.AMOUNT, 5)
    if consent:
        term.events.post(e.OnScreenReceiptAccepted())
    choose(term, amount)
    assert term.pump(lambda s: s.phase == Phase.INSERTING or s.message, 5)


def choose(term, amount):
    """Choose an amount; paying less than is owed is asked once: the same choice again says yes."""
    term.events.post(e.AmountChosen(amount))
    assert term.pump(lambda s: s.short_asked == amount or s.target_minor == amount or s.message, 5)
    if term.runner.session.short_asked == amount:
        term.events.post(e.AmountChosen(amount))


def insert(term, value):
    validator = term.hub.get("bill-validator")
    before = term.runner.session.credited_minor
    assert term.pump(lambda s: validator.ready_for_note, 5)
    validator.insert_note(value)
    assert term.pump(lambda s: s.credited_minor > before, 10)


def test_card_payment_prints_chinese_receipt_and_reaches_server(terminal, billing_server):
    to_inserting(terminal)
    insert(terminal, 10000)
    insert(terminal, 5000)
    terminal.events.post(e.FinishPressed())
    assert terminal.pump(lambda s: s.phase == Phase.RECEIPT and s.printed is not None, 10)
    assert terminal.runner.session.printed is True
    receipt = terminal.hub.get("printer").wait_receipt(1, 5)
    text = "\n".join(receipt["lines"])
    assert "电费缴费凭证" in text and "150.00" in text and "******0010"[-4:] in text
    assert receipt["qr"] and terminal.runner.session.receipt_no in receipt["qr"][0]
    terminal.drain()
    (paid,) = billing_server.ledger.payments()
    assert paid["amount_minor"] == 15000 and paid["txn_id"] == terminal.runner.session.txn_id
    assert terminal.runner.history[:6] == ["identifying", "account", "amount", "inserting", "committing", "receipt"]


def test_paper_out_asks_consent_and_shows_receipt_on_screen(terminal):
    terminal.hub.get("printer").command("paper out")
    to_inserting(terminal)
    s = terminal.runner.session
    assert s.phase == Phase.AMOUNT and s.message == "printer_unavailable_accept_screen_receipt"
    terminal.events.post(e.OnScreenReceiptAccepted())
    assert terminal.pump(lambda s: s.phase == Phase.INSERTING, 5)
    insert(terminal, 2000)
    terminal.events.post(e.FinishPressed())
    assert terminal.pump(lambda s: s.phase == Phase.RECEIPT, 10)
    assert terminal.runner.session.printed is False and terminal.runner.session.receipt_no
    assert terminal.runner.journal.payment(terminal.runner.session.txn_id).amount_minor == 2000


def test_paper_runs_out_during_printing_payment_stands(terminal):
    to_inserting(terminal)
    insert(terminal, 10000)
    terminal.hub.get("printer").command("paper out-after 2")
    terminal.events.post(e.FinishPressed())
    assert terminal.pump(lambda s: s.phase == Phase.RECEIPT and s.printed is not None, 10)
    s = terminal.runner.session
    assert s.printed is False and s.message.startswith("print_failed")
    assert terminal.runner.journal.payment(s.txn_id).amount_minor == 10000


def test_jam_mid_session_commits_credit_and_locks(terminal):
    to_inserting(terminal)
    insert(terminal, 5000)
    terminal.hub.get("bill-validator").command("jam")
    assert terminal.pump(lambda s: s.phase in (Phase.RECEIPT, Phase.OUT_OF_SERVICE) and s.receipt_no, 10)
    txn = terminal.runner.session.txn_id
    assert terminal.runner.journal.payment(txn).amount_minor == 5000
    terminal.events.post(e.ContinuePressed())
    terminal.events.post(e.Rated(None))
    assert terminal.pump(lambda s: s.phase == Phase.OUT_OF_SERVICE, 5)
    terminal.hub.get("bill-validator").command("clear")
    assert terminal.pump(lambda s: s.phase == Phase.IDLE, 10)


def test_idle_timeout_with_note_credited_commits(terminal):
    to_inserting(terminal)
    insert(terminal, 1000)
    # nobody touches Finish: the insertion timer (2 s here) ends the session, the note is paid
    assert terminal.pump(lambda s: s.phase == Phase.RECEIPT, 10)
    assert terminal.runner.journal.payment(terminal.runner.session.txn_id).amount_minor == 1000


def test_duplicate_payment_guard(terminal):
    to_inserting(terminal)
    insert(terminal, 1000)
    terminal.events.post(e.FinishPressed())
    assert terminal.pump(lambda s: s.phase == Phase.RECEIPT, 10)
    terminal.events.post(e.ContinuePressed())
    terminal.events.post(e.Rated(5))
    assert terminal.pump(lambda s: s.phase == Phase.IDLE, 5)
    terminal.runner.enter_account(ACC.account_no)
    assert terminal.pump(lambda s: s.phase == Phase.ACCOUNT, 10)
    assert terminal.runner.session.recently_paid is True


def test_unknown_and_malformed_account(terminal):
    from billing_server.seed import UNSEEDED_ACCOUNT

    terminal.runner.enter_account(UNSEEDED_ACCOUNT)
    assert terminal.pump(lambda s: s.message, 10)
    assert terminal.runner.session.message == "unknown_account"
    terminal.runner.enter_account("12345")
    assert terminal.pump(lambda s: s.message.startswith("malformed"), 5)


def test_coins_taken_while_the_host_was_down_are_recorded_once(tmp_path, billing_server):
    """The host dies mid-session; the coin acceptor keeps power and takes one more coin. On
    restart the first coin is paid in (not twice) and the late one is recorded for the operator
    from the acceptor's event counter, which was journaled with each credit."""
    cfg = Config()
    cfg = dataclasses.replace(
        cfg,
        kiosk=dataclasses.replace(cfg.kiosk, db=str(tmp_path / "k.db"), state_dir=str(tmp_path / "dev")),
        billing=dataclasses.replace(cfg.billing, url=billing_server.url,
                                    enrol_token=billing_server.enrol_token),
        devices={k: dataclasses.replace(v, poll_interval_ms=20) for k, v in cfg.devices.items()},
    )
    (tmp_path / "dev").mkdir()
    hub = SimulatorHub(str(tmp_path / "dev"))  # the devices outlive both host runs
    first = Terminal(cfg, hub)
    first.start()
    to_inserting(first)
    coins = hub.get("coin-acceptor")
    assert first.pump(lambda s: coins.master_enabled and coins.enabled_channels, 5)
    coins.command("coin 100")
    assert first.pump(lambda s: s.credited_minor == 100, 10)
    # the host process dies: its drivers go quiet, the acceptor stays as it was (enabled)
    first.stop_sync()
    first.manager.stop()
    coins.master_enabled, coins.enabled_channels = True, frozenset({1, 2, 3})
    coins.command("coin 50")
    second = Terminal(cfg, hub)
    second.start()
    try:
        assert second.pump(lambda s: second.journal.open_flags() != [], 10)
        (flag,) = second.journal.open_flags()
        assert flag["kind"] == "credit_without_session" and flag["value_minor"] == 50
        payments = second.journal.payments()
        assert [p["amount_minor"] for p in payments] == [100]  # recovered at start, once
        credits = second.db.execute(
            "SELECT count(*), sum(value_minor) FROM journal WHERE kind = 'credit'").fetchone()
        assert credits == (1, 100)
        second.pump(None, timeout=0.5)  # more polls: still nothing credited twice
        assert len(second.journal.open_flags()) == 1
    finally:
        second.stop()
