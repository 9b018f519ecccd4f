"""Smoke tests of the scale, server and soak benchmarks: tiny sizes, sane numbers, the
correctness guards fire. No assertion on timings."""

from __future__ import annotations

import pytest

from benchmarks import bench_scale, bench_server, bench_soak, scale_db


@pytest.mark.slow
def test_scale_reports_every_figure_as_a_ratio_to_the_empty_database(tmp_path):
    result = bench_scale.main(["--sizes", "0,600", "--commits", "5", "--cache",
                               str(tmp_path / "cache"), "--dir", str(tmp_path),
                               "--archive-payments", "600"])
    assert result["rows_checked_against_journal"] is True
    big = result["by_size"]["600"]
    assert big["payments"] == 600 and big["bytes_per_payment_live"] > 0
    assert all(v > 0 for v in big["ratios_to_empty"].values())
    assert big["startup_cold_s"] > 0 and big["startup_warm_s"] > 0
    assert result["archive"]["payments_moved"] > 0
    assert result["archive"]["archive_bytes_per_payment"] > 0
    # built once, kept for the next run under the schema version
    assert [p.name for p in (tmp_path / "cache").glob("*-600.db")]


def test_bulk_rows_that_differ_from_the_journal_are_refused(tmp_path, monkeypatch):
    real = scale_db.rows_for

    def drifted(i):
        rows = real(i)
        rows["journal"] = rows["journal"][:-1]  # a session end the journal writes, left out
        return rows

    monkeypatch.setattr(scale_db, "rows_for", drifted)
    with pytest.raises(AssertionError, match="journal rows differ"):
        scale_db.check_against_journal(tmp_path)


def test_bulk_build_counts_and_states(tmp_path):
    scale_db.build(tmp_path / "b.db", 650)
    from offline_queue.outbox import Outbox
    from offline_queue.schema import connect

    db = connect(tmp_path / "b.db")
    stats = Outbox(db).stats()
    assert stats.delivered == 650 and stats.pending == 0
    assert db.execute("SELECT count(*) FROM reported_payments").fetchone()[0] == 650
    assert db.execute("SELECT n FROM row_counts WHERE name = 'payments'").fetchone()[0] == 650


@pytest.mark.slow
def test_server_burst_books_every_payment_once(tmp_path):
    result = bench_server.main(["--clients", "1,3", "--payments", "12", "--dir", str(tmp_path)])
    assert result["ledger_payments"] == 24
    for burst in result["bursts"]:
        assert burst["payments"] == 12 and burst["payments_per_s"] > 0
        assert burst["p50_ms"] <= burst["p99_ms"]


def test_server_refuses_bad_client_counts():
    with pytest.raises(SystemExit):
        bench_server.main(["--clients", "0"])


def test_soak_slope_is_the_least_squares_trend():
    assert bench_soak.slope([1, 2, 3, 4], [10, 11, 12, 13]) == pytest.approx(1.0)
    assert bench_soak.slope([1, 2, 3], [5, 5, 5]) == 0.0
    assert bench_soak.rss_kb() > 0
