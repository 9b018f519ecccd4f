"""The demo's knobs on the simulated world (no display needed) and ``kiosk run`` without one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests

from drivers.transport import SimulatorHub
from kiosk.demo.controls import ACTIONS, DemoControls, help_text
from tests.billing_server.conftest import billing_server  # noqa: F401
from tests.billing_server.conftest import signed_session


@pytest.fixture
def controls(tmp_path, billing_server):  # noqa: F811
    hub = SimulatorHub(str(tmp_path))
    yield DemoControls(hub, billing_server)
    hub.stop()


def test_every_action_has_a_distinct_hotkey_and_appears_in_the_help():
    keys = [key for key, _label in ACTIONS.values()]
    assert len(keys) == len(set(keys))
    assert all(f"  {key}  " in help_text() for key in keys)


def test_knobs_reach_the_simulators(controls):
    heard = []
    controls.listeners.append(heard.append)
    assert "tapped" in controls.do("card")
    assert controls.hub.get("card-reader").card is not None
    # no host has reset the validator here: the knob reports why, it does not raise
    assert "power-up" in controls.do("note_1000")
    assert "10 fen" in controls.do("coin_10")
    assert controls.do("jam").startswith("ok")
    assert "acceptor_jam" in controls.hub.get("bill-validator").state["faults"]
    assert controls.do("clear").startswith("ok")
    assert controls.do("paper_out") == "paper out"
    assert controls.hotkey("o") and controls.last == "paper ok"
    assert not controls.hotkey("?")
    assert "unknown action" in controls.do("explode")  # reported, never raised
    assert controls.do("scan_bill").startswith("code DF") and controls.do("scan_other")
    assert controls.hub.get("scanner").codes_sent == 2
    assert len(heard) == 10


def test_network_knob_cuts_and_restores_the_billing_server(controls):
    url = controls.server.url
    assert "cut" in controls.do("network")
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/v1/notices", timeout=2)
    assert "back" in controls.do("network")
    assert signed_session().get(url + "/v1/notices", timeout=5).status_code == 200


def test_kiosk_run_without_a_display_says_so_in_one_line():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    out = subprocess.run([sys.executable, "-m", "kiosk", "run", "--simulators"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "no display" in out.stderr
