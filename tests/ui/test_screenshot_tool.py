"""The screenshot tool (``make screenshots``): one size and one language here, quickly; the full
run is opt-in (README: Screenshots). The portrait screens it draws keep the rules every screen
keeps (``--strict``)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.cli.conftest import ROOT

pytestmark = pytest.mark.ui
STATES = ("attract", "account", "amount", "insert", "done-printed", "idle-warning")


def _tool(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "KIOSK_CRASH_AT"}
    return subprocess.run([sys.executable, "-m", "tests.ui.screenshots", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)


def test_one_portrait_size_in_english_every_file_named_and_a_contact_sheet(tmp_path):
    from PIL import Image

    out = _tool("--out", str(tmp_path), "--sizes", "1080x1920", "--langs", "en",
                "--text", "standard", "--only", ",".join(STATES), "--strict")
    assert out.returncode == 0, out.stderr[-3000:]
    for state in STATES:
        with Image.open(tmp_path / f"{state}-en-standard-1080x1920.png") as im:
            assert im.size == (1080, 1920)
            lo, hi = im.convert("L").getextrema()
            assert hi - lo > 100  # drawn, not blank
    with Image.open(tmp_path / "contact-1080x1920.png") as sheet:
        assert sheet.width < 2200 and sheet.height > 427  # one row of portrait thumbnails
    assert (tmp_path / "problems-1080x1920.txt").read_text() == ""
    # nothing else: Kivy's numbered names (name0001.png) were given the names asked for
    assert {p.name for p in tmp_path.glob("*.png")} == \
        {f"{s}-en-standard-1080x1920.png" for s in STATES} | {"contact-1080x1920.png"}


@pytest.mark.parametrize("bad", [["--sizes", "800x600"], ["--langs", "fr"], ["--text", "huge"]])
def test_bad_arguments_one_line_exit_2(bad):
    out = _tool(*bad)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_theme_arranges_for_portrait_from_the_window_size():
    from kiosk.ui.theme import Theme

    theme = Theme(dpi=96)
    theme.fit(1280, 800)
    assert not theme.portrait and theme.scale == 1.0 and theme.font_body == 30
    theme.fit(1920, 1080)
    assert not theme.portrait and theme.scale == 1.35
    theme.fit(1080, 1920)
    assert theme.portrait and theme.scale == 1.35 and theme.font_body == 40  # larger type
    theme.fit(800, 1280)
    assert theme.portrait and theme.scale == 1.0
