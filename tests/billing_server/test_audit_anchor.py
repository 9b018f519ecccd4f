"""The server's audit anchor (billing_server/audit_anchor.py, docs/security.md): a chain that
grows is confirmed; one cut, rewritten or rolled back is flagged and stays flagged. And the
test-only ``/_admin/*`` endpoints answer only with ``--admin``."""

from __future__ import annotations

import requests

from billing_server.audit_anchor import FLAGGED, OK, UNVERIFIED, Anchor, judge
from billing_server.server import BillingServer
from tests.billing_server.conftest import TEST_TOKEN

NOW = "2026-12-01T00:00:00Z"


def test_first_sight_is_trusted_and_growth_needs_the_last_seal():
    first = judge(None, 5, "h5", None, NOW)
    assert first.status == OK and first.anchor.seq == 5
    assert judge(first.anchor, 5, "h5", None, NOW).status == OK
    asked = judge(first.anchor, 8, "h8", None, NOW)
    assert asked.status == UNVERIFIED and asked.anchor == first.anchor  # nothing stored yet
    grown = judge(first.anchor, 8, "h8", {"seq": 5, "hash": "h5"}, NOW)
    assert grown.status == OK and (grown.anchor.seq, grown.anchor.head) == (8, "h8")


def test_cut_rewritten_or_rolled_back_chains_are_flagged_for_good():
    seen = Anchor(8, "h8")
    for verdict in (judge(seen, 3, "h3", None, NOW),  # behind: cut or an older database
                    judge(seen, 8, "x8", None, NOW),  # the same entry, another seal
                    judge(seen, 9, "h9", {"seq": 8, "hash": "x8"}, NOW)):  # rewritten below
        assert verdict.status == FLAGGED and verdict.anchor.flagged_reason
        assert (verdict.anchor.seq, verdict.anchor.head) == (8, "h8")  # the last good head
        assert judge(verdict.anchor, 9, "h9", {"seq": 8, "hash": "h8"}, NOW).status == FLAGGED


def test_admin_endpoints_are_off_unless_asked_for(tmp_path):
    with BillingServer("127.0.0.1", 0, tmp_path / "a.db", enrol_token=TEST_TOKEN) as off:
        r = requests.get(f"{off.url}/_admin/ledger", timeout=5)
        assert r.status_code == 403 and "--admin" in r.json()["message"]
        assert requests.post(f"{off.url}/_admin/fault", json={"mode": "500"},
                             timeout=5).status_code == 403
    with BillingServer("127.0.0.1", 0, tmp_path / "b.db", enrol_token=TEST_TOKEN,
                       admin=True) as on:
        assert requests.get(f"{on.url}/_admin/ledger", timeout=5).status_code == 200
