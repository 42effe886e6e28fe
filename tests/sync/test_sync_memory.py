"""A full load streams: Python memory during the load does not grow with the number of pages."""

from __future__ import annotations

import json
import tracemalloc

from hr_dataverse.catalog import load_catalog
from hr_dataverse.sync import sync_table

TABLE = "cdm_skilltype"
PAGE_SIZE = 50


def _grow(store, rows: int) -> int:
    """Add ~2 kB rows until the table has ``rows``; returns the table's size as JSON."""
    while store.count(TABLE) < rows:
        n = store.count(TABLE)
        store.insert(TABLE, {"cdm_name": f"Skill type {n}", "cdm_description": f"{n} " + "d" * 2000})
    return sum(len(json.dumps(row)) for row in store.iter_rows(TABLE))


def _peak_during_load(client, wh, spec, run_id: str) -> tuple[int, int]:
    """The lower of two loads' peaks: one load's peak varies by ~200 kB (threads, caches)."""
    peaks = []
    for attempt in range(2):
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = sync_table(client, wh, spec, run_id=f"{run_id}-{attempt}", mode="full", page_size=PAGE_SIZE)
        peaks.append(tracemalloc.get_traced_memory()[1] - before)
    return min(peaks), result.pages


def test_peak_memory_of_a_full_load_does_not_grow_with_the_table(emulator, client, sqlite_warehouses):
    store, wh = emulator.app.store, sqlite_warehouses.open()
    spec = load_catalog().get(TABLE)
    tracemalloc.start()  # traces the in-process emulator too: its per-page work is bounded as well
    try:
        sync_table(client, wh, spec, run_id="warm-up", page_size=PAGE_SIZE)  # imports, statement caches
        small_bytes = _grow(store, 250)
        small_peak, small_pages = _peak_during_load(client, wh, spec, "small")
        large_bytes = _grow(store, 2500)
        large_peak, large_pages = _peak_during_load(client, wh, spec, "large")
    finally:
        tracemalloc.stop()
    assert (small_pages, large_pages) == (5, 50)
    # Ten times the pages and data: the peak grows by a few per cent of the added data (paging
    # links and request bookkeeping), and stays far below what holding the table would need.
    assert large_peak - small_peak < 0.1 * (large_bytes - small_bytes)
    assert large_peak < 0.5 * large_bytes


def test_a_name_only_entry_with_every_column_also_streams(emulator, client, sqlite_warehouses):
    """The wider tables whose columns come from metadata (all of them, lookups named, choices labelled)."""
    from pathlib import Path

    from hr_dataverse.catalog import parse_catalog

    table = "cdm_workerfixedcompensation"
    store, wh = emulator.app.store, sqlite_warehouses.open()
    spec = parse_catalog({"tables": [{"name": table}]}, Path("c.yaml")).tables[0]
    template = {k: v for k, v in next(store.iter_rows(table)).items()
                if k not in ("cdm_workerfixedcompensationid", "versionnumber", "createdon", "modifiedon")}

    def grow(rows: int) -> int:
        while store.count(table) < rows:
            n = store.count(table)
            store.insert(table, {**template, "cdm_workerfixedcompensationnumber": f"FC-{n}-" + "x" * 2000})
        return sum(len(json.dumps(row)) for row in store.iter_rows(table))

    tracemalloc.start()
    try:
        sync_table(client, wh, spec, run_id="warm-up", page_size=PAGE_SIZE)
        peaks = []
        for rows in (250, 2500):
            size = grow(rows)
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            result = sync_table(client, wh, spec, run_id=f"r{rows}", mode="full", page_size=PAGE_SIZE)
            peaks.append((tracemalloc.get_traced_memory()[1] - before, size, result.pages))
    finally:
        tracemalloc.stop()
    (small, small_bytes, _), (large, large_bytes, large_pages) = peaks
    assert large_pages == 50 and len(spec.columns) == 0  # every column came from metadata
    assert large - small < 0.1 * (large_bytes - small_bytes)
    assert large < 0.5 * large_bytes
