"""Staff access: scrypt PIN hashes, role separation, lockout with a growing delay (fake clock),
idle sessions — each refusal audited."""

from __future__ import annotations

import hashlib

import pytest

from kiosk.staff import audit as a
from kiosk.staff.auth import LockoutPolicy, Permission, Role, StaffAuth
from kiosk.staff.errors import (
    BadPin,
    LockedOut,
    PermissionDenied,
    PinRejected,
    SessionExpired,
)
from kiosk.staff.pins import PRODUCTION, ScryptParams, check_new_pin, hash_pin, verify_pin
from tests.staff.conftest import CHEAP, MT_PIN, OP_PIN


def actions(console) -> list[str]:
    return [e.action for e in reversed(console.audit.entries())]


# ---------------------------------------------------------------- PIN hashes
def test_production_cost_is_strong_and_needs_explicit_maxmem():
    assert (PRODUCTION.n, PRODUCTION.r, PRODUCTION.p) == (2**17, 8, 1)
    assert PRODUCTION.maxmem > 128 * PRODUCTION.r * PRODUCTION.n * PRODUCTION.p
    # Without the explicit maxmem, OpenSSL's 32 MiB default refuses this cost.
    with pytest.raises(ValueError):
        hashlib.scrypt(b"1", salt=b"s" * 16, n=PRODUCTION.n, r=PRODUCTION.r, p=PRODUCTION.p)
    with pytest.raises(ValueError):
        ScryptParams(n=2**17, r=8, p=1, maxmem=128 * 1024 * 1024)  # not above 128·r·n·p


def test_production_hash_round_trips_once():
    stored = hash_pin("258046")
    assert stored.startswith(f"scrypt${2**17}$8$1$")
    assert verify_pin("258046", stored) and not verify_pin("258047", stored)


def test_hash_has_per_user_salt_and_rejects_doctored_rows():
    one, two = hash_pin("258046", CHEAP), hash_pin("258046", CHEAP)
    assert one != two and verify_pin("258046", one) and verify_pin("258046", two)
    parts = one.split("$")
    assert not verify_pin("258046", "$".join(["bcrypt", *parts[1:]]))
    assert not verify_pin("258046", "$".join([parts[0], str(2**30), *parts[2:]]))  # no 2**30 DoS
    assert not verify_pin("258046", "garbage")
    assert not verify_pin("258046", "$".join([*parts[:4], "!!notbase64", parts[5]]))


@pytest.mark.parametrize("pin", ["123", "1111", "1234", "9876", "12a4", "１２５８", "1" * 13, ""])
def test_weak_or_malformed_pins_are_refused(pin):
    with pytest.raises(PinRejected):
        check_new_pin(pin)


def test_pins_are_never_listed(console):
    users = console.auth.users()
    assert {u["user_id"]: u["role"] for u in users} == {"mt1": "maintenance", "op1": "operator"}
    assert all("hash" not in k for u in users for k in u)


# ---------------------------------------------------------------- roles
def test_maintenance_cannot_collect_or_see_takings(console, journal):
    mt = console.login("mt1", MT_PIN)
    with pytest.raises(PermissionDenied):
        console.awaiting_count(mt)
    with pytest.raises(PermissionDenied):
        console.submit_count(mt, "KIOSK-T1-COL-00001", {10000: 1})
    with pytest.raises(PermissionDenied):
        console.daily_report(mt, "2026-11-21")
    with pytest.raises(PermissionDenied):
        console.reprint_collection(mt, "KIOSK-T1-COL-00001")
    assert "pending_total_minor" not in console.queue_status(mt)  # counts yes, money no
    denied = console.audit.entries(action=a.PERMISSION_DENIED)
    assert len(denied) == 4 and {e.actor for e in denied} == {"mt1"}


def test_operator_cannot_run_self_tests_or_clear_device_faults(console):
    op = console.login("op1", OP_PIN)
    ran = []
    with pytest.raises(PermissionDenied):
        console.self_test(op, "printer", lambda: ran.append(1))
    with pytest.raises(PermissionDenied):
        console.clear_fault(op, "bill_validator", "acceptor_jam")
    assert not ran
    assert "pending_total_minor" in console.queue_status(op)


def test_role_table_keeps_the_two_roles_apart():
    from kiosk.staff.auth import ROLE_PERMISSIONS

    mt, op = ROLE_PERMISSIONS[Role.MAINTENANCE], ROLE_PERMISSIONS[Role.OPERATOR]
    assert not mt & {Permission.COLLECT_CASH, Permission.VIEW_TAKINGS, Permission.REPRINT}
    assert not op & {Permission.SELF_TEST, Permission.CLEAR_FAULT}


# ---------------------------------------------------------------- lockout
def test_lockout_delay_grows_with_each_failure(console, clock):
    waits = []
    for _ in range(8):
        with pytest.raises(BadPin):
            console.login("op1", "0000")
        wait = next(u for u in console.auth.users() if u["user_id"] == "op1")["locked_for_s"]
        if wait:
            with pytest.raises(LockedOut) as locked:
                console.login("op1", OP_PIN)  # even the right PIN is not checked while locked
            assert locked.value.wait_s == wait
        waits.append(wait)
        clock.advance(wait)
    assert waits == [0, 0, 30, 60, 120, 240, 480, 960]
    locked_out = console.audit.entries(action=a.LOGIN_LOCKED)
    assert len(locked_out) == 6


def test_lockout_then_success_resets(clock, db, console):
    for _ in range(3):
        with pytest.raises(BadPin):
            console.login("op1", "0000")
    with pytest.raises(LockedOut) as locked:
        console.login("op1", OP_PIN)
    clock.advance(locked.value.wait_s - 1)
    with pytest.raises(LockedOut):
        console.login("op1", OP_PIN)
    clock.advance(2)
    session = console.login("op1", OP_PIN)
    assert session.role is Role.OPERATOR
    with pytest.raises(BadPin):
        console.login("op1", "0000")  # counting starts again from zero
    console.login("op1", OP_PIN)


def test_lockout_survives_a_restart(db, console, clock):
    for _ in range(3):
        with pytest.raises(BadPin):
            console.login("op1", "0000")
    restarted = StaffAuth(db, console.audit, clock=clock.time, params=CHEAP)
    with pytest.raises(LockedOut):
        restarted.login("op1", OP_PIN)


def test_unknown_ids_count_and_lock_the_terminal(console, clock):
    policy = LockoutPolicy()
    for i in range(policy.global_free_attempts):
        with pytest.raises(BadPin):
            console.login(f"guess{i}", "2468")
    with pytest.raises(LockedOut):
        console.login("op1", OP_PIN)  # someone is trying ids: everyone waits
    failed = console.audit.entries(action=a.LOGIN_FAILED)
    assert len(failed) == policy.global_free_attempts and not failed[0].detail["known"]


def test_logins_and_failures_are_audited(console):
    with pytest.raises(BadPin):
        console.login("op1", "0000")
    s = console.login("op1", OP_PIN)
    console.logout(s)
    assert actions(console)[-3:] == [a.LOGIN_FAILED, a.LOGIN, a.LOGOUT]


# ---------------------------------------------------------------- idle sessions
def test_session_ends_after_idle_period(console, clock):
    op = console.login("op1", OP_PIN)
    clock.advance(100)
    console.awaiting_count(op)  # activity keeps it alive
    clock.advance(100)
    console.awaiting_count(op)
    clock.advance(console.auth.idle_timeout_s + 1)
    with pytest.raises(SessionExpired):
        console.awaiting_count(op)
    with pytest.raises(SessionExpired):
        console.awaiting_count(op)  # stays ended
    assert actions(console).count(a.SESSION_EXPIRED) == 1


def test_logged_out_session_is_dead(console):
    mt = console.login("mt1", MT_PIN)
    console.logout(mt)
    with pytest.raises(SessionExpired):
        console.queue_status(mt)


def test_removed_user_cannot_log_in_and_pin_change_works(console):
    console.auth.set_pin("op1", "482619", "test")
    with pytest.raises(BadPin):
        console.login("op1", OP_PIN)
    console.login("op1", "482619")
    console.auth.remove_user("op1", "test")
    with pytest.raises(BadPin):
        console.login("op1", "482619")
