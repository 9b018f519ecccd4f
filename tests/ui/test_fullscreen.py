"""``kiosk run`` fullscreen fills the whole screen on a bare X server (no window manager, as on a
terminal), landscape and portrait: read from the X server's own screen, not from the window's idea
of its size. Each size gets an X server of its own, so this runs under make test's 1280×800 one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.cli.conftest import ROOT
from tests.ui.fullscreen_probe import FULL

pytestmark = pytest.mark.ui
SHOTS = ROOT / "artifacts" / "screenshots"


@pytest.mark.parametrize("size", [(1280, 800), (1080, 1920)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_kiosk_run_fullscreen_covers_the_screen(tmp_path, size):
    assert shutil.which("xvfb-run"), "xvfb-run is needed (make sysdeps)"
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f'[kiosk]\nid = "KIOSK-FULL1"\ndb = "{tmp_path / "k.db"}"\n'
                   f'state_dir = "{tmp_path / "dev"}"\n'
                   '[billing]\nurl = "http://127.0.0.1:9"\n')  # nothing listens: offline is fine
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"fullscreen-{size[0]}x{size[1]}.png"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "XAUTHORITY")}
    env.pop("KIOSK_CRASH_AT", None)
    out = subprocess.run(["xvfb-run", "-a", "-s", f"-screen 0 {size[0]}x{size[1]}x24",
                          sys.executable, "-m", "tests.ui.fullscreen_probe", str(cfg), str(shot)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    assert lines, f"the probe said nothing (exit {out.returncode}): {out.stderr[-2000:]}"
    seen = json.loads(lines[-1])
    assert seen["screen"] == list(size)
    assert seen["started"], "kiosk run did not start"
    assert seen["box"] == [0, 0, size[0], size[1]], f"drawn only in {seen['box']} (see {shot})"
    assert seen["fraction"] >= FULL, f"{seen['fraction']:.0%} of the screen drawn (see {shot})"
