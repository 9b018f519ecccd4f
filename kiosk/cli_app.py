"""``kiosk run`` and the touchscreen demo (issue #4)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None], config: Callable[..., Any]) -> None:
    """Add ``kiosk run`` to the ``kiosk`` parser (not yet: the touchscreen lands with issue #4)."""


def run_demo_app(args: argparse.Namespace) -> int:
    """The full touchscreen demo; until it lands, the headless one."""
    from kiosk.demo.headless import run_demo

    print("the touchscreen is not built yet: running headless", file=sys.stderr)
    return run_demo(args)
