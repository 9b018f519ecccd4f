"""``kiosk run`` refuses simulated devices unless told ``--simulators`` (README: Command line),
and says so before it looks for a display or imports Kivy: no window can open."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.cli.conftest import ROOT

ALL_SIMS = "(bill_validator, coin_acceptor, card_reader, printer, scanner)"
NO_DISPLAY = ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")
# Runs `kiosk run` in a fresh interpreter and reports whether Kivy got imported on the way.
PROBE = ("import sys\nfrom kiosk.__main__ import main\nrc = main(sys.argv[1:])\n"
         "print('kivy imported' if any(m == 'kivy' or m.startswith('kivy.') for m in sys.modules)"
         " else 'kivy not imported')\nsys.exit(rc)\n")


def _env(display: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in NO_DISPLAY}
    if display is not None:
        env["DISPLAY"] = display  # a display that does not exist: touching it would fail or hang
    return env


def _run(*args: str, display: str | None, probe: bool = False) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", PROBE, "run", *args] if probe else \
        [sys.executable, "-m", "kiosk", "run", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=20, env=_env(display),
                          cwd=ROOT)


@pytest.mark.parametrize("display", [None, ":4242"])
def test_run_without_config_refuses_the_simulators_in_one_line(display):
    proc = _run(display=display)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert ALL_SIMS in lines[0] and "--simulators" in lines[0]


@pytest.mark.parametrize("display", [None, ":4242"])
def test_the_refusal_comes_before_kivy_is_imported(display):
    proc = _run(display=display, probe=True)
    assert proc.returncode == 2
    assert proc.stdout.strip() == "kivy not imported"
    assert "[Kivy" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_only_the_simulated_devices_are_named(tmp_path):
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text('[devices.bill_validator]\nurl = "/dev/ttyUSB0"\n'
                   '[devices.coin_acceptor]\nenabled = false\n'
                   '[devices.card_reader]\nurl = "/dev/ttyUSB1"\n')
    proc = _run("--config", str(cfg), display=None)
    assert proc.returncode == 2
    assert "simulated devices configured (printer, scanner);" in proc.stderr


def test_real_devices_pass_the_check_and_meet_the_display_check(tmp_path):
    cfg = tmp_path / "kiosk.toml"
    names = ("bill_validator", "coin_acceptor", "card_reader", "printer", "scanner")
    cfg.write_text("".join(f'[devices.{name}]\nurl = "/dev/ttyUSB{i}"\n'
                           for i, name in enumerate(names)))
    proc = _run("--config", str(cfg), display=None)
    assert proc.returncode == 2 and "no display" in proc.stderr and "simulated" not in proc.stderr


def test_simulators_allowed_then_the_display_is_checked():
    proc = _run("--simulators", display=None, probe=True)
    assert proc.returncode == 2 and "no display" in proc.stderr
    assert proc.stdout.strip() == "kivy not imported"


def test_a_bad_config_value_still_wins(tmp_path):
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text('[kiosk]\nid = "lower"\n')
    proc = _run("--config", str(cfg), display=None)
    assert proc.returncode == 2 and "kiosk.id" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
