"""Archiving by itself (kiosk/services/archive_watch.py): at idle only, at most once a day, with
the configured age, never anything undelivered or unreported; off with keep_days 0."""

from __future__ import annotations

from datetime import date, timedelta

from kiosk.config import config_from_dict
from kiosk.services.archive_watch import ArchiveWatch
from tests.offline_queue.test_archive import _archived, _books, _ids


class Day:
    def __init__(self, d: date) -> None:
        self.d = d

    def __call__(self) -> date:
        return self.d


def test_moves_at_idle_once_a_day_and_never_what_is_not_delivered_and_reported(tmp_path):
    path, db = _books(tmp_path)
    before = _ids(db)
    today, idle = Day(date(2026, 3, 20)), [False]
    watch = ArchiveWatch(path, keep_days=30, is_idle=lambda: idle[0], today=today)
    assert watch.tick() is None and not _archived(tmp_path)  # a session in progress: nothing
    idle[0] = True
    assert [m.month for m in watch.tick()] == ["2026-01", "2026-02"]
    live, arch = _ids(db), _archived(tmp_path)
    assert live | arch == before and not live & arch
    # 2026-03-10 is within 30 days, unreported and one of it undelivered: all of it stays
    assert {"s-2026-03-10-0", "s-2026-03-10-1", "s-2026-03-10-2"} <= live
    assert watch.tick() is None  # once a day, also for a new watch (a restart) the same day
    assert ArchiveWatch(path, keep_days=1, today=today).tick() is None
    # The next day, with a shorter age, the reported, delivered March payments could go, but
    # March was never reported and one is undelivered: none of them moves.
    today.d += timedelta(days=1)
    assert ArchiveWatch(path, keep_days=1, today=today).tick() == []
    assert {"s-2026-03-10-0", "s-2026-03-10-1", "s-2026-03-10-2"} <= _ids(db)


def test_a_session_starting_mid_run_stops_it_before_the_next_month(tmp_path):
    path, db = _books(tmp_path)
    looks = iter([True, True, False])  # idle at the start and before January, busy before February
    watch = ArchiveWatch(path, keep_days=30, is_idle=lambda: next(looks, False),
                         today=lambda: date(2026, 3, 20))
    assert [m.month for m in watch.tick()] == ["2026-01"]
    assert watch.passes == 0  # not finished: the day is not marked done
    watch.is_idle = lambda: True
    assert [m.month for m in watch.tick()] == ["2026-02"] and watch.passes == 1


def test_the_thread_runs_it_and_keep_days_zero_is_off(tmp_path):
    path, db = _books(tmp_path)
    off = ArchiveWatch(path, keep_days=0, check_s=0.01, today=lambda: date(2026, 3, 20)).start()
    assert off.tick() is None and off._thread is None
    off.stop()
    watch = ArchiveWatch(path, keep_days=30, check_s=0.01, today=lambda: date(2026, 3, 20)).start()
    try:
        assert watch.ran.wait(10)
    finally:
        watch.stop()
    assert len(_archived(tmp_path)) == 9


def test_config_archive_section():
    assert config_from_dict({}).archive.keep_days == 90
    assert config_from_dict({"archive": {"keep_days": 0}}).archive.keep_days == 0


def test_the_archive_command_takes_its_age_from_the_config(tmp_path):
    import subprocess
    import sys

    path, db = _books(tmp_path)
    db.conn.close()
    off = tmp_path / "off.toml"
    off.write_text("[archive]\nkeep_days = 0\n")
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "kiosk", "queue", "archive", "--db", str(path), *args],
        capture_output=True, text=True, timeout=60)
    got = run("--config", str(off))
    assert got.returncode == 0 and "archiving is off" in got.stdout and not _archived(tmp_path)
    # an age from the file: the real date is months after these payments, so all reported,
    # delivered months go
    on = tmp_path / "on.toml"
    on.write_text("[archive]\nkeep_days = 30\n")
    got = run("--config", str(on))
    assert got.returncode == 0, got.stderr
    assert "2026-01 6 payments" in got.stdout and len(_archived(tmp_path)) == 9
