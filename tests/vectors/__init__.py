"""The protocol test vectors (frames from the device manuals, with what each must decode to)."""

import json
from pathlib import Path

PATH = Path(__file__).with_name("protocols.json")


def load(protocol: str):
    """Vectors for one protocol; a missing file or key is a loud failure, never a skip."""
    return json.loads(PATH.read_text("utf-8"))[protocol]
