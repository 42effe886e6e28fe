"""A sync process killed (SIGKILL) in the middle of a table, then rerun, gives exactly the state of
the source: nothing half-applied is visible, no change is lost, none is applied twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sync_helpers import mismatches, warehouse_rows

from hr_dataverse.catalog import load_catalog
from hr_dataverse.sync import sync_table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TABLE = "cdm_worker"
PAGE_SIZE = 5


def start_sync(emulator: Any, warehouses: Any, run_id: str, page_size: int,
               partitioned: bool = False) -> subprocess.Popen[str]:
    url, schema = warehouses.location()
    args = {"info": emulator.info, "url": url, "schema": schema, "table": TABLE, "run_id": run_id,
            "page_size": page_size, "partition_by_key": partitioned}
    path = os.pathsep.join([str(ROOT / "include"), str(ROOT / "emulator"), str(HERE), os.environ.get("PYTHONPATH", "")])
    emulator.app.request_log.clear()
    return subprocess.Popen([sys.executable, str(HERE / "sync_child.py"), json.dumps(args)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": path})


def kill_after_requests(proc: subprocess.Popen[str], emulator: Any, data_requests: int) -> None:
    """SIGKILL the child once it asked for ``data_requests`` pages of the table. A sequential read
    asks for page n + 1 while staging page n (read-ahead); parallel readers are at most two pages
    per worker ahead of staging."""
    entity_set = emulator.app.schema[TABLE].entity_set_name
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pages = [e for e in emulator.app.request_log.entries() if e.path.endswith(f"/{entity_set}")]
        if len(pages) >= data_requests:
            break
        assert proc.poll() is None, f"the sync ended before it was killed: {proc.communicate()}"
        time.sleep(0.01)
    else:
        raise AssertionError("the sync never reached the page to be killed at")
    os.kill(proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL and "finished" not in out, err


@pytest.mark.parametrize("partitioned", [True, False], ids=["key-ranges", "page-by-page"])
def test_killed_during_a_full_load_then_rerun_gives_the_source_state(emulator, client, warehouses, partitioned):
    app, wh = emulator.app, warehouses.open()
    spec = replace(load_catalog().get(TABLE), partition_by_key=partitioned)
    app.config.latency_ms = 100  # slow pages, so the kill lands mid-table
    # Partitioned: the key baseline with one 2-row range per page; else one tracked read, read ahead.
    kill_after_requests(start_sync(emulator, warehouses, "run-1", page_size=2, partitioned=partitioned), emulator,
                        data_requests=10)
    app.config.latency_ms = 0

    assert warehouse_rows(wh, spec) == {}  # the staged pages never reached the live table
    state = wh.get_state(TABLE)
    assert state is not None and state.delta_link is None and wh.runs() == []
    rerun = sync_table(client, warehouses.open(), spec, run_id="run-1", page_size=2)
    rows = app.store.count(TABLE)
    assert (rerun.mode_used, rerun.rows_upserted, rerun.partitions) == ("full", rows, -(-rows // 2) if partitioned else 1)
    assert mismatches(app, wh, spec) == []


def test_killed_during_a_delta_then_rerun_applies_every_change_once(emulator, client, warehouses):
    app, store, wh = emulator.app, emulator.app.store, warehouses.open()
    spec = load_catalog().get(TABLE)
    sync_table(client, wh, spec, run_id="run-1")
    before, state = warehouse_rows(wh, spec), wh.get_state(TABLE)
    workers = list(store.iter_rows(TABLE))
    for n, worker in enumerate(workers[:27]):
        store.update(TABLE, worker["cdm_workerid"], {"cdm_profession": f"Role {n}"})
    for worker in workers[27:30]:
        store.delete(TABLE, worker["cdm_workerid"])

    app.config.latency_ms = 100
    kill_after_requests(start_sync(emulator, warehouses, "run-2", page_size=PAGE_SIZE), emulator, data_requests=4)
    app.config.latency_ms = 0

    assert warehouse_rows(wh, spec) == before and wh.get_state(TABLE) == state
    assert [r.run_id for r in wh.runs()] == ["run-1"]
    rerun = sync_table(client, warehouses.open(), spec, run_id="run-2", page_size=PAGE_SIZE)
    assert (rerun.mode_used, rerun.rows_upserted, rerun.rows_deleted) == ("delta", 27, 3)
    assert mismatches(app, wh, spec) == []
