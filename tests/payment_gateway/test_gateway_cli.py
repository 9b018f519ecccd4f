"""``kiosk payment-gateway``: serving, and ``settlement`` straight from the store as JSON; bad
input is one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest

from tests.cli.conftest import ROOT
from tests.payment_gateway.conftest import CODE, MERCHANT


def gateway_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk", "payment-gateway", *args],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_settlement_prints_count_and_total(payment_gateway, gateway_client):
    gateway_client.charge("S1.C1", 1_000, CODE)
    gateway_client.charge("S2.C1", 2_500, CODE)
    gateway_client.reverse("S2.C1", 2_500)
    out = gateway_cli("settlement", "--db", str(payment_gateway.db_path), "--merchant", MERCHANT,
                      "--date", date.today().isoformat())
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert (body["count"], body["total_minor"]) == (1, 1_000)


@pytest.mark.parametrize("args, names", [
    (["settlement", "--db", "nowhere.db", "--merchant", MERCHANT, "--date", "2026-01-01"], "--db"),
    (["settlement", "--db", "x.db", "--merchant", "bad id", "--date", "2026-01-01"], "--merchant"),
    (["settlement", "--db", "x.db", "--merchant", MERCHANT, "--date", "yesterday"], "--date"),
    (["--fault", "explode"], "--fault"),
    (["--port", "70000"], "--port"),
])
def test_bad_input_is_one_line_and_exit_2(args, names):
    out = gateway_cli(*args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and names in lines[0], out.stderr
