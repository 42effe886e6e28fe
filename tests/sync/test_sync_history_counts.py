"""Throttling and retries reach the warehouse run history, not only the task log: the emulator
answers 429 (with Retry-After) and 503, and the history row of the load counts them."""

from __future__ import annotations

import pytest

from hr_dataverse.catalog import load_catalog
from hr_dataverse.dataverse import DataverseError
from hr_dataverse.sync import sync_table

TABLE = "cdm_job"


def test_throttling_and_retries_are_recorded_per_load(emulator, make_client, warehouses):
    client = make_client(emulator)
    wh = warehouses.open()
    spec = load_catalog().get(TABLE)
    emulator.app.faults.queue(status=429, count=2, retry_after=1, path_contains="/cdm_jobs")
    emulator.app.faults.queue(status=503, count=1, path_contains="/cdm_jobs")
    result = sync_table(client, wh, spec, run_id="run-1")
    (row,) = wh.runs(table=TABLE)
    assert (row.throttled, row.retries) == (2, 3)
    assert row.wait_seconds >= 2.0  # Retry-After: 1 s, twice, plus the 503's backoff
    assert (result.throttled, result.retries, result.wait_seconds) == (row.throttled, row.retries, row.wait_seconds)
    assert row.requests == result.requests and row.requests >= 4
    assert row.warnings == tuple(result.warnings)

    # A quiet second run records zeros.
    sync_table(client, wh, spec, run_id="run-2")
    second = wh.runs(run_id="run-2")[0]
    assert (second.mode, second.throttled, second.retries, second.wait_seconds) == ("delta", 0, 0, 0.0)


def test_a_failed_load_records_its_throttling_too(emulator, make_client, warehouses):
    client = make_client(emulator, max_attempts=2)
    wh = warehouses.open()
    emulator.app.faults.queue(status=429, count=5, retry_after=1, path_contains="/cdm_jobs")
    with pytest.raises(DataverseError):
        sync_table(client, wh, load_catalog().get(TABLE), run_id="run-f")
    (row,) = wh.runs(run_id="run-f")
    assert row.status == "failed" and row.throttled == 2 and row.retries == 1 and row.wait_seconds == 1.0
