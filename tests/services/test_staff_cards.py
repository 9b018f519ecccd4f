"""Staff cards in a running terminal: a registered staff card tapped on the attract or
out-of-service screen opens the PIN pad for its user (the app listens on
``Terminal.on_staff_card``) and starts no resident session; a resident's card never does;
the card id is stored only as a keyed hash."""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest

from billing_server.seed import DEMO_ACCOUNTS, DEMO_CARDS
from drivers import interfaces as d
from drivers.transport import SimulatorHub
from kiosk.config import Config
from kiosk.flow.session import Phase
from kiosk.services.terminal import Terminal
from tests.billing_server.conftest import billing_server  # noqa: F401
from tests.staff.conftest import CHEAP

STAFF_CARD, MT_CARD = "0F0E0D0C0B", "0B0C0D0E0F"
RESIDENT_CARD = next(uid for uid, a in DEMO_CARDS.items() if a == DEMO_ACCOUNTS[0].account_no)


@pytest.fixture
def terminal(tmp_path, billing_server):
    cfg = Config()
    cfg = dataclasses.replace(
        cfg,
        kiosk=dataclasses.replace(cfg.kiosk, db=str(tmp_path / "k.db"), state_dir=str(tmp_path / "dev")),
        billing=dataclasses.replace(cfg.billing, url=billing_server.url, sync_interval_s=0.2,
                                    enrol_token=billing_server.enrol_token),
        devices={k: dataclasses.replace(v, poll_interval_ms=20) for k, v in cfg.devices.items()},
    )
    (tmp_path / "dev").mkdir()
    term = Terminal(cfg, SimulatorHub(str(tmp_path / "dev")))
    term.start()
    yield term
    term.stop()


def tap(term, uid):
    reader = term.hub.get("card-reader")
    reader.present(uid)
    return reader


def test_staff_card_opens_the_pin_pad_for_its_user_resident_card_never(terminal):
    staff = terminal.staff
    staff.auth.params = CHEAP
    staff.auth.add_user("op1", "operator", "730164", "test")
    staff.auth.add_user("mt1", "maintenance", "402917", "test")
    staff.cards.register("op1", STAFF_CARD, "test")
    staff.cards.register("mt1", MT_CARD, "test")
    opened: list[str] = []
    terminal.on_staff_card.append(opened.append)

    reader = tap(terminal, STAFF_CARD)
    assert terminal.pump(lambda s: bool(opened), 10)
    assert opened == ["op1"] and terminal.runner.session.phase == Phase.IDLE
    reader.remove()

    # out of service: the staff card still opens the PIN pad
    terminal.events.post(d.DeviceFault("bill_validator", "jam", "test"))
    assert terminal.pump(lambda s: s.phase == Phase.OUT_OF_SERVICE, 5)
    reader = tap(terminal, MT_CARD)  # another card: no wait for the reader to see one leave
    assert terminal.pump(lambda s: len(opened) == 2, 10)
    assert opened == ["op1", "mt1"]
    reader.remove()
    terminal.staff.faults.device_cleared("bill_validator", "jam")
    terminal.events.post(d.DeviceFaultCleared("bill_validator", "jam"))
    assert terminal.pump(lambda s: s.phase == Phase.IDLE, 5)

    # a resident's card goes to the resident's screens, never the PIN pad
    tap(terminal, RESIDENT_CARD)
    assert terminal.pump(lambda s: s.phase == Phase.ACCOUNT, 10)
    assert opened == ["op1", "mt1"]

    stored = sqlite3.connect(terminal.config.kiosk.db).execute(
        "SELECT card_mac FROM staff_cards").fetchall()
    assert len(stored) == 2 and not any(uid in row[0].upper() for row in stored
                                        for uid in (STAFF_CARD, MT_CARD))
