"""Smoke test of the UI benchmark: tiny sizes, sane positive numbers, ratios computed (touch →
next screen, escrow event → acknowledgement drawn)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.ui


def test_ui_benchmark_reports_ratios_against_a_bare_window():
    from benchmarks import bench_ui

    result = bench_ui.main(["--runs", "1", "--touches", "2", "--escrows", "2"])
    assert result["benchmark"] == "ui"
    for side in ("bare", "ours"):
        assert 0 < result["cold_start_s"][side] < 60
        assert 0 < result["touch_to_draw_ms"][side] < 10_000
        assert 0 < result["escrow_to_ack_drawn_ms"][side] < 10_000
    assert result["ratio_cold_start"] > 0 and result["ratio_touch_to_draw"] > 0
    assert result["ratio_escrow_to_ack"] > 0 and result["escrow_ack_target_ms"] == 100
