"""Screenshots of every resident screen × zh_CN/en × standard/large text × every supported screen
size, and one contact sheet per size a reviewer reads at a glance (README: Screenshots).

``python -m tests.ui.screenshots [--out artifacts/screenshots] [--sizes 1280x800,1920x1080,1080x1920]
[--langs zh_CN,en] [--text standard,large] [--only NAME,...]`` (``make screenshots``). The screens
are the states of tests/ui/test_screens.py and tests/ui/more_states.py, shown on the real app over the real terminal (device
simulators, the reference billing server on loopback). Without ``--inner`` it runs itself under an
X server of its own, large enough for portrait 1080×1920.

Files: ``<state>-<zh|en>-<standard|large>-<W>x<H>.png``, ``contact-<W>x<H>.png`` and
``problems-<W>x<H>.txt``: what the rules every screen keeps (tests/ui/screen_checks.py: text
overflowing its box, overlaps, small text or targets, misplaced actions) found at that size.
``--strict`` exits 1 when any was found.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SIZES = ((1280, 800), (1920, 1080), (1080, 1920))
LANGS = ("zh_CN", "en")
TEXTS = ("standard", "large")
SCREEN = "-screen 0 1920x1920x24"  # holds every size, portrait too
PER_ROW = 8  # thumbnails in a contact sheet's row: two states' four variants


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size like 1280x800: {text!r}") from None
    if (w, h) not in SIZES:
        raise argparse.ArgumentTypeError(f"{text}: not one of the supported sizes "
                                         + ", ".join(f"{a}x{b}" for a, b in SIZES))
    return w, h


def _list(allowed: tuple[str, ...]) -> Any:
    def parse(text: str) -> list[str]:
        items = [v for v in text.split(",") if v]
        bad = [v for v in items if v not in allowed]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(allowed)}")
        return items
    return parse


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message}\n")  # one line, not the usage


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m tests.ui.screenshots", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=ROOT / "artifacts" / "screenshots")
    p.add_argument("--sizes", type=lambda t: [_size(v) for v in t.split(",") if v],
                   default=list(SIZES))
    p.add_argument("--langs", type=_list(LANGS), default=list(LANGS))
    p.add_argument("--text", type=_list(TEXTS), default=list(TEXTS))
    p.add_argument("--only", type=lambda t: [v for v in t.split(",") if v], default=None,
                   help="state names of tests/ui/test_screens.py or more_states.py (default: all)")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when a screen breaks a rule at any size (problems-<size>.txt)")
    p.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # argparse said why on stderr in one line
        return 2 if exc.code else 0
    if not args.inner:
        return _under_own_display(argv or [])
    made, problems = render(args.out, args.sizes, args.langs, args.text, args.only)
    for path in made:
        print(path)
    for problem in problems:
        print("problem:", problem, file=sys.stderr)
    return 1 if problems and args.strict else 0


def _under_own_display(argv: list[str]) -> int:
    if not shutil.which("xvfb-run"):
        print("screenshots: xvfb-run is needed (make sysdeps)", file=sys.stderr)
        return 2
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "XAUTHORITY")}
    env.update(KIVY_WINDOW="sdl2", KIVY_NO_ARGS="1", KIVY_NO_FILELOG="1",
               KIVY_METRICS_DENSITY="1", KIVY_HOME=tempfile.mkdtemp(prefix="kivy-shots-"))
    try:
        return subprocess.run(["xvfb-run", "-a", "-s", SCREEN, sys.executable, "-m",
                               "tests.ui.screenshots", "--inner", *argv], cwd=ROOT, env=env).returncode
    finally:
        shutil.rmtree(env["KIVY_HOME"], ignore_errors=True)


def render(out: Path, sizes: list[tuple[int, int]], langs: list[str], texts: list[str],
           only: list[str] | None = None) -> tuple[list[Path], list[str]]:
    """Every state in every variant at every size, then a contact sheet per size; the shots
    made and the problems found."""
    from kivy.base import EventLoop

    from billing_server.server import BillingServer
    from drivers.transport import SimulatorHub
    from kiosk.app import KioskApp, make_terminal
    from tests.billing_server.conftest import TEST_TOKEN
    from tests.ui.conftest import Kiosk, close_app, make_config
    from tests.ui.more_states import more_states
    from tests.ui.test_screens import states
    from tests.ui import screen_checks as checks

    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="shots-"))
    server = BillingServer("127.0.0.1", 0, tmp / "billing.db", enrol_token=TEST_TOKEN).start()
    EventLoop.ensure_window()
    window = EventLoop.window
    made: list[Path] = []
    problems: list[str] = []
    app = None
    try:
        term = make_terminal(make_config(tmp, server.url), SimulatorHub(str(tmp / "dev")))
        term.start()
        app = KioskApp(term, lockdown=True)
        app._run_prepare()
        kiosk = Kiosk(app, term, server, window)
        kiosk.pump(lambda: app.view.ready, 30, "app ready")
        limits = app.kiosk_config.limits
        chosen = [s for s in states(limits) + more_states(limits) if not only or s[0] in only]
        for size in sizes:
            window.size = size
            kiosk.frame(3)
            shots, found = [], []
            for name, _expected, session, ui, setup in chosen:
                for lang in langs:
                    for text in texts:
                        app.tr.switch(lang)
                        app.theme.accessible = text == "large"
                        app.preview(session, **ui)
                        if setup:
                            setup(kiosk)
                        kiosk.frame(3)
                        path = out / f"{name}-{lang[:2]}-{text}-{size[0]}x{size[1]}.png"
                        # Kivy numbers the file it writes (name0001.png): give it the name asked for
                        Path(window.screenshot(name=str(path))).replace(path)
                        shots.append(path)
                        screen = app.manager.current_screen
                        found += [f"{path.stem}: {p}" for p in _check(checks, screen, window, app)]
                        app.manager.current_screen.reset()
            made += shots
            made.append(contact_sheet(shots, out / f"contact-{size[0]}x{size[1]}.png", size))
            (out / f"problems-{size[0]}x{size[1]}.txt").write_text("".join(p + "\n" for p in found))
            problems += found
        app.preview(None)
        app.tr.switch("zh_CN")
        app.theme.accessible = False
        kiosk.close()
    finally:
        if app is not None:
            close_app(app, window)
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return made, problems


def _check(checks: Any, screen: Any, window: Any, app: Any) -> list[str]:
    floor = 40 if app.theme.accessible else 28
    return (checks.overlaps(screen, window) + checks.too_small_text(screen, floor)
            + checks.small_targets(screen, app.theme.dpi / 25.4 * 15)
            + checks.misplaced_actions(screen, window, app.theme))


def contact_sheet(shots: list[Path], target: Path, size: tuple[int, int]) -> Path:
    """The shots in rows of ``PER_ROW``, each under its name, on one image about 2900 px wide."""
    from PIL import Image, ImageDraw, ImageFont

    from kiosk.ui.platform import find_cjk_font

    thumb_w = 360 if size[0] > size[1] else 240
    thumb_h = round(thumb_w * size[1] / size[0])
    label_h, gap = 28, 12
    rows = math.ceil(len(shots) / PER_ROW)
    sheet = Image.new("RGB", (PER_ROW * (thumb_w + gap) + gap,
                              rows * (thumb_h + label_h + gap) + gap + 40), "#D0D4DA")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.truetype(find_cjk_font(), 18)
    draw.text((gap, 8), f"{size[0]}×{size[1]}: {len(shots)} screens", fill="#000000",
              font=ImageFont.truetype(find_cjk_font(), 24))
    for i, path in enumerate(shots):
        x = gap + (i % PER_ROW) * (thumb_w + gap)
        y = 40 + gap + (i // PER_ROW) * (thumb_h + label_h + gap)
        with Image.open(path) as im:
            sheet.paste(im.convert("RGB").resize((thumb_w, thumb_h), Image.LANCZOS),
                        (x, y + label_h))
        label = path.stem.removesuffix(f"-{size[0]}x{size[1]}")
        draw.text((x, y + 4), label, fill="#000000", font=font)
    sheet.save(target)
    return target


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
