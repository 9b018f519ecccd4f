"""Touchscreen speed, as ratios to a bare Kivy window measured in the same run.

Cold start: from spawning the process to the first frame drawn — the kiosk app (terminal on the
device simulators, the reference billing server on loopback) showing Attract, against a bare
Kivy app showing one button. Touch → next screen drawn: "Enter account number" → Identify and
"Back" → Attract, against a button that switches between two bare screens. Each side runs in its
own process (one window per process), ``--runs`` times; medians are reported.

Stall: the longest wall time of one Kivy frame during a whole resident journey with a silent
printer (``benchmarks.ui_stall``), against a bare window's frames at the same pace
(``--bare-frames`` per run); longest and p99 over every run's frames.

Escrow event → acknowledgement drawn: on the insert screen, from the deciding thread receiving a
note's escrow event to the first frame showing it, against a text handed from another thread to
a bare window's Kivy thread (``benchmarks.ui_escrow``; target ≤ 100 ms); ``--escrows`` notes per
run.

``python -m benchmarks.bench_ui [--runs N] [--touches N] [--bare-frames N] [--escrows N]`` prints
the JSON;
without a display it runs itself under ``xvfb-run`` (or SDL's offscreen driver when that is
missing).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import ui_escrow, ui_stall

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
MARK = "@@UI-CHILD@@ "
KIVY_ENV = {
    "KIVY_NO_ARGS": "1", "KIVY_WINDOW": "sdl2", "KIVY_NO_FILELOG": "1", "KIVY_NO_CONSOLELOG": "1",
    "KIVY_METRICS_DENSITY": "1", "KCFG_GRAPHICS_MAXFPS": "0",
    "KCFG_GRAPHICS_WIDTH": "1280", "KCFG_GRAPHICS_HEIGHT": "800",
}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_ui", description=__doc__)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--touches", type=int, default=10)
    p.add_argument("--bare-frames", type=int, default=600,
                   help="bare-window frames timed per run as the stall baseline (default 600)")
    p.add_argument("--escrows", type=int, default=6,
                   help="notes inserted per run, each timed escrow event → drawn (default 6)")
    p.add_argument("--child", choices=("bare", "ours"), help=argparse.SUPPRESS)
    p.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.runs < 1 or args.touches < 1 or args.escrows < 1 or args.bare_frames < 2:
        p.error("--runs, --touches and --escrows must be at least 1, --bare-frames at least 2")
    if args.child:
        return _child(args.child, args.touches, args.bare_frames, args.escrows)
    if not (os.environ.get("DISPLAY") or os.environ.get("SDL_VIDEODRIVER")) and not args.inner:
        return _under_a_display(args)
    return run(args.runs, args.touches, args.bare_frames, args.escrows)


def _under_a_display(args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.bench_ui", "--inner", "--runs", str(args.runs),
           "--touches", str(args.touches), "--bare-frames", str(args.bare_frames),
           "--escrows", str(args.escrows)]
    env = dict(os.environ)
    if shutil.which("xvfb-run"):
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24"] + cmd
    else:
        env["SDL_VIDEODRIVER"] = "offscreen"
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"UI benchmark produced no result (exit {out.returncode}): "
                       f"{out.stderr[-2000:]}")


def run(runs: int, touches: int, bare_frames: int = 600, escrows: int = 6) -> dict[str, Any]:
    results: dict[str, list[dict[str, Any]]] = {"bare": [], "ours": []}
    for _ in range(runs):
        for mode in ("bare", "ours"):  # interleaved: drift on a busy machine hits both sides
            results[mode].append(_spawn(mode, touches, bare_frames, escrows))
    cold = {m: statistics.median(r["cold_start_s"] for r in results[m]) for m in results}
    touch = {m: statistics.median(t for r in results[m] for t in r["touch_ms"]) for m in results}
    result = {
        "benchmark": "ui",
        "runs": runs,
        "touches_per_run": touches,
        "cold_start_s": {m: round(v, 3) for m, v in cold.items()},
        "ratio_cold_start": round(cold["ours"] / cold["bare"], 3),
        "touch_to_draw_ms": {m: round(v, 2) for m, v in touch.items()},
        "ratio_touch_to_draw": round(touch["ours"] / touch["bare"], 3),
        "ours_terminal_ready_s": round(statistics.median(r["ready_s"] for r in results["ours"]), 3),
    }
    ack = {m: [a for r in results[m] for a in r["escrow_ms"]] for m in results}
    result.update({
        "escrow_to_ack_drawn_ms": {m: round(statistics.median(v), 2) for m, v in ack.items()},
        "escrow_to_ack_drawn_longest_ms": {m: round(max(v), 2) for m, v in ack.items()},
        "ratio_escrow_to_ack": round(statistics.median(ack["ours"])
                                     / statistics.median(ack["bare"]), 3),
        "escrow_ack_target_ms": ui_escrow.TARGET_MS,
        "escrows_per_run": escrows,
    })
    stall = {m: ui_stall.summary([r["stall"] for r in results[m]]) for m in results}
    result.update({
        "stall_journey": "card → account → amount → consent → 2 notes → finish → done (receipt "
                         "on screen) → rating → attract, printer not answering DLE EOT",
        "stall_frame_ms": stall,
        "ratio_longest_stall": round(stall["ours"]["longest_frame_ms"]
                                     / stall["bare"]["longest_frame_ms"], 3),
        "ratio_p99_stall": round(stall["ours"]["p99_frame_ms"]
                                 / stall["bare"]["p99_frame_ms"], 3),
        "stall_target_ms": 50,
        "stall_before": f"before: {ui_stall.BEFORE}",
    })
    return result


def _spawn(mode: str, touches: int, bare_frames: int, escrows: int) -> dict[str, Any]:
    env = dict(os.environ, **KIVY_ENV, KIVY_HOME=tempfile.mkdtemp(prefix="kivy-bench-"))
    started = time.monotonic()  # CLOCK_MONOTONIC is system-wide: the child's clock agrees
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_ui", "--child", mode,
                          "--touches", str(touches), "--bare-frames", str(bare_frames),
                          "--escrows", str(escrows)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    shutil.rmtree(env["KIVY_HOME"], ignore_errors=True)
    for line in out.stdout.splitlines():
        if line.startswith(MARK):
            data = json.loads(line[len(MARK):])
            data["cold_start_s"] = data.pop("first_frame_at") - started
            return data
    raise RuntimeError(f"{mode} child failed (exit {out.returncode}): {out.stderr[-2000:]}")


# ---------------------------------------------------------------- inside a child process
def _child(mode: str, touches: int, bare_frames: int, escrows: int) -> dict[str, Any]:
    from kivy.base import EventLoop
    from kivy.core.window import Window

    flips = [0]
    Window.bind(on_flip=lambda *_: flips.__setitem__(0, flips[0] + 1))
    app, cleanup, hub = (_bare_app if mode == "bare" else _kiosk_app)()
    app._run_prepare()
    manager = app.root if mode == "bare" else app.manager
    first = _frame_until(lambda: manager.current == "a" if mode == "bare" else
                         manager.current == "attract", flips)
    ready_s = 0.0
    if mode == "ours":
        t0 = time.monotonic()
        _frame_until(lambda: app.view.ready, flips, timeout=30)
        ready_s = time.monotonic() - t0
    lat = []
    for i in range(touches):
        if mode == "bare":
            target, button = ("b", manager.current_screen.children[0]) if i % 2 == 0 else \
                ("a", manager.current_screen.children[0])
        else:
            intent, target = ("enter_account", "identify") if i % 2 == 0 else ("back", "attract")
            button = _find(manager.current_screen, intent)
        lat.append(_touch_to_draw(button, lambda t=target: manager.current == t, flips))
    def until(predicate: Any) -> float:
        return _frame_until(predicate, flips)

    if mode == "bare":
        stall = ui_stall.bare_frames(manager, bare_frames)
        acks = ui_escrow.bare_ack(manager.current_screen.children[0], escrows, until)
    else:
        if manager.current != "attract":
            _touch_to_draw(_find(manager.current_screen, "back"),
                           lambda: manager.current == "attract", flips)
        stall = ui_stall.journey(app, hub)
        acks = ui_escrow.escrow_ack(app, hub, escrows, until, _tap)
    data = {"first_frame_at": first, "ready_s": ready_s, "touch_ms": lat,
            "stall": ui_stall.frames_of(stall), "escrow_ms": acks}
    sys.stdout.write(MARK + json.dumps(data) + "\n")
    sys.stdout.flush()
    cleanup()
    os._exit(0)


def _frame_until(predicate: Any, flips: list[int], timeout: float = 30.0) -> float:
    """Step frames until a frame is drawn with ``predicate`` holding: the time it was drawn.
    (A frame dispatches input and clock callbacks first and draws last.)"""
    from kivy.base import EventLoop

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = flips[0]
        EventLoop.idle()
        if predicate():
            if flips[0] > before:
                return time.monotonic()
            EventLoop.window.canvas.ask_update()  # reached, but nothing changed to draw yet
    raise TimeoutError("the screen was not drawn in time")


def _touch_to_draw(button: Any, arrived: Any, flips: list[int]) -> float:
    from kivy.base import EventLoop
    from kivy.tests.common import UnitTestTouch

    x, y = button.to_window(*button.center)
    touch = UnitTestTouch(x, y)
    t0 = time.monotonic()
    touch.touch_down()
    EventLoop.idle()
    touch.touch_up()
    return (_frame_until(arrived, flips) - t0) * 1000


def _tap(button: Any) -> None:
    from kivy.base import EventLoop
    from kivy.tests.common import UnitTestTouch

    touch = UnitTestTouch(*button.to_window(*button.center))
    touch.touch_down()
    EventLoop.idle()
    touch.touch_up()


def _find(screen: Any, intent: str) -> Any:
    for w in screen.walk(restrict=True):
        if getattr(w, "intent", None) == intent and getattr(w, "shown", False):
            return w
    raise LookupError(intent)


def _bare_app() -> tuple[Any, Any, Any]:
    from kivy.app import App
    from kivy.uix.button import Button
    from kivy.uix.screenmanager import NoTransition, Screen, ScreenManager

    class Bare(App):
        def build(self) -> Any:
            sm = ScreenManager(transition=NoTransition())
            for name, other in (("a", "b"), ("b", "a")):
                screen = Screen(name=name)
                btn = Button(text=f"screen {name}", font_size=32)
                btn.bind(on_release=lambda _b, o=other: setattr(sm, "current", o))
                screen.add_widget(btn)
                sm.add_widget(screen)
            return sm

    return Bare(), lambda: None, None


def _kiosk_app() -> tuple[Any, Any, Any]:
    import dataclasses

    from drivers.transport import SimulatorHub
    from kiosk.app import KioskApp, make_terminal
    from kiosk.config import Config
    from billing_server.server import BillingServer

    tmp = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    (tmp / "dev").mkdir()
    server = BillingServer("127.0.0.1", 0, tmp / "billing.db").start()
    cfg = Config()
    cfg = dataclasses.replace(
        cfg, kiosk=dataclasses.replace(cfg.kiosk, db=str(tmp / "k.db"), state_dir=str(tmp / "dev")),
        billing=dataclasses.replace(cfg.billing, url=server.url, enrol_token=server.enrol_token))
    hub = SimulatorHub(str(tmp / "dev"))
    app = KioskApp(make_terminal(cfg, hub))

    def cleanup() -> None:
        app.close_services()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    return app, cleanup, hub


if __name__ == "__main__":
    print(json.dumps(main()))
