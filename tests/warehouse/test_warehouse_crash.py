"""Crash safety and bounded memory: a load process killed with SIGKILL, then rerun, gives exactly
the state of an uninterrupted run; a load of many pages keeps Python memory at about one page."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tracemalloc
from pathlib import Path

from warehouse_fakes import COLUMNS, SPEC, TABLE, Target, contents, delta_load, full_load, pages

from hr_dataverse.warehouse import Warehouse

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def start_child(target: Target, phase: str, *args: str) -> subprocess.Popen[str]:
    path = os.pathsep.join([str(ROOT / "include"), str(HERE), os.environ.get("PYTHONPATH", "")])
    command = [sys.executable, str(HERE / "warehouse_child.py"), target.url, target.schema or "", phase, *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": path})


def kill_when(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdout is not None and proc.stderr is not None
    for out in proc.stdout:
        if out.strip() == line:
            break
    else:
        proc.wait()
        raise AssertionError(f"the child ended before '{line}': {proc.stderr.read()}")
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    proc.stdout.close()
    proc.stderr.close()


def test_killed_while_staging_then_rerun_gives_the_exact_state(target: Target) -> None:
    wh = target.open()
    full_load(wh, "run-1", "link-1")
    after_full, state_full = contents(wh), wh.get_state(TABLE)

    kill_when(start_child(target, "staging"), "staged 3")

    assert contents(wh) == after_full  # nothing staged reached the live table
    assert wh.get_state(TABLE) == state_full  # still pointing at the previous delta link
    assert [r.run_id for r in wh.runs()] == ["run-1"]
    rerun = target.open()  # as the retried task would
    rerun.ensure_table(SPEC, COLUMNS)
    delta_load(rerun, "run-2", rerun.get_state(TABLE).delta_link.replace("link-1", "link-2"))

    reference = target.other("ref").open()  # the same loads, never interrupted
    full_load(reference, "run-1", "link-1")
    delta_load(reference, "run-2", "link-2")
    assert contents(rerun) == contents(reference)
    assert len(contents(rerun)) == 250
    assert rerun.get_state(TABLE).delta_link == "link-2" and rerun.get_state(TABLE).rows_total == 225


def test_killed_while_committing_is_all_or_nothing(target: Target) -> None:
    wh = target.open()
    full_load(wh, "run-1", "link-1")
    before = contents(wh)
    reference = target.other("ref").open()
    full_load(reference, "run-1", "link-1")
    with reference.begin_load(TABLE, "run-3", "full") as load:
        for page in pages(0, 5000, 500, version=3):
            load.stage_rows(page)
        load.commit(delta_link="link-3", source_count=5000, reconcile_deletes=True)

    kill_when(start_child(target, "committing"), "committing")

    after = target.open()
    after.ensure_table(SPEC, COLUMNS)
    link = after.get_state(TABLE).delta_link
    assert (link, contents(after)) in (("link-1", before), ("link-3", contents(reference)))
    if link == "link-1":  # killed before the commit finished: rerun the full load
        with after.begin_load(TABLE, "run-3", "full") as load:
            for page in pages(0, 5000, 500, version=3):
                load.stage_rows(page)
            load.commit(delta_link="link-3", source_count=5000, reconcile_deletes=True)
    assert contents(after) == contents(reference)


def test_parallel_processes_load_different_tables(target: Target) -> None:
    """Three processes (as three mapped Airflow tasks) load into one warehouse at the same time:
    no lock errors on SQLite, no DDL races on PostgreSQL."""
    tables = ["cdm_worker", "cdm_employee", "cdm_contractor"]
    children = [start_child(target, "parallel", t) for t in tables]
    for child in children:
        out, err = child.communicate(timeout=120)
        assert (child.returncode, out.strip()) == (0, "done"), err
    wh = target.open()
    for t in tables:
        state = wh.get_state(t)
        assert (state.delta_link, state.rows_total, state.last_run_id) == ("link-4", 300, "run-4")
    assert len(wh.runs()) == 15


def load_peak(wh: Warehouse, run_id: str, rows: int, page_size: int) -> int:
    """Peak Python memory of a full load of ``rows`` rows read in pages of ``page_size``."""
    tracemalloc.start()
    with wh.begin_load(TABLE, run_id, "full") as load:
        for page in pages(0, rows, page_size):
            load.stage_rows(page)
        assert load.commit(delta_link=run_id, source_count=rows).rows_total == rows
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_many_pages_keep_memory_bounded(target: Target) -> None:
    page_size = 250
    tracemalloc.start()
    one_page = list(next(pages(0, page_size, page_size)))
    page_bytes = tracemalloc.get_traced_memory()[0]
    del one_page
    tracemalloc.stop()

    wh = target.open(chunk_rows=100)
    wh.ensure_table(SPEC, COLUMNS)
    few = load_peak(wh, "run-1", 4 * page_size, page_size)
    many = load_peak(wh, "run-2", 24 * page_size, page_size)
    # Six times the pages, about the same peak (staging holding rows in Python would need 6x);
    # in absolute terms a few pages' worth.
    assert many < 1.5 * few, (many, few)
    assert many < 4 * page_bytes, (many, page_bytes)
