"""``make demo`` (scripts/demo.py) end to end, as a subprocess on a fresh Airflow home, at a small scale."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hr_dataverse.defaults import DEFAULT_MAX_CONCURRENCY

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def run_demo(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The demo as a user runs it: no test settings, a fresh Airflow home and work folder."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "HR_"))}
    clean.update(AIRFLOW_HOME=str(tmp_path / "airflow"), **env)
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py"), "--workdir", str(tmp_path / "demo"),
                           *args], env=clean, capture_output=True, text=True, timeout=300, cwd=ROOT)


def assert_emulator_stopped(stdout: str) -> None:
    port = int(re.search(r"Emulator: .* at https://127\.0\.0\.1:(\d+)", stdout).group(1))
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_demo_syncs_full_then_delta_and_shows_every_change(tmp_path: Path) -> None:
    result = run_demo(tmp_path, "--scale", "200")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"pool dataverse_api: {DEFAULT_MAX_CONCURRENCY} slots" in out  # min(the default, dop hint 5)
    full, delta = out.split("[3/6]")[1].split("[4/6]")[0], out.split("[5/6]")[1].split("[6/6]")[0]
    assert re.search(r"cdm_worker\s+full\s+200\s+0\s+200\s+0\n", full)
    # Three workers changed, one was deleted (soft): the delta read only those.
    assert re.search(r"cdm_worker\s+delta\s+200\s+1\s+3\s+1\n", delta)
    assert re.search(r"cdm_company\s+delta\s+4\s+0\s+0\s+0\n", delta)
    assert re.search(r"cdm_workerpersonaldetail\s+not loaded \(PermissionDenied; an optional table", delta)
    hired = re.search(r"hired Dana Demo as worker (\d+); terminated worker (\d+); deleted worker (\d+)", out)
    assert hired is not None
    new, left, gone = hired.groups()
    checks = [line.strip() for line in out.split("[6/6]")[1].splitlines()[1:6]]
    assert checks[0] == "OK    cdm_worker synced incrementally: load mode 'delta' (3 rows read, not 200)"
    assert re.fullmatch(r"OK    job title of worker 000001: '.+' -> 'Senior HR Analyst'", checks[1])
    assert re.fullmatch(rf"OK    new worker {new} 'Dana Demo' with employment E{new} from \d{{4}}-\d\d-\d\d", checks[2])
    assert re.fullmatch(rf"OK    terminated worker {left}: employment ended \d{{4}}-\d\d-\d\d, worker status Inactive",
                        checks[3])
    assert re.fullmatch(rf"OK    deleted worker {gone}: soft-deleted in the warehouse at .+", checks[4])
    categories = re.search(r"rows per category: (.+)\n", out).group(1)
    landed = dict(item.rsplit(" ", 1) for item in categories.split(", "))
    assert set(landed) == {"worker", "organization", "skills", "compensation", "benefits", "leave_and_absence"}
    assert all(int(n) > 0 for n in landed.values()), categories
    assert re.search(r"fno_benefitsplanemployees\s+full_every_run\s+\d+", full)
    assert "OK    every category of the catalog landed rows (6 categories)" in out
    assert "6 of 6 changes arrived" in out
    assert (tmp_path / "demo" / "hr_warehouse.db").is_file()
    assert_emulator_stopped(out)


def test_demo_fails_with_the_failed_step_and_still_stops_the_emulator(tmp_path: Path) -> None:
    empty = tmp_path / "no-dags"
    empty.mkdir()
    result = run_demo(tmp_path, "--scale", "20", AIRFLOW__CORE__DAGS_FOLDER=str(empty))
    assert result.returncode == 1
    assert "DEMO FAILED: run-full failed (exit code 1); last lines of" in result.stderr
    assert str(tmp_path / "demo" / "logs" / "run-full.log") in result.stderr
    assert "[3/6]" not in result.stdout
    assert_emulator_stopped(result.stdout)
