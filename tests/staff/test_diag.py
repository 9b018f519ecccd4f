"""Diagnostics entries (pure) and the API probe and heartbeat against the reference server."""

from __future__ import annotations

import time

import pytest

from drivers import interfaces as d
from kiosk.staff import diag
from kiosk.staff.billing_queries import ApiHealth, BillingProbe
from kiosk.staff.faults import LockingFault
from kiosk.staff.heartbeat import HeartbeatService, build_heartbeat
from kiosk.staff.probe import DeviceView
from kiosk.staff.selftest import SelfTestResult, card_read_test
from offline_queue.outbox import Outbox, QueueStats
from tests.billing_server.conftest import sign_as_test_kiosk

H = d.Health
S = d.HealthState


def view(state, reason="", events=()):
    return DeviceView(H(state, reason), {"polls": 9}, None, list(events))


def test_device_entries_carry_status_reason_and_last_faults():
    jam = d.DeviceFault("bill_validator", "acceptor_jam", "note jammed in the acceptor")
    e = diag.device_entry("bill_validator", "/dev/pts/9", "id003",
                          view(S.FAULT, "note jammed in the acceptor", [jam]))
    assert (e["name"], e["status"], e["reason"]) == ("bill_validator", "fault",
                                                     "note jammed in the acceptor")
    assert e["faults_seen"] == [{"code": "acceptor_jam", "reason": "note jammed in the acceptor",
                                 "locking": True}]
    assert e["counters"] == {"polls": 9}


def test_quiet_card_reader_is_ok_but_says_silence_proves_nothing():
    e = diag.device_entry("card_reader", "/dev/x", "em4100", view(S.OK))
    assert e["status"] == "ok" and "silent" in e["reason"]
    failed = SelfTestResult("card", False, "no card read within 2 s")
    e = diag.device_entry("card_reader", "/dev/x", "em4100", view(S.OK), failed)
    assert e["status"] == "fault" and "no card read" in e["reason"]


def test_card_test_sees_a_card_held_before_it_started():
    held = d.CardPresented("card_reader", "0102030405")
    events = [held]

    def wait_event(match, timeout):
        return next((ev for ev in events if match(ev)), None)

    r = card_read_test("card_reader", wait_event, 0.1)
    assert r.ok and "0405" in r.detail and "0102030405" not in r.detail  # masked
    events.clear()
    assert not card_read_test("card_reader", wait_event, 0.1).ok


def test_api_entry_states():
    up = ApiHealth("http://x", True, 200, 12, "none (http)", 0.4, "")
    assert diag.api_entry(up)["status"] == "ok" and diag.api_entry(up)["latency_ms"] == 12
    down = ApiHealth("http://x", False, None, None, "none (http)", None, "unreachable: ConnectionError")
    assert diag.api_entry(down)["status"] == "fault" and "unreachable" in diag.api_entry(down)["reason"]
    skewed = ApiHealth("http://x", True, 200, 12, "verified", -600.0, "")
    assert diag.api_entry(skewed)["status"] == "degraded" and "-600" in diag.api_entry(skewed)["reason"]
    assert diag.api_entry(None)["status"] == "unknown"


def test_queue_entry_shows_counts_and_ages_never_money():
    stats = QueueStats(pending=3, in_flight=1, delivered=9, dead=1, pending_total_minor=55500,
                       oldest_pending_age_s=4000)
    dead = [{"kind": "payment", "idem_key": "T1", "amount_minor": 5000, "status_code": 422,
             "last_error": "HTTP 422"}]
    e = diag.queue_entry(stats, dead, max_age_s=3 * 24 * 3600)
    assert (e["status"], e["depth"], e["oldest_pending_age_s"], e["dead_letters"]) == (
        "degraded", 4, 4000, 1)
    assert "55500" not in str(e) and "5000" not in str(e)
    too_old = diag.queue_entry(stats, [], max_age_s=3600)
    assert too_old["status"] == "fault"
    empty = QueueStats(0, 0, 0, 0, 0, 0)
    assert diag.queue_entry(empty, [], 3600)["status"] == "ok"


def test_locks_database_and_overall_status():
    lock = LockingFault("bill_validator", "stacker_open", "cash box removed", "t")
    assert diag.locks_entry([lock])["status"] == "fault"
    assert diag.database_entry("k.db", "page 4 corrupt")["status"] == "fault"
    assert diag.worst([{"status": "ok"}, {"status": "degraded"}, {"status": "unknown"}]) == "degraded"


# ---------------------------------------------------------------- against the reference server
def test_probe_measures_latency_and_clock_skew(billing_server):
    probe = sign_as_test_kiosk(BillingProbe(billing_server.url, clock=lambda: time.time() - 300))  # we are 5 min slow
    h = probe.health()
    assert h.reachable and h.latency_ms is not None and h.tls == "none (http)"
    assert 295 <= h.clock_skew_s <= 305
    assert diag.api_entry(h)["status"] == "degraded"


def test_probe_reports_a_server_that_is_down_or_failing(billing_server):
    url = billing_server.url
    billing_server.set_fault("500", paths="/v1/health")
    assert BillingProbe(url).health().reason == "HTTP 500"
    billing_server.stop()
    h = BillingProbe(url, connect_timeout=0.5).health()
    assert not h.reachable and h.reason.startswith("unreachable")


def test_heartbeat_carries_the_audit_chain_head(billing_server, console, db):
    svc = HeartbeatService("KIOSK-T1", Outbox(db), console.audit,
                         sign_as_test_kiosk(BillingProbe(billing_server.url), "KIOSK-T1"),
                           lambda: {"printer": H(S.FAULT, "paper out"), "card_reader": H(S.OK)})
    assert svc.send_once()
    (hb,) = billing_server.ledger.dump()["heartbeats"]
    assert hb["audit_head"] == console.audit.head() and len(hb["audit_head"]) == 64
    assert hb["devices"]["printer"] == {"status": "fault", "reason": "paper out"}
    assert hb["queue_depth"] == 0 and hb["oldest_pending_age_s"] is None
    console.login("op1", "258046")  # a new audit entry moves the head
    svc.send_once()
    assert billing_server.ledger.dump()["heartbeats"][0]["audit_head"] == console.audit.head()
    billing_server.stop()
    assert not svc.send_once() and "unreachable" in svc.last_error


def test_heartbeat_body_follows_the_contract():
    body = build_heartbeat("K1", QueueStats(2, 0, 0, 0, 300, 75), {"x" * 80: H(S.OK)}, "ab" * 32)
    assert set(body) == {"kiosk_id", "software_version", "queue_depth", "oldest_pending_age_s",
                         "devices", "audit_head"}
    assert body["queue_depth"] == 2 and body["oldest_pending_age_s"] == 75
    assert all(len(k) <= 64 for k in body["devices"])


@pytest.mark.parametrize("reply", ['{"count": "3", "total_minor": 1, "payments": []}',
                                   '{"count": 1, "total_minor": 1, "payments": [{"txn_id": 5}]}',
                                   "[]", "not json"])
def test_malformed_settlement_is_refused(reply):
    from kiosk.staff.billing_queries import ApiUnavailable

    class Resp:
        status_code = 200
        headers: dict = {}

        def json(self):
            import json

            return json.loads(reply)

    class Session:
        def get(self, *a, **k):
            return Resp()

    with pytest.raises(ApiUnavailable):
        BillingProbe("http://x", session=Session()).settlement("K1", "2026-11-21")


def test_console_diagnostics_for_the_screen(console):
    from kiosk.staff.errors import PermissionDenied
    from kiosk.staff.probe import live_views

    class Printer:
        name = "printer"
        stats = {"jobs": 3}

        def health(self):
            return H(S.FAULT, "paper out")

    views = live_views({"printer": Printer(), "bill_validator": None})
    mt = console.login("mt1", "135792")
    report = console.diagnostics(mt, views, recent_log=["12:00 WARNING printer: paper low"])
    assert report["recent_log"] == ["12:00 WARNING printer: paper low"]
    entries = {e["name"]: e for e in report["entries"]}
    assert entries["printer"]["status"] == "fault" and entries["printer"]["counters"] == {"jobs": 3}
    assert entries["bill_validator"]["reason"] == "not connected"
    assert entries["card_reader"]["status"] == "unknown"  # not probed
    assert entries["billing_api"]["status"] == "unknown" and report["status"] == "fault"
    assert console.audit.entries(limit=1)[0].action == "diagnostics"
    with pytest.raises(PermissionDenied):
        console.diagnostics(console.login("op1", "258046"), views)
