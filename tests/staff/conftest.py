"""Fixtures for the staff tests: a fresh journal database, a fake clock (epoch seconds and local
datetimes from one source), cheap scrypt parameters and a StaffConsole with two staff ids."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pathlib import Path

from kiosk.config import Config
from kiosk.staff.console import StaffConsole
from kiosk.staff.pins import ScryptParams
from offline_queue.journal import Journal
from offline_queue.schema import connect
from tests.billing_server.conftest import billing_server  # noqa: F401 - a real server on loopback

CST = timezone(timedelta(hours=8))
#: tests only: production is n=2**17 (kiosk.staff.pins.PRODUCTION)
CHEAP = ScryptParams(n=2**8, r=8, p=1, maxmem=16 * 1024 * 1024)
OP_PIN, MT_PIN = "258046", "135792"


class FakeTime:
    """``time()`` for epoch seconds, ``now()`` for a local datetime: the same instant."""

    def __init__(self, start: datetime | None = None) -> None:
        self.t = (start or datetime(2026, 11, 21, 9, 0, tzinfo=CST)).timestamp()

    def time(self) -> float:
        return self.t

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, CST)

    def advance(self, seconds: float = 0, **kw: float) -> None:
        self.t += seconds + timedelta(**kw).total_seconds()

    def set(self, when: datetime) -> None:
        self.t = when.timestamp()


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "kiosk.db"


@pytest.fixture
def db(db_path):
    return connect(db_path)


@pytest.fixture
def journal(db, clock):
    return Journal(db, "KIOSK-T1", clock.now)


def make_config(db_path, url: str = "http://127.0.0.1:9") -> Config:
    import dataclasses

    cfg = Config()
    return dataclasses.replace(
        cfg, kiosk=dataclasses.replace(cfg.kiosk, id="KIOSK-T1", db=str(db_path),
                                       state_dir=str(Path(db_path).parent / "state")),
        billing=dataclasses.replace(cfg.billing, url=url, connect_timeout_s=1.0, read_timeout_s=2.0))


class FakePrinter:
    def __init__(self) -> None:
        self.jobs: list = []
        self.fail: str | None = None

    def print_job(self, job) -> None:
        from drivers.interfaces import PrinterError

        if self.fail:
            raise PrinterError(self.fail)
        self.jobs.append(job)


@pytest.fixture
def printer() -> FakePrinter:
    return FakePrinter()


@pytest.fixture
def console(db, db_path, journal, clock, printer):
    c = StaffConsole(db, make_config(db_path), journal, clock=clock.time, params=CHEAP,
                     printer=printer)
    c.auth.add_user("op1", "operator", OP_PIN, "test")
    c.auth.add_user("mt1", "maintenance", MT_PIN, "test")
    return c
