"""Locking faults (docs/promises.md, "Faults lock and stay locked"): persisted, still locking after a restart, cleared only by
the device or by staff (audited, role-checked); a failed integrity check stays locked even when
a later check passes, until staff clear it."""

from __future__ import annotations

import pytest

from drivers import interfaces as d
from kiosk.flow import events as e
from kiosk.flow.session import Phase, Session, advance
from kiosk.staff import audit as a
from kiosk.staff.console import StaffConsole
from kiosk.staff.errors import FaultNotClearable, PermissionDenied
from kiosk.staff.faults import DeviceWatch, check_on_start
from offline_queue.schema import connect
from tests.staff.conftest import CHEAP, MT_PIN, OP_PIN, make_config

JAM = d.DeviceFault("bill_validator", "acceptor_jam", "note jammed in the acceptor", locking=True)
BOX_OUT = d.DeviceFault("bill_validator", "stacker_open", "stacker open: cash box removed")


def restart(db_path, journal, clock) -> StaffConsole:
    db = connect(db_path)
    journal.db = db
    return StaffConsole(db, make_config(db_path), journal, clock=clock.time, params=CHEAP)


def replayed_session(console) -> Session:
    session = Session()
    events: list = []
    console.faults.replay(events.append)
    for ev in events:
        session, _ = advance(session, ev)
    return session


def test_locking_fault_survives_restart_until_staff_clear_it(console, db_path, journal, clock):
    watch = DeviceWatch(console.faults)
    watch(JAM)
    watch(JAM)  # the device repeats itself: one fault
    watch(d.DeviceFault("bill_validator", "communication", "no answer", locking=False))
    assert [(f.device, f.code) for f in console.faults.active()] == [("bill_validator", "acceptor_jam")]

    after = restart(db_path, journal, clock)
    session = replayed_session(after)
    assert session.phase is Phase.OUT_OF_SERVICE and session.faults

    posted: list = []
    after.post = posted.append
    mt = after.login("mt1", MT_PIN)
    fault = after.clear_fault(mt, "bill_validator", "acceptor_jam")
    assert fault.reason == "note jammed in the acceptor"
    assert posted == [e.DeviceCleared("bill_validator", "acceptor_jam")]
    session, _ = advance(session, posted[0])
    assert session.phase is Phase.IDLE
    (cleared,) = after.audit.entries(action=a.FAULT_CLEARED)
    assert cleared.actor == "mt1" and cleared.detail["by"] == "staff"
    assert replayed_session(restart(db_path, journal, clock)).phase is Phase.IDLE
    with pytest.raises(FaultNotClearable):
        after.clear_fault(after.login("mt1", MT_PIN), "bill_validator", "acceptor_jam")


def test_the_device_clears_its_own_fault(console):
    watch = DeviceWatch(console.faults)
    watch(BOX_OUT)
    watch(d.DeviceFaultCleared("bill_validator", "stacker_open"))
    assert console.faults.active() == []
    (hist,) = console.faults.history("bill_validator")
    assert hist["cleared_by"] == "device:bill_validator"


def test_operator_may_clear_cash_box_faults_only(console):
    watch = DeviceWatch(console.faults)
    watch(BOX_OUT)
    watch(JAM)
    op = console.login("op1", OP_PIN)
    with pytest.raises(PermissionDenied):
        console.clear_fault(op, "bill_validator", "acceptor_jam")
    console.clear_fault(op, "bill_validator", "stacker_open")
    assert [f.code for f in console.faults.active()] == ["acceptor_jam"]


def test_a_fault_the_device_still_reports_is_not_cleared(console):
    DeviceWatch(console.faults)(JAM)
    console.device_health = lambda: {"bill_validator": d.Health(d.HealthState.FAULT,
                                                                "note jammed in the acceptor")}
    with pytest.raises(FaultNotClearable, match="still reports"):
        console.clear_fault(console.login("mt1", MT_PIN), "bill_validator", "acceptor_jam")
    assert console.faults.active()


def test_cash_box_removal_closes_the_batch_once(console):
    closed: list = []
    watch = DeviceWatch(console.faults, lambda: closed.append(1))
    watch(BOX_OUT)
    watch(BOX_OUT)  # still out on the next poll, or again after a restart
    assert closed == [1]


def test_a_bookkeeping_error_never_reaches_the_session(console, caplog):
    def boom():
        raise RuntimeError("disk full")

    DeviceWatch(console.faults, boom)(BOX_OUT)  # logged, not raised
    assert "recording device event" in caplog.text


def test_failed_integrity_check_stays_locked_until_staff_clear_it(console, db, db_path, monkeypatch):
    import kiosk.staff.faults as faults_mod

    monkeypatch.setattr(faults_mod, "integrity_problem", lambda _db: "row 7 missing from index")
    assert check_on_start(db, db_path) == "row 7 missing from index"
    mt = console.login("mt1", MT_PIN)
    with pytest.raises(FaultNotClearable, match="still fails"):
        console.clear_fault(mt, "database", "integrity")
    monkeypatch.setattr(faults_mod, "integrity_problem", lambda _db: None)
    assert check_on_start(db, db_path) is None
    # The check passes now, but the marker keeps the terminal locked.
    assert [(f.device, f.code) for f in console.faults.active()] == [("database", "integrity")]
    session = replayed_session(console)
    assert session.phase is Phase.OUT_OF_SERVICE
    with pytest.raises(PermissionDenied):
        console.clear_fault(console.login("op1", OP_PIN), "database", "integrity")
    console.clear_fault(mt, "database", "integrity")
    assert console.faults.active() == []
    assert console.audit.entries(action=a.FAULT_CLEARED)[0].detail["device"] == "database"


def test_real_integrity_check_passes_on_a_sound_database(db, db_path):
    assert check_on_start(db, db_path) is None
