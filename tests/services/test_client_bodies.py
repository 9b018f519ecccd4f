"""The request bodies the terminal builds, made by the production code that builds them and checked
against docs/billing-api.yaml: a rating (SessionRunner, QueueRating), a cash collection
(CollectionService.submit_count), a heartbeat (build_heartbeat) and an enrolment (Enrolment).
The payment body (Journal.commit_payment) is checked in tests/services/test_billing_client.py."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from drivers.interfaces import Health, HealthState
from kiosk.config import Config
from billing_server.seed import DEMO_ACCOUNTS
from kiosk.flow import commands as c
from kiosk.services.runner import Devices, SessionRunner
from kiosk.staff.collection import CollectionService
from kiosk.staff.heartbeat import build_heartbeat
from offline_queue import signing
from offline_queue.http_gateway import delivery_path
from offline_queue.journal import Journal
from offline_queue.outbox import Outbox, QueueStats
from offline_queue.schema import connect
from tests.billing_server.openapi_check import validate_request
from tests.billing_server.conftest import billing_server  # noqa: F401 - a real server on loopback

CST = timezone(timedelta(hours=8))
ACCT = DEMO_ACCOUNTS[0].account_no


def queued(db, kind: str) -> list[tuple[str, dict]]:
    """(path, body) of every outbox row of ``kind``, as the HTTP gateway would send them."""
    rows = db.execute("SELECT body FROM outbox WHERE kind = ? ORDER BY id", [kind])
    return [(delivery_path(kind, body), json.loads(body)) for (body,) in rows.fetchall()]


@pytest.fixture
def journal(tmp_path):
    when = datetime(2026, 11, 21, 9, 0, tzinfo=CST)
    return Journal(connect(tmp_path / "kiosk.db"), "KIOSK-T1", lambda: when)


def test_rating_queued_by_the_runner_matches_the_contract(journal):
    config = Config()
    runner = SessionRunner(config, journal, Outbox(journal.db), None, Devices(), lambda _: None,
                           None)
    for stars in (1, 5):
        runner.execute(c.QueueRating(f"TXN-{stars}", stars))
    rows = queued(journal.db, "rating")
    assert [body["rating"] for _, body in rows] == [1, 5]
    for path, body in rows:
        assert path == "/v1/feedback"
        validate_request("POST", "/v1/feedback", body)
        assert body["kiosk_id"] == config.kiosk.id


def _pay(journal, sid: str, notes: list[int]) -> None:
    journal.session_start(sid, ACCT, sum(notes))
    tally: dict[int, int] = {}
    for seq, value in enumerate(notes, start=1):
        journal.escrow(sid, seq, value, "stack")
        journal.credit(sid, seq, "note", value)
        tally[value] = tally.get(value, 0) + 1
    journal.commit_payment(sid, ACCT, tally, {}, sum(notes), offline=False)


@pytest.mark.parametrize("counted", [{10000: 1, 5000: 1}, {10000: 1}, {}],
                         ids=["exact", "short", "nothing"])
def test_collection_queued_after_a_count_matches_the_contract(journal, counted):
    collections = CollectionService(journal.db, journal, "KIOSK-T1",
                                    (100, 500, 1000, 2000, 5000, 10000))
    collections.ensure_open()
    _pay(journal, "S1", [10000, 5000])
    batch = collections.close_current("op1")
    assert batch is not None
    collections.submit_count(batch.batch_id, counted, "op1")
    ((path, body),) = queued(journal.db, "collection")
    assert path == "/v1/kiosks/KIOSK-T1/collections"
    validate_request("POST", "/v1/kiosks/{kiosk_id}/collections", body)
    assert body["batch_id"] == batch.batch_id and body["kiosk_id"] == "KIOSK-T1"
    assert body["variance_minor"] == sum(d * n for d, n in counted.items()) - 15_000


@pytest.mark.parametrize("queue, devices", [
    (QueueStats(0, 0, 7, 0, 0, 0), {}),
    (QueueStats(2, 1, 0, 1, 30_000, 75), {
        "printer": Health(HealthState.FAULT, "paper out"),
        "card_reader": Health(HealthState.OK),
        "d" * 80: Health(HealthState.DEGRADED, "r" * 900),
    }),
], ids=["idle", "backlog-and-faults"])
def test_heartbeat_body_matches_the_contract(queue, devices):
    body = build_heartbeat("KIOSK-T1", queue, devices, "ab" * 32)
    validate_request("POST", "/v1/kiosks/{kiosk_id}/heartbeat", body)
    assert body["queue_depth"] == queue.pending + queue.in_flight


def test_heartbeat_with_a_long_software_version_matches_the_contract():
    body = build_heartbeat("KIOSK-T1", QueueStats(0, 0, 0, 0, 0, 0), {}, "ab" * 32,
                           software_version="1.2.3+" + "g" * 100)
    validate_request("POST", "/v1/kiosks/{kiosk_id}/heartbeat", body)


def test_enrolment_body_matches_the_contract(tmp_path):
    key = signing.load_or_create_key(tmp_path / "keys" / signing.KEY_FILE)
    enrolment = signing.Enrolment(key, "KIOSK-T1", "enrol-token-from-config",
                                  tmp_path / "keys" / signing.ENROLLED_FILE)
    body = enrolment.request_body()
    validate_request("POST", "/v1/kiosks/{kiosk_id}/enrol", body)
    assert signing.public_from_b64(body["public_key"]) is not None


def test_enrolment_sends_the_body_it_builds(billing_server, tmp_path):
    """request_body() is what goes on the wire: the server enrols that key."""
    key = signing.Ed25519PrivateKey.generate()
    enrolment = signing.Enrolment(key, "KIOSK-T9", billing_server.enrol_token,
                                  tmp_path / signing.ENROLLED_FILE)
    enrolment.ensure(billing_server.url)
    assert billing_server.ledger.kiosk_key("KIOSK-T9") == enrolment.request_body()["public_key"]
