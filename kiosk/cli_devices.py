"""``kiosk devices`` and ``kiosk sim``: device health and bench simulators (issue 3)."""

from __future__ import annotations

import argparse
from typing import Any, Callable


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None], config: Callable[..., Any]) -> None:
    """Add the device commands to the ``kiosk`` parser."""
