"""``[staff] idle_timeout_s`` in the TOML: checked like every key, and the staff console (the
screens and the command line use it) ends a session after it."""

from __future__ import annotations

import pytest

from kiosk.config import ConfigError, config_from_dict
from kiosk.staff.console import StaffConsole
from offline_queue.journal import Journal
from offline_queue.schema import connect
from tests.staff.conftest import CHEAP


def test_idle_timeout_is_read_and_checked():
    assert config_from_dict({}).staff.idle_timeout_s == 120.0
    assert config_from_dict({"staff": {"idle_timeout_s": 300}}).staff.idle_timeout_s == 300.0
    for bad in (5, "x", 100000):
        with pytest.raises(ConfigError, match="staff.idle_timeout_s"):
            config_from_dict({"staff": {"idle_timeout_s": bad}})
    with pytest.raises(ConfigError, match="staff.idle"):
        config_from_dict({"staff": {"idle": 30}})


def test_a_session_ends_after_the_configured_idle_time(tmp_path):
    cfg = config_from_dict({"staff": {"idle_timeout_s": 60}})
    now = [1000.0]
    db = connect(tmp_path / "k.db")
    console = StaffConsole(db, cfg, Journal(db, cfg.kiosk.id), clock=lambda: now[0], params=CHEAP,
                           idle_timeout_s=cfg.staff.idle_timeout_s)
    console.auth.add_user("op1", "operator", "730164", "test")
    session = console.login("op1", "730164")
    now[0] += 59
    assert console.alive(session)
    now[0] += 61
    assert not console.alive(session)
