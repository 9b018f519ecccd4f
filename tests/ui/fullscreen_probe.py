"""Run inside its own X server: start ``kiosk run`` fullscreen, read the whole screen until the
terminal covers it (or a guard runs out), print what it saw as one JSON line.

``python -m tests.ui.fullscreen_probe CONFIG SHOT.png`` (tests/ui/test_fullscreen.py runs it under
``xvfb-run`` at each screen size)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.ui.xroot import covered, grab_root

ROOT = Path(__file__).resolve().parents[2]
GUARD_S = 60  # against a hang, not a measurement
FULL = 0.99  # of the screen's pixels changed from the bare server's


def _lines(stream, out: queue.Queue) -> None:
    for line in stream:
        out.put(line.rstrip("\n"))
    out.put(None)


def main(config: str, shot: str) -> dict:
    before = grab_root()
    env = {**os.environ, "KIVY_WINDOW": "sdl2", "KIVY_NO_ARGS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--simulators", "--config",
                             config], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env, cwd=ROOT)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    result = {"screen": [before.width, before.height], "started": False}
    try:
        deadline = time.monotonic() + GUARD_S
        while time.monotonic() < deadline:
            line = lines.get(timeout=GUARD_S)
            if line is None:
                break
            if "running" in line:
                result["started"] = True
                break
        while result["started"] and time.monotonic() < deadline:
            after = grab_root()
            fraction, box = covered(before, after)
            result.update(fraction=round(fraction, 4), box=list(box) if box else None)
            if fraction >= FULL:
                break
            # the next frame is the app's to draw: look again at its next log line, or soon
            # after, and stop at once if it has gone
            try:
                if lines.get(timeout=0.2) is None:
                    break
            except queue.Empty:
                pass
        if result["started"]:
            after.save(shot)
    finally:
        proc.kill()  # nothing to keep: its journal is in the test's temporary folder
        proc.wait()
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])), flush=True)
