"""``kiosk run --simulators --windowed`` starts the production wiring on the simulators: the
window comes up and the main loop runs (README: Command line). Needs the Xvfb display that
`make test` provides; without one this fails rather than skips."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading

import pytest

from tests.cli.conftest import ROOT

pytestmark = pytest.mark.ui
STARTED = "kiosk run: terminal KIOSK-RUN1 running"


def _lines(stream, out: queue.Queue) -> None:
    for line in stream:
        out.put(line.rstrip("\n"))
    out.put(None)  # the process closed its stdout: it ended


def test_run_on_simulators_in_a_window_starts(tmp_path):
    assert os.environ.get("DISPLAY"), "UI tests run under xvfb-run (make test)"
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f'[kiosk]\nid = "KIOSK-RUN1"\ndb = "{tmp_path / "k.db"}"\n'
                   f'state_dir = "{tmp_path / "dev"}"\n'
                   '[billing]\nurl = "http://127.0.0.1:9"\n')  # nothing listens: offline is fine
    env = {**os.environ, "KIVY_WINDOW": "sdl2", "KIVY_NO_ARGS": "1"}
    env.pop("KIOSK_CRASH_AT", None)
    with open(tmp_path / "stderr.log", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--simulators", "--windowed",
                                 "--config", str(cfg)], stdout=subprocess.PIPE, stderr=err,
                                text=True, env=env, cwd=ROOT)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
        seen = []
        try:
            while True:
                line = lines.get(timeout=60)  # a guard against a hang, not a measurement
                if line is None or line == STARTED:
                    break
                seen.append(line)
            assert line == STARTED, f"exited {proc.wait(10)} before starting; stdout {seen}; " \
                                    f"stderr {(tmp_path / 'stderr.log').read_text()[-2000:]}"
            assert proc.poll() is None  # still running its main loop
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert (tmp_path / "k.db").exists()  # the production wiring opened its journal
