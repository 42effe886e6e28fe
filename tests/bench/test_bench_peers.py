"""The peer baseline at a tiny scale: Microsoft's SDK (in its own virtual environment, created on
first use from the configured package index) reads every catalog table, one at a time and five at a
time, and the bench reports it like its own runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROWS = 300


def test_the_sdk_reads_every_readable_table_sequentially_and_five_at_a_time(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--rows", str(ROWS), "--backends", "sqlite", "--latency-ms", "0",
         "--latency-per-row-ms", "0", "--out", str(tmp_path), "--chart-copy", "", "--runs",
         "peer-sequential peer-parallel full", "--peer-venv", str(ROOT / ".bench" / "peer-venv")],
        cwd=ROOT, capture_output=True, text=True, timeout=1200, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    sequential, parallel, full = (json.loads(line) for line in proc.stdout.splitlines())
    assert (sequential["run"], parallel["run"]) == ("peer-sequential", "peer-parallel")
    assert sequential["backend"] == parallel["backend"] == "none"
    assert (sequential["concurrency"], parallel["concurrency"]) == (1, 5)
    for peer in (sequential, parallel):
        # Every row the loader wrote, read once; the table the app user may not read is refused to both.
        assert peer["rows"] == peer["rows_returned"] == full["rows"] > 0.8 * ROWS
        assert peer["tables_failed"] == [] and peer["tables_skipped_optional"] == ["cdm_workerpersonaldetail"]
        assert peer["http_requests"] > peer["pages"] > 0  # one metadata lookup per table, then its pages
        assert 20 < peer["peak_rss_mb"] < 2000 and peer["wall_s"] > 0
