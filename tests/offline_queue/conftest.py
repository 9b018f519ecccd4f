from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from offline_queue.elapsed import ElapsedClock
from offline_queue.journal import Journal
from offline_queue.outbox import Outbox
from offline_queue.schema import connect
from tests.billing_server.conftest import billing_server  # noqa: F401 - a real server on loopback

CST = timezone(timedelta(hours=8))


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 21, 9, 30, tzinfo=CST)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


class FakeMonotonic:
    """time.monotonic for tests: moves only when told, and only forward."""

    def __init__(self) -> None:
        self.t = 500.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        assert seconds >= 0
        self.t += seconds


@pytest.fixture
def db(tmp_path):
    return connect(tmp_path / "kiosk.db")


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def mono():
    return FakeMonotonic()


@pytest.fixture
def elapsed(db, mono):
    return ElapsedClock(db, monotonic=mono)


@pytest.fixture
def journal(db, clock, elapsed):
    return Journal(db, "KIOSK-T1", clock, elapsed=elapsed)


@pytest.fixture
def outbox(db, elapsed):
    return Outbox(db, elapsed=elapsed)
