"""Shared test set-up. Kivy's environment is fixed before anything can import it: Kivy reads it once, at its first import."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_WINDOW", "sdl2")
os.environ.setdefault("KIVY_NO_FILELOG", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="kivy-home-"))
os.environ.setdefault("KIVY_METRICS_DENSITY", "1")
os.environ.setdefault("KCFG_GRAPHICS_MAXFPS", "0")

import time  # noqa: E402 - after the environment above, like everything else here
from collections.abc import Callable  # noqa: E402
from typing import TypeVar  # noqa: E402

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 30.0, what: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy and return that.  Tests order on
    events through this, never on fixed sleeps; ``timeout`` only bounds a hang, so it is generous
    (a loaded CI machine may take seconds for what takes milliseconds here) and its expiry is an
    AssertionError naming what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or predicate}")
        time.sleep(0.005)  # polling interval, not an ordering assumption
