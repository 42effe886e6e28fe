"""The bound of a run, computed from two ``/_emulator/requests`` answers, and the summary row."""

from __future__ import annotations

import pytest

from bench.bound import run_bound
from bench.summary import summary_rows

BEFORE = {"latency_seconds": 10.0, "tracked_latency_by_path": {"/api/data/v9.2/cdm_workers": 4.0}}


def test_the_bound_is_the_floor_when_no_chain_is_longer() -> None:
    after = {"latency_seconds": 60.0, "tracked_latency_by_path": {"/api/data/v9.2/cdm_workers": 9.0,
                                                                  "/api/data/v9.2/cdm_jobs": 2.0}}
    bound = run_bound(BEFORE, after, concurrency=5)
    assert (bound.floor_s, bound.chain_s, bound.chain_table) == (10.0, 5.0, "cdm_workers")
    fields = bound.fields(wall_s=15.0)
    assert fields["bound_s"] == 10.0 and fields["wall_over_bound"] == 1.5 and fields["wall_over_floor"] == 1.5


def test_the_longest_change_tracking_chain_bounds_a_run_that_concurrency_cannot_shorten() -> None:
    skills = "/api/data/v9.2/mshr_hcmworkerskillentities"
    after = {"latency_seconds": 110.0, "tracked_latency_by_path": {"/api/data/v9.2/cdm_workers": 9.0, skills: 52.0}}
    bound = run_bound(BEFORE, after, concurrency=5)
    assert bound.chain_table == "mshr_hcmworkerskillentities"
    assert bound.bound_s == pytest.approx(52.0) and bound.fields(66.0)["wall_over_bound"] == pytest.approx(1.27)


def test_a_run_without_server_time_has_no_ratio() -> None:
    bound = run_bound({"latency_seconds": 0.0}, {"latency_seconds": 0.0}, concurrency=1)
    assert bound.chain_table is None and bound.fields(3.0)["wall_over_bound"] is None


def test_the_summary_puts_peers_beside_each_backend() -> None:
    lines = [
        {"backend": "none", "run": "peer-sequential", "wall_s": 130.0},
        {"backend": "none", "run": "peer-parallel", "wall_s": 58.0},
        {"backend": "sqlite", "run": "full", "wall_s": 61.5, "bound_s": 51.6, "wall_over_bound": 1.19,
         "chain_s": 51.6, "chain_table": "mshr_hcmworkerskillentities", "peak_rss_mb": 230.0},
        {"backend": "sqlite", "run": "delta", "wall_s": 3.2, "pct_of_full": 5.2, "http_requests": 48},
        {"backend": "sqlite", "run": "nochange", "wall_s": 1.1, "http_requests": 32},
        {"backend": "postgres", "run": None, "skipped": "unreachable"},
    ]
    assert summary_rows(lines, 1_000_000) == [
        "| 1,000,000 | sqlite | 61.5 | 51.6 | 1.19 | 51.6 (mshr_hcmworkerskillentities) | 130.0 | 58.0 | — | 230 "
        "| 3.20 (5.2%, 48 req) | 1.10 (32 req) |"]
