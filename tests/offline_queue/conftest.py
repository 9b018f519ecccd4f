from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from offline_queue.journal import Journal
from offline_queue.outbox import Outbox
from offline_queue.schema import connect
from tests.demo.conftest import billing_server  # noqa: F401 - a real server on loopback

CST = timezone(timedelta(hours=8))


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 21, 9, 30, tzinfo=CST)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def db(tmp_path):
    return connect(tmp_path / "kiosk.db")


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def journal(db, clock):
    return Journal(db, "KIOSK-T1", clock)


@pytest.fixture
def outbox(db):
    return Outbox(db)
