"""Schemathesis (4.x, its `st run` CLI in a subprocess) against the reference billing server on
loopback, every request signed as an enrolled kiosk (tests/billing_server/schemathesis_hooks.py).

All four phases run (examples, coverage, fuzzing and the stateful phase, which follows the
document's links from a booked payment to its settlement and its replay), with a fixed seed,
derandomized, on one worker. The checks: no 5xx, and every answer as docs/billing-api.yaml
documents it (status code, content type, headers, body schema, 405 with Allow for undocumented
methods). Admin endpoints (tag x-admin) are test controls, not the contract: they are left out.

``SCHEMATHESIS_MAX_EXAMPLES`` (default 30) sets the examples per operation and the number of
stateful scenarios; README.md says how to run it longer.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.billing_server.openapi_check import SPEC_PATH, load_spec

REPO = Path(__file__).resolve().parents[2]
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance", "unsupported_method",
          "allow_header_conformance")
SEED = 20261201


def st_command(url: str, max_examples: int, har: Path) -> list[str]:
    return [sys.executable, "-m", "schemathesis.cli", "run", str(SPEC_PATH), "--url", url,
            "--checks", ",".join(CHECKS), "--exclude-tag", "x-admin",
            "--phases", "examples,coverage,fuzzing,stateful",
            "--max-examples", str(max_examples), "--seed", str(SEED),
            "--generation-deterministic", "--workers", "1", "--request-timeout", "10",
            "--no-color", "--report", "har", "--report-har-path", str(har)]


def signed_operations() -> set[tuple[str, str]]:
    """(method, path template) of every operation the document has kiosks sign."""
    return {(m.upper(), path) for path, item in load_spec()["paths"].items()
            for m, op in item.items() if m in ("get", "post") and op.get("security") != []}


def _template(url: str) -> str:
    """The document's path template a request URL was made from."""
    path = "/" + url.split("?")[0].split("/", 3)[3]
    for template in load_spec()["paths"]:
        if re.fullmatch(re.sub(r"\\{[a-z_]+\\}", "[^/]+", re.escape(template)), path):
            return template
    return path


def test_schemathesis_finds_nothing_against_the_reference_server(billing_server, tmp_path):
    max_examples = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "30"))
    har = tmp_path / "run.har"
    # Links are the document's own: schemathesis would otherwise infer more from the account
    # paths (history, e-bill), and which of those a run happens to follow is chance.
    (tmp_path / "schemathesis.toml").write_text("[phases.stateful.inference]\nalgorithms = []\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "BILLING_ENROL_TOKEN": billing_server.enrol_token,
           "SCHEMATHESIS_HOOKS": "tests.billing_server.schemathesis_hooks", "NO_COLOR": "1"}
    run = subprocess.run(st_command(billing_server.url, max_examples, har), cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=900)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-20_000:]
    assert re.search(r"Test cases:\s+\d+ generated, \d+ passed", out), out[-5_000:]
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert re.search(rf"✅ {phase}\b", out), f"{phase} phase did not pass:\n{out[-5_000:]}"

    # The stateful phase chained what the document links: both links were followed.
    links = re.search(r"API Links:\s+(\d+) covered / (\d+) selected", out)
    assert links and links.group(1) == links.group(2) == "2", out[-5_000:]

    # Signed requests got past the signature check: every signed operation answered 2xx at
    # least once, and money was booked, replayed (Idempotent-Replayed) and listed in a settlement.
    entries = json.loads(har.read_text("utf-8"))["log"]["entries"]
    seen = {(e["request"]["method"], _template(e["request"]["url"]), e["response"]["status"],
             any(h["name"].lower() == "idempotent-replayed" for h in e["response"]["headers"]))
            for e in entries}
    answered = {(m, t) for m, t, status, _ in seen if 200 <= status < 300}
    assert signed_operations() - answered == set()
    assert ("POST", "/v1/payments", 201, False) in seen
    assert ("POST", "/v1/payments", 201, True) in seen
    listed = [json.loads(e["response"]["content"]["text"]) for e in entries
              if e["request"]["url"].split("?")[0].endswith("/settlement")
              and e["response"]["status"] == 200]
    assert any(day["count"] > 0 for day in listed)
    booked = billing_server.ledger.dump()["payments"]
    assert booked and len({p["txn_id"] for p in booked}) == len(booked)

