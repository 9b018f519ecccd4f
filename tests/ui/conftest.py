"""The app under test: the real terminal (journal, drivers over ptys to the device simulators,
the reference billing server on loopback) behind the real Kivy app, driven by touches through
Kivy's dispatch path. Time on the Kivy clock can be moved forward to reach timeouts at once."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.billing_server.conftest import TEST_TOKEN
from tests.billing_server.conftest import billing_server  # noqa: F401

# Voice prompts play through SDL's dummy audio driver: real playback timing, no sound card
# (docs/voice.md). Set before Kivy opens the mixer.
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"


class FakeTime:
    """Kivy's clock reads this: real time plus whatever a test skipped. ``frozen()`` stops it,
    so a test that measures a duration on the Kivy clock (a hold of the staff corner, an idle
    countdown) sees only the time it skipped, however slowly a loaded machine runs the frames."""

    def __init__(self, real: Callable[[], float]) -> None:
        self.real, self.offset = real, 0.0
        self._stopped_at: float | None = None

    def __call__(self) -> float:
        now = self.real() if self._stopped_at is None else self._stopped_at
        return now + self.offset

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        self._stopped_at = self.real()
        try:
            yield
        finally:
            # the real time that passed while frozen never happened: the clock resumes from
            # where it stood, so it never jumps and never runs backwards
            self.offset -= self.real() - self._stopped_at
            self._stopped_at = None


@pytest.fixture(scope="session")
def window() -> Any:
    from kivy.base import EventLoop
    from kivy.clock import Clock

    EventLoop.ensure_window()
    fake = FakeTime(Clock.time)
    Clock.time = fake  # an instance attribute shadows the static method Kivy calls
    Clock._max_fps = 0
    yield EventLoop.window
    del Clock.time


class Kiosk:
    """A handle on the running app for tests: touches, waits, screenshots, moving time."""

    def __init__(self, app: Any, term: Any, server: Any, window: Any) -> None:
        from kivy.clock import Clock

        self.app, self.term, self.server, self.window = app, term, server, window
        self.hub = term.hub
        self.fake_time: FakeTime = Clock.time

    # ---- the books, read on this thread through its own connection (the terminal's belongs to
    # its deciding thread)
    @functools.cached_property
    def db(self) -> Any:
        from offline_queue.schema import connect

        return connect(self.term.config.kiosk.db)

    @property
    def journal(self) -> Any:
        from offline_queue.journal import Journal

        return Journal(self.db, self.term.config.kiosk.id)

    @property
    def outbox(self) -> Any:
        from offline_queue.outbox import Outbox

        return Outbox(self.db)

    @functools.cached_property
    def staff(self) -> Any:
        from kiosk.ui.staff.worker import make_console

        return make_console(self.term, self.db)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.conn.close()

    # ---- frames and waiting
    def frame(self, n: int = 1) -> None:
        from kivy.base import EventLoop

        for _ in range(n):
            EventLoop.idle()

    def pump(self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            self.frame()
            result = predicate()
            if result:
                self.frame()  # let the screen draw what the predicate saw
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or predicate}; screen "
                                     f"{self.screen}, phase {self.session.phase.value}, "
                                     f"message {self.session.message!r}")
            time.sleep(0.005)

    def wait_screen(self, name: str, timeout: float = 10.0) -> None:
        self.pump(lambda: self.screen == name, timeout, f"screen {name}")

    def skip(self, seconds: float) -> None:
        """Move the Kivy clock forward (timeouts); device threads keep real time."""
        self.fake_time.offset += seconds
        self.frame(3)

    @property
    def screen(self) -> str:
        return self.app.manager.current

    @property
    def session(self) -> Any:
        return self.app.session

    # ---- touching
    def current_screen(self) -> Any:
        return self.app.manager.current_screen

    def buttons(self) -> list[Any]:
        from kiosk.screens.common import KButton

        return [w for w in self.current_screen().walk(restrict=True)
                if isinstance(w, KButton) and w.shown and w.get_root_window() is not None]

    def button(self, intent: str = "", text: str = "") -> Any:
        found = [b for b in self.buttons() if (intent and b.intent == intent) or (text and b.text == text)]
        assert found, f"no button {intent or text!r} on {self.screen}: " + \
            ", ".join(f"{b.intent or b.text!r}" for b in self.buttons())
        return found[0]

    def tap(self, widget: Any) -> None:
        from kivy.tests.common import UnitTestTouch

        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        self.frame()
        touch.touch_up()
        self.frame()

    def press(self, intent: str = "", text: str = "") -> None:
        btn = self.button(intent, text)
        assert not btn.disabled, f"button {intent or text!r} on {self.screen} is disabled"
        self.tap(btn)

    def type_digits(self, digits: str) -> None:
        for ch in digits:
            self.press(text=ch)

    # ---- looking
    def snap(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.frame(2)
        target = SHOTS / f"{name}.png"
        made = Path(self.window.screenshot(name=str(SHOTS / f"{name}.png")))
        made.replace(target)
        return target

    def labels(self) -> list[Any]:
        from kivy.uix.label import Label

        return [w for w in self.current_screen().walk(restrict=True)
                if isinstance(w, Label) and w.text and w.opacity > 0]


def make_config(tmp_path: Path, url: str, **limits: Any) -> Any:
    from kiosk.config import Config

    cfg = Config()
    (tmp_path / "dev").mkdir(exist_ok=True)
    return dataclasses.replace(
        cfg,
        kiosk=dataclasses.replace(cfg.kiosk, db=str(tmp_path / "k.db"), state_dir=str(tmp_path / "dev")),
        billing=dataclasses.replace(cfg.billing, url=url, sync_interval_s=0.2, connect_timeout_s=0.5,
                                    read_timeout_s=2.0, enrol_token=TEST_TOKEN),
        limits=dataclasses.replace(cfg.limits, **limits),
        devices={k: dataclasses.replace(v, poll_interval_ms=20) for k, v in cfg.devices.items()},
    )


@pytest.fixture
def kiosk(window, tmp_path, billing_server) -> Iterator[Kiosk]:  # noqa: F811
    with running_kiosk(window, make_config(tmp_path, billing_server.url), billing_server) as k:
        yield k


@contextlib.contextmanager
def running_kiosk(window: Any, cfg: Any, billing_server: Any) -> Iterator[Kiosk]:  # noqa: F811
    """The app on the terminal ``cfg`` describes (the ``kiosk`` fixture's, or a variant)."""
    from drivers.transport import SimulatorHub
    from kiosk.app import KioskApp, make_terminal

    window.size = (1280, 800)
    term = make_terminal(cfg, SimulatorHub(cfg.kiosk.state_dir))
    term.start()
    app = KioskApp(term, lockdown=True)
    off_thread: list[str] = []
    refresh = app._refresh

    def refresh_on_ui_thread_only() -> None:
        # device and HTTP threads never touch widgets: every screen update is on this thread
        if threading.current_thread() is not threading.main_thread():
            off_thread.append(threading.current_thread().name)
        refresh()

    app._refresh = refresh_on_ui_thread_only
    try:
        app._run_prepare()  # what App.run() does before its loop
        k = Kiosk(app, term, billing_server, window)
        k.pump(lambda: app.view.ready and app.session.queue is not None, 5, "app ready")
        yield k
        k.close()
    finally:
        close_app(app, window)
    assert not off_thread, f"screen updated from other threads: {sorted(set(off_thread))}"


def close_app(app: Any, window: Any) -> None:
    from kivy.app import App

    app.dispatch("on_stop")  # also clears kv's cached `app` (kivy.lang.parser.ProxyApp)
    for child in list(window.children):
        window.remove_widget(child)
    # App._run_prepare bound its settings key (F1) to the window, which outlives every app
    window.unbind(on_keyboard=app._on_keyboard_settings)
    App._running_app = None
