"""`make bench` at a tiny scale, to prove it runs end to end (no timing assertions: CI machines vary).

The benchmark runs as users run it: `python -m bench.run` in a subprocess, which starts the emulator
and the loading child processes itself; SQLite only, latency model off.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS = 300


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--rows", str(ROWS), "--backends", "sqlite", "--latency-ms", "0",
         "--latency-per-row-ms", "0", "--out", str(out), "--chart-copy", "",
         "--runs", "sequential full delta nochange",  # the peers: test_bench_peers.py
         "--untracked", "cdm_workeraddress"],  # the emulator's realistic mess (bench default: none)
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    return proc, out


def _lines(proc: subprocess.CompletedProcess[str]) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_bench_prints_one_sane_json_line_per_run(bench) -> None:
    proc, out = bench
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = _lines(proc)
    assert [(line["backend"], line["run"]) for line in lines] == [
        ("sqlite", "sequential"), ("sqlite", "full"), ("sqlite", "delta"), ("sqlite", "nochange")]
    for line in lines:
        assert line["workers"] == ROWS // 12
        assert line["wall_s"] > 0 and line["rows_per_s"] == pytest.approx(line["rows"] / line["wall_s"], rel=0.01)
        assert line["http_requests"] > 0 and line["http_429"] == 0
        assert 20 < line["peak_rss_mb"] < 2000
        assert line["loader_cpu_s"] > 0 and line["emulator_cpu_s"] >= 0
        assert line["server_latency_s"] == 0 and line["floor_s"] == 0 and line["wall_over_floor"] is None
        assert line["bound_s"] == 0 and line["wall_over_bound"] is None
        assert line["tables_failed"] == [] and line["untracked_tables"] == ["cdm_workeraddress"]
        assert line["tables_skipped_optional"] == ["cdm_workerpersonaldetail"]  # unreadable for the app user
    sequential, full, delta, nochange = lines
    assert sequential["concurrency"] == 1 and full["concurrency"] == delta["concurrency"] == 5
    assert sequential["rows"] == full["rows"] == full["rows_returned"]  # the whole data set, once
    assert full["rows"] > 0.8 * ROWS
    assert delta["modes"] == ["delta", "full_every_run"]  # addresses have no change tracking
    # 1% changed (at least one row per table): tracked tables move only those; the untracked one reloads.
    tracked = delta["rows"] - delta["rows_full_every_run"]
    assert 0 < tracked <= delta["changes_applied"]
    assert delta["rows"] < full["rows"]
    assert 0 < delta["tracked_done_s"] <= delta["wall_s"] + 0.1
    assert delta["pages"] <= full["pages"] and delta["http_requests"] <= full["http_requests"]
    assert delta["pct_of_full"] == pytest.approx(100 * delta["wall_s"] / full["wall_s"], abs=0.1)
    # Nothing changed since the delta: only the untracked table's rows come again.
    assert nochange["rows"] == nochange["rows_full_every_run"] > 0 and "changes_applied" not in nochange
    assert nochange["http_requests"] <= delta["http_requests"]


def test_bench_writes_results_and_chart_next_to_each_other(bench) -> None:
    proc, out = bench
    assert proc.returncode == 0, proc.stderr[-2000:]
    stored = [json.loads(line) for line in (out / f"bench-{ROWS}.jsonl").read_text().splitlines()]
    assert stored == _lines(proc)
    assert (out / f"bench-{ROWS}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / f"loader-{ROWS}-sqlite-full.json").exists() and (out / "emulator-sqlite.log").exists()
    summary = (out / f"bench-{ROWS}-summary.md").read_text()
    assert summary.startswith("| rows | backend | full wall s | bound s |") and f"| {ROWS} | sqlite |" in summary


def test_bench_refuses_bad_knobs_with_a_message(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.run", "--backends", "oracle", "--runs", "delta full",
                           "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "backends must be among sqlite, postgres, got oracle" in proc.stderr
    assert "the delta run needs a full or sequential run before it" in proc.stderr
    assert "Traceback" not in proc.stderr
