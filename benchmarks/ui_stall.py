"""The longest Kivy-thread stall during a whole resident journey with a silent printer, and a
bare Kivy window's frames as the baseline (used by ``bench_ui``, inside its child processes).

A *frame* is what the Kivy thread does in one turn of its loop: one ``EventLoop.idle()`` plus
the touch dispatches the resident makes before it. Only that is timed. What the benchmark does
as the resident (a card on the reader, a note in the slot) and the pause to the next frame are
not: the resident is not the app, and the pause stands in for the display's refresh interval.

The printer stops answering DLE EOT (the simulator's ``mute``) right before the card tap, so
the journey meets it where a resident would: the readiness check on the amount screen, then
the receipt shown on screen instead of printed. The journey is the one
``tests/ui/test_ui_thread.py`` drives by touch: card → account → amount (consent to an
on-screen receipt) → two notes → finish → done → rating → attract.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

#: one frame per refresh of a 60 Hz touchscreen; the loop runs with max_fps 0, so this is paced
FRAME_INTERVAL_S = 1 / 60
BEFORE = ("the Kivy thread did the printer status exchange itself: 0.3–1.5 s frozen with a "
          "silent printer (measured before the deciding thread moved off the UI thread)")


class FrameTimer:
    """Steps and times frames on the calling (Kivy) thread; ``frames_ms`` holds every frame's
    wall time, ``labels`` what was on screen after each, ``drawn`` whether it was redrawn and
    ``swap_ms`` how much of it was the buffer swap. Handlers bound to ``on_flip`` run before
    the window's own ``on_flip``, which swaps, and the swap is the last thing ``idle()`` does
    (kivy/base.py), so from the handler to the end of the frame is the swap: where a software
    renderer (Mesa llvmpipe under Xvfb) rasterises everything the frame drew."""

    def __init__(self, where: Callable[[], str]) -> None:
        from kivy.core.window import Window

        self.where = where
        self.frames_ms: list[float] = []
        self.labels: list[str] = []
        self.drawn: list[bool] = []
        self.swap_ms: list[float] = []
        self._flips = 0
        self._flip_at = 0.0
        Window.fbind("on_flip", self._flipped)
        self._next = time.perf_counter()

    def _flipped(self, *_: Any) -> None:
        if self._flip_at == 0.0:
            self._flip_at = time.perf_counter()
        self._flips += 1

    def close(self) -> None:
        from kivy.core.window import Window

        Window.funbind("on_flip", self._flipped)

    def frame(self, dispatch: Callable[[], None] | None = None) -> None:
        from kivy.base import EventLoop

        pause = self._next - time.perf_counter()
        if pause > 0:
            time.sleep(pause)  # the display's refresh interval, outside the timed frame
        flips, self._flip_at = self._flips, 0.0
        t0 = time.perf_counter()
        if dispatch is not None:
            dispatch()
        EventLoop.idle()
        t1 = time.perf_counter()
        self._next = max(t1, self._next + FRAME_INTERVAL_S)
        self.frames_ms.append((t1 - t0) * 1000)
        self.labels.append(self.where())
        self.drawn.append(self._flips > flips)
        self.swap_ms.append((t1 - self._flip_at) * 1000 if self._flip_at else 0.0)

    def until(self, predicate: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            self.frame()
            got = predicate()
            if got:
                return got
            if time.monotonic() > deadline:
                raise TimeoutError(f"journey: {what} did not happen in {timeout:g} s "
                                   f"(screen {self.where()})")

    def tap(self, widget: Any) -> None:
        """A finger down in one frame and up in the next, through Kivy's dispatch path."""
        from kivy.tests.common import UnitTestTouch

        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        self.frame(touch.touch_down)
        self.frame(touch.touch_up)


def _button(screen: Any, intent: str) -> Any:
    for w in screen.walk(restrict=True):
        if (getattr(w, "intent", None) == intent and getattr(w, "shown", False)
                and not w.disabled and w.get_root_window() is not None):
            return w
    return None


def journey(app: Any, hub: Any) -> FrameTimer:
    """One whole payment by touch with a silent printer; returns the timed frames."""
    from billing_server.seed import DEMO_ACCOUNTS, DEMO_CARDS

    acc = DEMO_ACCOUNTS[0]
    card = next(uid for uid, no in DEMO_CARDS.items() if no == acc.account_no)
    manager = app.manager
    ft = FrameTimer(lambda: manager.current)

    def press(intent: str) -> None:
        ft.tap(ft.until(lambda: _button(manager.current_screen, intent), f"button {intent}"))

    def reach(name: str) -> None:
        ft.until(lambda: manager.current == name, f"screen {name}")

    reader, validator = hub.get("card-reader"), hub.get("bill-validator")
    hub.get("printer").command("mute")  # DLE EOT unanswered from here on
    reader.present(card)
    reach("account")
    reader.remove()
    press("continue")
    reach("amount")
    press("pay")
    ft.until(lambda: getattr(manager.current_screen, "mode", "") == "consent",
             "the on-screen receipt consent")
    press("pay")
    reach("insert")
    for note in (10_000, 5_000):
        before = app.session.credited_minor
        ft.until(lambda: validator.ready_for_note, "validator free")
        validator.insert_note(note)
        ft.until(lambda: app.session.credited_minor > before, f"note {note} credited")
    press("finish")
    reach("done")
    ft.until(lambda: app.session.printed is False and app.session.on_screen_receipt,
             "the receipt on screen")
    press("continue")
    reach("rating")
    press("rate5")
    reach("attract")
    ft.frame()  # attract drawn
    ft.close()
    return ft


def bare_frames(manager: Any, frames: int, tap_every: int = 30) -> FrameTimer:
    """A bare window's frames at the same pace: idle frames and a screen switch by touch every
    ``tap_every`` frames (the journey's frames are mostly idle, some redraw a new screen)."""
    ft = FrameTimer(lambda: manager.current)
    while len(ft.frames_ms) < frames:
        if len(ft.frames_ms) % tap_every == tap_every - 2:
            ft.tap(manager.current_screen.children[0])
        else:
            ft.frame()
    ft.close()
    return ft


def frames_of(ft: FrameTimer) -> dict[str, list[Any]]:
    """What a child process hands back to ``summary`` (as JSON)."""
    return {"frames_ms": ft.frames_ms, "labels": ft.labels, "drawn": ft.drawn,
            "swap_ms": ft.swap_ms}


def summary(runs: list[dict[str, list[Any]]]) -> dict[str, Any]:
    """Longest and p99 frame over every run's frames pooled, and where the longest ones were."""
    pooled = sorted((f for r in runs for f in zip(r["frames_ms"], r["swap_ms"], r["labels"])),
                    key=lambda f: f[0])
    values = [ms for ms, _, _ in pooled]
    before_swap = sorted(ms - swap for ms, swap, _ in pooled)
    return {
        "longest_frame_ms": round(values[-1], 2),
        "p99_frame_ms": round(percentile(values, 99), 2),
        "median_frame_ms": round(percentile(values, 50), 2),
        "frames": len(values),
        "frames_drawn": sum(sum(r["drawn"]) for r in runs),
        # the frame without the buffer swap: Python, layout and GL calls, not the rasteriser
        "longest_before_swap_ms": round(before_swap[-1], 2),
        "p99_before_swap_ms": round(percentile(before_swap, 99), 2),
        "longest_per_run_ms": [round(max(r["frames_ms"]), 2) for r in runs],
        "slowest_frames": [{"ms": round(ms, 2), "swap_ms": round(swap, 2), "screen_after": label}
                           for ms, swap, label in reversed(pooled[-5:])],
    }


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]
