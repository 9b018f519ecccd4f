"""The code tender in a headless terminal: the HTTP runs on workers and the answers come back to
the deciding thread; with the gateway gone the resident is told it could not be confirmed, and
once it is back the order is asked about again at the attract screen and closed."""

from __future__ import annotations

import dataclasses
import sqlite3
from contextlib import closing
from datetime import date

import pytest

from drivers.transport import SimulatorHub
from kiosk.config import Config
from kiosk.flow import events as e
from kiosk.flow.session import Phase
from kiosk.services.terminal import Terminal
from tests.billing_server.conftest import TEST_TOKEN, billing_server  # noqa: F401
from tests.payment_gateway.conftest import CODE, MERCHANT, payment_gateway  # noqa: F401
from tests.services.test_terminal import ACC, CARD


@pytest.fixture
def terminal(tmp_path, billing_server, payment_gateway):  # noqa: F811
    cfg = Config()
    cfg = dataclasses.replace(
        cfg,
        kiosk=dataclasses.replace(cfg.kiosk, db=str(tmp_path / "k.db"), state_dir=str(tmp_path / "dev")),
        billing=dataclasses.replace(cfg.billing, url=billing_server.url, sync_interval_s=0.2,
                                    enrol_token=billing_server.enrol_token),
        gateway=dataclasses.replace(cfg.gateway, url=payment_gateway.url, merchant=MERCHANT,
                                    enrol_token=TEST_TOKEN, connect_timeout_s=0.3,
                                    read_timeout_s=1.0),
        devices={k: dataclasses.replace(v, poll_interval_ms=20) for k, v in cfg.devices.items()},
    )
    (tmp_path / "dev").mkdir()
    term = Terminal(cfg, SimulatorHub(str(tmp_path / "dev")))
    term.start()
    yield term
    term.stop()


def to_scan(term) -> None:
    term.hub.get("card-reader").present(CARD)
    assert term.pump(lambda s: s.phase == Phase.ACCOUNT, 10)
    term.hub.get("card-reader").remove()
    term.events.post(e.ContinuePressed())
    assert term.pump(lambda s: s.phase == Phase.AMOUNT and s.code_enabled, 5)
    term.events.post(e.CodeTenderChosen(ACC.arrears_minor))
    assert term.pump(lambda s: s.phase == Phase.CODE_SCAN, 5)


def orders(term) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(term.config.kiosk.db)) as db:
        return db.execute("SELECT order_id, state FROM code_orders ORDER BY order_id").fetchall()


def test_a_code_payment_reaches_the_billing_server(terminal, billing_server):  # noqa: F811
    to_scan(terminal)
    terminal.events.post(e.PaymentCodeScanned(CODE))
    assert terminal.pump(lambda s: s.phase == Phase.RECEIPT, 15)
    terminal.drain()
    (paid,) = billing_server.ledger.payments()
    assert (paid["tender"], paid["amount_minor"]) == ("code", ACC.arrears_minor)
    assert [state for _o, state in orders(terminal)] == ["recorded"]


def test_an_unreachable_gateway_is_told_plainly_and_resolved_at_idle(terminal, payment_gateway):  # noqa: F811
    payment_gateway.stop()
    to_scan(terminal)
    terminal.events.post(e.PaymentCodeScanned(CODE))
    assert terminal.pump(lambda s: s.phase == Phase.CODE_FAILED, 40)
    assert terminal.runner.session.message == "code_unresolved"
    assert [state for _o, state in orders(terminal)] == ["reversing"]
    payment_gateway.start()  # the same port
    terminal.events.post(e.CancelPressed())
    assert terminal.pump(lambda s: s.phase == Phase.IDLE, 5)
    assert terminal.pump(lambda s: terminal.code_pay.resolved.is_set()
                         and orders(terminal)[0][1] in ("failed", "reversed"), 20)
    assert payment_gateway.settlement(MERCHANT, date.today().isoformat()) == (0, 0)
