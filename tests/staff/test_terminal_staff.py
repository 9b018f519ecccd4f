"""The staff parts inside the headless terminal, with real drivers over ptys to the simulators:
the cash box removal locks and closes the batch (counted against journal and validator
counters), locks survive a restart until the device or staff clear them, and a power-up with a
note in the stacker and an open session ends in a payment plus a printed fault slip."""

from __future__ import annotations

import dataclasses
import json

import pytest

from drivers.transport import SimulatorHub
from kiosk.config import Config
from kiosk.flow import events as e
from kiosk.flow.session import Phase
from kiosk.services.identity import signed
from kiosk.services.terminal import Terminal
from kiosk.staff.auth import StaffAuth
from kiosk.staff.wiring import heartbeat_service
from offline_queue.journal import Journal
from offline_queue.schema import connect
from tests.services.test_terminal import ACC, insert, to_inserting
from tests.staff.conftest import CHEAP, MT_PIN, OP_PIN


@pytest.fixture
def make_terminal(tmp_path, billing_server):
    started: list[Terminal] = []
    (tmp_path / "dev").mkdir()

    def make() -> Terminal:
        cfg = Config()
        cfg = dataclasses.replace(
            cfg,
            kiosk=dataclasses.replace(cfg.kiosk, id="KIOSK-T2", db=str(tmp_path / "k.db"),
                                      state_dir=str(tmp_path / "dev")),
            billing=dataclasses.replace(cfg.billing, url=billing_server.url, sync_interval_s=0.2,
                                        enrol_token=billing_server.enrol_token),
            limits=dataclasses.replace(cfg.limits, insert_timeout_s=2),
            devices={k: dataclasses.replace(v, poll_interval_ms=20) for k, v in cfg.devices.items()},
        )
        term = Terminal(cfg, SimulatorHub(str(tmp_path / "dev")), sync=False)
        term.start()
        started.append(term)
        return term

    yield make
    for term in started:
        term.stop()


def add_staff(term: Terminal) -> None:
    auth = StaffAuth(term.db, term.staff.audit, params=CHEAP)
    auth.add_user("op1", "operator", OP_PIN, "test")
    auth.add_user("mt1", "maintenance", MT_PIN, "test")


def pay_once(term: Terminal, *notes: int) -> None:
    to_inserting(term, amount=sum(notes))
    for value in notes:
        insert(term, value)
    term.events.post(e.FinishPressed())
    assert term.pump(lambda s: s.phase == Phase.RECEIPT, 10)
    term.events.post(e.ContinuePressed())
    term.events.post(e.Rated(None))
    assert term.pump(lambda s: s.phase == Phase.IDLE, 5)


def test_cash_box_removal_locks_closes_batch_and_stays_locked_over_restart(make_terminal,
                                                                           billing_server):
    term = make_terminal()
    add_staff(term)
    pay_once(term, 10000, 2000)
    term.hub.get("bill-validator").command("cashbox-remove")
    assert term.pump(lambda s: s.phase == Phase.OUT_OF_SERVICE, 10)
    (batch,) = term.staff.collections.awaiting_count()
    op = term.staff.login("op1", OP_PIN)
    result, printed = term.staff.submit_count(op, batch.batch_id, {10000: 1, 2000: 1})
    assert result.expected == result.device == {10000: 1, 2000: 1}
    assert result.variance_minor == 0 == result.device_variance_minor and printed.ok
    receipt = term.hub.get("printer").wait_receipt(2, 5)  # the resident's receipt was first
    assert batch.batch_id in "\n".join(receipt["lines"])
    heartbeat = heartbeat_service(term, lambda client: signed(client, term.config))
    assert heartbeat.send_once()
    (hb,) = billing_server.ledger.dump()["heartbeats"]
    assert hb["audit_head"] == term.staff.audit.head() and hb["kiosk_id"] == "KIOSK-T2"
    assert hb["devices"]["bill_validator"]["status"] == "fault"  # the box is still out
    term.stop()

    again = make_terminal()  # the box is still out after the restart
    assert again.pump(lambda s: s.phase == Phase.OUT_OF_SERVICE, 2)
    validator = again.devices.validator
    assert again.pump(lambda s: validator.health().reason.startswith("stacker open"), 5)
    assert again.staff.collections.awaiting_count() == []  # the same removal closes nothing new
    again.hub.get("bill-validator").command("cashbox-insert")
    assert again.pump(lambda s: s.phase == Phase.IDLE, 10)
    assert again.staff.faults.active() == []


def test_jam_fixed_while_off_stays_locked_until_staff_clear_it(make_terminal, tmp_path):
    term = make_terminal()
    add_staff(term)
    term.hub.get("bill-validator").command("jam")
    assert term.pump(lambda s: s.phase == Phase.OUT_OF_SERVICE, 10)
    term.stop()
    state = tmp_path / "dev" / "bill-validator.json"
    data = json.loads(state.read_text())
    data["faults"] = []  # someone pulled the note out while the power was off
    state.write_text(json.dumps(data))

    again = make_terminal()
    assert again.pump(lambda s: s.phase == Phase.OUT_OF_SERVICE, 2)
    assert again.runner.session.faults == frozenset({("bill_validator", "acceptor_jam")})
    op = again.staff.login("op1", OP_PIN)
    from kiosk.staff.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        again.staff.clear_fault(op, "bill_validator", "acceptor_jam")
    mt = again.staff.login("mt1", MT_PIN)
    again.staff.clear_fault(mt, "bill_validator", "acceptor_jam")
    assert again.pump(lambda s: s.phase == Phase.IDLE, 5)


def test_power_up_with_note_in_stacker_pays_and_prints_a_fault_slip(make_terminal, tmp_path):
    db = connect(tmp_path / "k.db")
    journal = Journal(db, "KIOSK-T2")
    journal.session_start("OPEN1", ACC.account_no, 5000)
    journal.escrow("OPEN1", 1, 5000, "stack")  # stack commanded, then the power went
    db.conn.close()
    (tmp_path / "dev" / "bill-validator.json").write_text(json.dumps({
        "counters": {"stacked": {}, "total_notes": 0, "returned": 0, "rejected": 0},
        "note": {"value": 5000, "code": 0x65, "stage": "vend_valid", "reason": None},
        "faults": []}))

    term = make_terminal()
    assert term.power_up == "bill_in_stacker"
    rec = term.journal.payment_for_session("OPEN1")
    assert rec is not None and rec.amount_minor == 5000
    slip = term.hub.get("printer").wait_receipt(1, 5)
    text = "\n".join(slip["lines"])
    assert "OPEN1" in text and "50.00" in text and "故障单" in text
    # The validator's reset put the note in the cash box: device and journal agree.
    # (the reset waits for reconciliation to be journaled, so it follows the start)
    validator = term.hub.get("bill-validator")
    assert term.pump(lambda s: validator.counters()["stacked"] == {"5000": 1}, 5)
    assert term.pump(lambda s: s.phase == Phase.IDLE, 2)
