"""Smoke tests of the commit, drain and UI-stall benchmarks and the runner: tiny sizes, sane
positive numbers, the correctness guards fire, a hanging or crashing benchmark is reported. No
assertion on timings."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

import benchmarks.__main__ as runner
from benchmarks import bench_commit, bench_drain, ui_stall


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    return [value]


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def test_commit_reports_sane_positive_numbers(tmp_path):
    result = bench_commit.main(["--n", "25", "--dir", str(tmp_path)])
    assert result["benchmark"] == "commit" and result["n"] == 25
    for side in ("ours", "raw"):
        s = result[side]
        assert all(_positive(s[k]) for k in ("ops_per_s", "mean_us", "p50_us", "p99_us")), s
        assert s["p50_us"] <= s["p99_us"]
    assert _positive(result["ratio_ours_over_raw"]) and _positive(result["ratio_p50_ours_over_raw"])
    assert json.loads(json.dumps(result)) == result  # what the runner will print
    assert list(tmp_path.iterdir()) == []  # the temporary databases are gone


def test_commit_baseline_writes_the_same_rows_as_the_journal(tmp_path):
    """The baseline is only fair if it writes what commit_payment writes, byte for byte."""
    from datetime import datetime, timedelta, timezone

    from billing_server.seed import DEMO_ACCOUNTS
    from offline_queue.elapsed import ElapsedClock
    from offline_queue.journal import Journal
    from offline_queue.schema import connect

    now = datetime(2026, 3, 1, 23, 59, 59, tzinfo=timezone(timedelta(hours=8)))
    account = DEMO_ACCOUNTS[0].account_no
    ours = connect(tmp_path / "ours.db")
    frozen = ElapsedClock(ours, monotonic=lambda: 0.0)  # elapsed 0, as raw_commit writes
    Journal(ours, bench_commit.KIOSK_ID, clock=lambda: now, elapsed=frozen).commit_payment(
        "S1", account, bench_commit.NOTES, bench_commit.COINS, bench_commit.AMOUNT, True)
    raw = bench_commit.raw_connect(tmp_path / "raw.db")
    bench_commit.raw_commit(raw, "S1", account, now)
    for table in ("payments", "outbox", "journal", "counters"):
        a = ours.conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
        b = raw.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
        assert a == b and a, table
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_commit_row_guard_fires_when_the_baseline_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_commit, "raw_commit", lambda *a, **k: None)
    with pytest.raises(AssertionError, match="row counts"):
        bench_commit.run(5, str(tmp_path))


def test_drain_reports_sane_numbers_and_every_payment_arrives(tmp_path):
    result = bench_drain.main(["--n", "30", "--chunk", "7", "--dir", str(tmp_path)])
    assert result["benchmark"] == "drain" and result["n"] == 30
    assert result["ledger_payments"] == {"ours": 30, "bare": 30}
    for side in ("ours", "bare"):
        assert _positive(result[side]["payments_per_s"]) and _positive(result[side]["seconds"])
    assert all(_positive(r) for r in result["ours"]["chunk_payments_per_s"])
    assert _positive(result["ratio_ours_over_bare"]) and _positive(result["queue_build_s"])
    assert list(tmp_path.iterdir()) == []


def test_drain_measures_part_of_a_backlog_and_leaves_the_rest_queued(tmp_path):
    result = bench_drain.main(["--pending", "60", "--measure", "13", "--chunk", "5",
                               "--dir", str(tmp_path)])
    assert (result["pending_at_start"], result["delivered_per_side"]) == (60, 13)
    assert result["ledger_payments"] == {"ours": 13, "bare": 13}
    with pytest.raises(SystemExit):
        bench_drain.main(["--pending", "5", "--measure", "6"])


def test_bulk_backlog_is_what_the_journal_queues(tmp_path):
    from offline_queue.outbox import Outbox
    from offline_queue.schema import connect

    db = connect(tmp_path / "k.db")
    bodies = bench_drain.bulk_queue(db, 25)
    assert Outbox(db).stats().pending == 25 and len(set(bodies)) == 25
    sent = [json.loads(b) for b in bodies]
    assert {b["kiosk_id"] for b in sent} == {bench_drain.KIOSK_ID} and all(b["offline"] for b in sent)
    assert {b["amount_minor"] for b in sent} == {bench_drain.AMOUNT}


def test_drain_over_tls_delivers_every_payment_on_both_sides(tmp_path):
    result = bench_drain.main(["--n", "12", "--chunk", "5", "--dir", str(tmp_path), "--tls"])
    assert result["transport"].startswith("https") and result["n"] == 12
    assert result["ledger_payments"] == {"ours": 12, "bare": 12}
    assert _positive(result["ratio_ours_over_bare"])
    assert list(tmp_path.iterdir()) == []


def test_drain_guard_catches_a_ledger_short_of_payments(tmp_path, monkeypatch):
    """Replays of one txn id are answered 201 but booked once: the ledger check must notice."""
    real = bench_drain.bare_bodies
    monkeypatch.setattr(bench_drain, "bare_bodies", lambda bodies: real(bodies[:1]) * len(bodies))
    with pytest.raises(AssertionError, match="ledger"):
        bench_drain.run(6, 4, str(tmp_path))


def test_benchmarks_reject_bad_sizes():
    with pytest.raises(SystemExit):
        bench_commit.main(["--n", "0"])
    with pytest.raises(SystemExit):
        bench_drain.main(["--n", "5", "--chunk", "0"])


def test_stall_summary_pools_runs_and_splits_off_the_swap():
    runs = [{"frames_ms": [1.0, 30.0, 2.0], "swap_ms": [0.0, 25.0, 0.0],
             "labels": ["a", "b", "b"], "drawn": [False, True, False]},
            {"frames_ms": [4.0, 3.0], "swap_ms": [0.0, 0.0],
             "labels": ["c", "c"], "drawn": [False, False]}]
    s = ui_stall.summary(runs)
    assert s["frames"] == 5 and s["frames_drawn"] == 1
    assert s["longest_frame_ms"] == 30.0 and s["p99_frame_ms"] == 30.0
    assert s["median_frame_ms"] == 3.0 and s["longest_per_run_ms"] == [30.0, 4.0]
    assert s["longest_before_swap_ms"] == 5.0  # 30 ms frame, 25 of them the swap
    assert s["slowest_frames"][0] == {"ms": 30.0, "swap_ms": 25.0, "screen_after": "b"}
    assert ui_stall.percentile([float(i) for i in range(1, 101)], 99) == 99.0


@pytest.mark.ui
def test_ui_benchmark_reports_the_stall_of_a_silent_printer_journey():
    """One run: the whole journey by touch (it fails loudly if a screen is never reached), and
    a bare window's frames as the baseline."""
    from benchmarks import bench_ui

    result = bench_ui.main(["--runs", "1", "--touches", "1", "--bare-frames", "40"])
    stall = result["stall_frame_ms"]
    assert stall["bare"]["frames"] == 40 and stall["ours"]["frames"] > 10
    for side in ("bare", "ours"):
        s = stall[side]
        assert s["frames_drawn"] > 0
        assert 0 < s["p99_frame_ms"] <= s["longest_frame_ms"] < 60_000
        assert 0 <= s["longest_before_swap_ms"] <= s["longest_frame_ms"]
    assert _positive(result["ratio_longest_stall"]) and _positive(result["ratio_p99_stall"])
    assert result["stall_before"].startswith("before: the Kivy thread did the printer status")
    assert not [v for v in _leaves(result) if isinstance(v, bool)]  # figures, never a verdict
    for side in ("bare", "ours"):  # the cold start and touch figures are still there
        assert _positive(result["cold_start_s"][side])
        assert _positive(result["touch_to_draw_ms"][side])


# ---- the runner --------------------------------------------------------------------------------

def test_parse_output_finds_the_object():
    assert runner.parse_output(f"noise\n{runner.MARKER}{{\"a\": 1}}\n") == {"a": 1}
    assert runner.parse_output('{\n  "a": 2\n}\n') == {"a": 2}
    assert runner.parse_output('starting\n{\n  "a": 3,\n  "b": [1]\n}\n') == {"a": 3, "b": [1]}
    assert runner.parse_output("no json here") is None
    assert runner.parse_output("[1, 2]") is None


@pytest.fixture
def fake_pkg(tmp_path):
    pkg = tmp_path / "fakebench"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    sources = {
        "bench_dict": "def main(argv=None):\n    return {'n': int(argv[0]) if argv else 1}\n",
        "bench_int": "import json\ndef main(argv=None):\n    print('warming up')\n"
                     "    print(json.dumps({'x': 2}, indent=2))\n    return 0\n",
        "bench_script": "import json\nif __name__ == '__main__':\n"
                        "    print(json.dumps({'y': 3}))\n",
        "bench_crash": "def main(argv=None):\n    raise RuntimeError('boom')\n",
        "bench_silent": "def main(argv=None):\n    return 0\n",
        "bench_hang": "import subprocess, sys, time\ndef main(argv=None):\n"
                      "    subprocess.Popen([sys.executable, '-c',"
                      " 'import time; time.sleep(60)'])\n"
                      "    time.sleep(60)\n",
    }
    for name, src in sources.items():
        (pkg / f"{name}.py").write_text(textwrap.dedent(src))
    return tmp_path


@pytest.mark.parametrize("module, argv, expected", [
    ("fakebench.bench_dict", ["7"], {"n": 7}),
    ("fakebench.bench_int", [], {"x": 2}),
    ("fakebench.bench_script", [], {"y": 3}),
])
def test_runner_reads_each_kind_of_benchmark(fake_pkg, module, argv, expected):
    result = runner.run_one(module, argv, 60, extra_path=fake_pkg)
    assert "error" not in result, result
    assert {k: result[k] for k in expected} == expected
    assert result["module"] == module


@pytest.mark.parametrize("module, why", [
    ("fakebench.bench_crash", "exit code 1"),
    ("fakebench.bench_silent", "printed no JSON object"),
])
def test_runner_reports_a_broken_benchmark(fake_pkg, module, why):
    result = runner.run_one(module, [], 60, extra_path=fake_pkg)
    assert result["error"] == why
    if "crash" in module:
        assert "boom" in result["stderr_tail"]


def test_runner_kills_a_hanging_benchmark_and_its_children(fake_pkg):
    t0 = time.monotonic()
    result = runner.run_one("fakebench.bench_hang", [], 1.5, extra_path=fake_pkg)
    assert result["error"].startswith("timed out")
    assert time.monotonic() - t0 < 15  # the grandchild holding the pipe was killed too


def test_runner_cli_writes_the_report(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = runner.main(["--only", "commit", "--arg", "commit=--n 10", "--out", str(out)])
    assert code == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    report = json.loads(out.read_text())
    assert printed == report["results"]
    assert [r["benchmark"] for r in printed] == ["commit"] and printed[0]["n"] == 10
    assert "bench_commit" in runner.discover() and "bench_drain" in runner.discover()
    with pytest.raises(SystemExit):
        runner.main(["--only", "no_such_benchmark", "--out", str(out)])


@pytest.mark.parametrize("protocol", ["id003", "ccnet", "essp"])
def test_validator_poll_benchmarks_credit_every_note(protocol):
    import importlib

    from benchmarks import validator_poll

    assert runner.discover([f"{protocol}_poll"]) == [f"bench_{protocol}_poll"]
    timing = importlib.import_module(f"benchmarks.bench_{protocol}_poll").TIMING
    result = validator_poll.run(timing, seconds=0.6, interval=0.03, load=0)
    assert result["benchmark"] == f"{protocol}_poll"
    for phase in ("quiet", "loaded"):
        numbers = result[phase]
        assert numbers["cycle_errors"] == 0 and numbers["notes_credited"] >= 1
        assert numbers["poll_periods"] >= 2 and numbers["driver_stats"]["polls"] >= 2
        assert numbers["credit_latency_p50_ratio"] is not None
        assert numbers["stack_to_credit_p99_s"] >= numbers["stack_to_credit_p50_s"] > 0
