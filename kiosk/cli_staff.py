"""Staff commands: ``kiosk staff``, ``kiosk audit``, ``kiosk diag``, ``kiosk report`` (issue #5)."""

from __future__ import annotations

import argparse
from typing import Any, Callable


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None], config: Callable[..., Any]) -> None:
    """Add the staff commands to the ``kiosk`` parser."""
