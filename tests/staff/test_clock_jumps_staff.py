"""Clocks may jump: a wall clock moved days either way neither locks staff out for days nor keeps
a staff session open for days (the clock is the fixtures' injected FakeTime)."""

from __future__ import annotations

import pytest

from kiosk.staff.errors import BadPin, LockedOut, SessionExpired
from tests.staff.conftest import OP_PIN

DAYS = 24 * 3600


def lock_op1(console) -> int:
    for _ in range(3):
        with pytest.raises(BadPin):
            console.login("op1", "0000")
    with pytest.raises(LockedOut) as locked:
        console.login("op1", OP_PIN)
    return locked.value.wait_s


def test_a_clock_set_back_does_not_stretch_a_lockout_to_days(console, clock):
    wait = lock_op1(console)
    assert 0 < wait <= 30
    clock.advance(-5 * DAYS)
    with pytest.raises(LockedOut) as locked:
        console.login("op1", OP_PIN)  # still locked: the lockout holds ...
    assert locked.value.wait_s <= wait  # ... for what the failures earned, not five days more
    user = next(u for u in console.auth.users() if u["user_id"] == "op1")
    assert user["locked_for_s"] <= wait
    clock.advance(wait)
    assert console.login("op1", OP_PIN).user_id == "op1"


def test_a_clock_set_forward_skips_no_more_than_the_wait_in_progress(console, clock):
    lock_op1(console)
    clock.advance(5 * DAYS)
    with pytest.raises(BadPin):
        console.login("op1", "0000")  # the failure count was kept: the next wait is longer
    with pytest.raises(LockedOut) as locked:
        console.login("op1", OP_PIN)
    assert locked.value.wait_s == 60


@pytest.mark.parametrize("jump_days", [-5, 5])
def test_a_jump_either_way_ends_an_idle_staff_session(console, clock, jump_days):
    op = console.login("op1", OP_PIN)
    console.awaiting_count(op)
    clock.advance(jump_days * DAYS)
    with pytest.raises(SessionExpired):
        console.awaiting_count(op)
