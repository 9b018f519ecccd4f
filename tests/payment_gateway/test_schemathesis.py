"""Schemathesis (4.x ``st run`` in a subprocess) against the reference payment gateway on
loopback, signed as an enrolled kiosk (tests/payment_gateway/schemathesis_hooks.py). Examples,
coverage, fuzzing and stateful phases, fixed seed, one worker; checks: no 5xx and every answer
as docs/payment-gateway.yaml documents it. ``SCHEMATHESIS_MAX_EXAMPLES`` (default 20) sets the
examples per operation."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.billing_server.test_schemathesis import CHECKS, SEED

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "docs" / "payment-gateway.yaml"


@pytest.mark.slow  # about 40 s
def test_schemathesis_finds_nothing_against_the_reference_gateway(payment_gateway, tmp_path):
    max_examples = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "20"))
    har = tmp_path / "run.har"
    cmd = [sys.executable, "-m", "schemathesis.cli", "run", str(SPEC), "--url", payment_gateway.url,
           "--checks", ",".join(CHECKS), "--phases", "examples,coverage,fuzzing,stateful",
           "--max-examples", str(max_examples), "--seed", str(SEED),
           "--generation-deterministic", "--workers", "1", "--request-timeout", "10",
           "--no-color", "--report", "har", "--report-har-path", str(har)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1",
           "SCHEMATHESIS_HOOKS": "tests.payment_gateway.schemathesis_hooks"}
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-20_000:]
    for phase in ("Coverage", "Fuzzing"):
        assert re.search(rf"✅ {phase}\b", out), f"{phase} phase did not pass:\n{out[-5_000:]}"
    entries = json.loads(har.read_text("utf-8"))["log"]["entries"]
    answered = {(e["request"]["method"], e["request"]["url"].split("?")[0].split("/", 3)[3],
                 e["response"]["status"]) for e in entries}
    # signed requests got past the signature check: charges were taken and settled days read
    assert any(m == "POST" and p == "v1/charges" and s == 200 for m, p, s in answered)
    assert any(p == "v1/settlements" and s == 200 for _, p, s in answered)
