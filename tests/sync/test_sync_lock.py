"""One load per table at a time: two real load processes on one warehouse are serialised by the
table's load lock, a SIGKILLed holder never blocks the next load, and a load that cannot get the
lock within its wait is skipped with a clear result (SQLite and PostgreSQL)."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hr_dataverse.catalog import load_catalog
from hr_dataverse.sync import sync_table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TABLE = "cdm_worker"
WAITING = "another process is loading it"


@pytest.fixture(autouse=True)
def _collect_garbage() -> Any:
    """Finalise this test's engines, pipes and processes now, not during a later test's memory measurement."""
    yield
    gc.collect()


def start_load(emulator: Any, warehouses: Any, run_id: str, **options: Any) -> subprocess.Popen[str]:
    url, schema = warehouses.location()
    args = {"info": emulator.info, "url": url, "schema": schema, "table": TABLE, "run_id": run_id,
            "page_size": 5000, "partition_by_key": False, **options}
    path = os.pathsep.join([str(ROOT / "include"), str(ROOT / "emulator"), str(HERE), os.environ.get("PYTHONPATH", "")])
    return subprocess.Popen([sys.executable, str(HERE / "sync_child.py"), json.dumps(args)], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": path})


def read_until(stream: Any, marker: str) -> list[str]:
    """Lines of ``stream`` up to and including the first containing ``marker`` (blocks; no timing)."""
    seen = []
    for line in stream:
        seen.append(line)
        if marker in line:
            return seen
    raise AssertionError(f"the process ended before printing {marker!r}: {''.join(seen)}")


def result_of(out: str) -> dict[str, Any]:
    return json.loads(next(line for line in out.splitlines() if line.startswith("result "))[len("result "):])


def test_two_load_processes_of_one_table_are_serialised(emulator, warehouses):
    first = start_load(emulator, warehouses, "run-a", pause_in_lock=True)
    second = None
    try:
        read_until(first.stdout, "paused")  # A holds the lock and planned a full load (nothing stored yet)
        second = start_load(emulator, warehouses, "run-b", lock_wait_s=120)
        read_until(second.stderr, WAITING)  # B reached the lock and waits: it has not planned anything
        first.stdin.write("go\n")
        first.stdin.flush()
        out_a, err_a = first.communicate(timeout=120)
        out_b, err_b = second.communicate(timeout=120)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
    assert first.returncode == 0 and second.returncode == 0, err_a + err_b
    a, b = result_of(out_a), result_of(out_b)
    assert (a["mode_used"], a["status"]) == ("full", "success")
    # B planned after A committed, so it followed A's delta link; unserialised, both would load in full.
    assert (b["mode_used"], b["status"], b["rows_upserted"]) == ("delta", "success", 0)
    history = warehouses.open().runs(table=TABLE)
    assert [(r.run_id, r.mode) for r in history] == [("run-a", "full"), ("run-b", "delta")]
    assert history[1].started_at >= history[0].finished_at


def test_a_killed_lock_holder_does_not_block_the_next_load(emulator, warehouses):
    holder = start_load(emulator, warehouses, "run-killed", pause_in_lock=True)
    try:
        read_until(holder.stdout, "paused")
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.communicate(timeout=60)
    assert holder.returncode == -signal.SIGKILL
    nxt = start_load(emulator, warehouses, "run-next", lock_wait_s=60)
    out, err = nxt.communicate(timeout=120)
    assert nxt.returncode == 0, err
    result = result_of(out)
    assert (result["mode_used"], result["status"]) == ("full", "success")  # the killed load committed nothing
    assert result["rows_total"] == emulator.app.store.count(TABLE)
    assert [(r.run_id, r.status) for r in warehouses.open().runs(table=TABLE)] == [("run-next", "success")]


def test_a_load_that_cannot_get_the_lock_is_skipped_with_a_clear_result(emulator, client, warehouses):
    wh = warehouses.open()
    spec = load_catalog().get(TABLE)
    with wh.load_lock(TABLE, wait_s=0):  # another holder (own connection / own open file)
        result = sync_table(client, wh, spec, run_id="run-busy", lock_wait_s=0)
    assert result.status == "skipped" and result.rows_upserted == 0
    assert "is being loaded by another process" in result.reason and "skipped" in result.reason
    assert [(r.run_id, r.status) for r in wh.runs(table=TABLE)] == [("run-busy", "skipped")]
    assert wh.get_state(TABLE) is None or wh.get_state(TABLE).delta_link is None
    after = sync_table(client, wh, spec, run_id="run-free", lock_wait_s=0)  # released: loads at once
    assert (after.status, after.mode_used) == ("success", "full")
