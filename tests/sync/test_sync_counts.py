"""The source count stored with each load: exact below Dataverse's 5000 cap, the snapshot above,
and no request the last stored count makes pointless (the emulator's request log counts them)."""

from __future__ import annotations

import pytest

from hr_dataverse.catalog import load_catalog
from hr_dataverse.sync import RunMetadata, sync_table
from hr_dataverse.sync.counts import COUNT_CAP, EXACT, SNAPSHOT, source_count

LARGE = "mshr_hcmworkerskillentity"  # ≈4.7 rows per HR worker in the emulator's data set
SMALL = "cdm_job"


def _count_requests(emulator) -> list[str]:
    return ["$count" if e.path.endswith("/$count") else "snapshot" for e in emulator.app.request_log.entries()
            if e.path.endswith("/$count") or "RetrieveTotalRecordCount" in e.path]


@pytest.fixture
def large_emulator(emulator_factory):
    emu = emulator_factory(scale=1_200)
    assert emu.app.store.count(LARGE) >= COUNT_CAP  # the data set this test needs
    return emu


@pytest.mark.parametrize(("previous", "expected"), [(None, ["$count"]), (40, ["$count"]),
                                                     (COUNT_CAP, ["snapshot", "$count"])])
def test_small_table_is_counted_exactly(emulator, make_client, previous, expected):
    """A table that shrank below the cap since the last load still gets its exact count."""
    client = make_client(emulator)
    entity_set = client.request("GET", f"EntityDefinitions(LogicalName='{SMALL}')",
                                params={"$select": "EntitySetName"}).data["EntitySetName"]
    emulator.app.request_log.clear()
    got = source_count(client, SMALL, entity_set, previous=previous)
    assert (got.value, got.method) == (emulator.app.store.count(SMALL), EXACT)
    assert _count_requests(emulator) == expected


def test_large_table_asks_for_the_snapshot_first_once_its_count_reached_the_cap(large_emulator, make_client):
    client = make_client(large_emulator)
    entity_set = client.request("GET", f"EntityDefinitions(LogicalName='{LARGE}')",
                                params={"$select": "EntitySetName"}).data["EntitySetName"]
    rows = large_emulator.app.store.count(LARGE)
    large_emulator.app.request_log.clear()
    first = source_count(client, LARGE, entity_set)
    assert (first.value, first.method) == (rows, SNAPSHOT)
    assert _count_requests(large_emulator) == ["$count", "snapshot"]

    large_emulator.app.request_log.clear()
    again = source_count(client, LARGE, entity_set, previous=first.value)
    assert (again.value, again.method) == (rows, SNAPSHOT)
    assert _count_requests(large_emulator) == ["snapshot"]


def test_second_sync_of_a_large_table_counts_with_one_request(large_emulator, make_client, warehouses):
    client = make_client(large_emulator)
    wh = warehouses.open()
    spec = load_catalog().get(LARGE)
    first = sync_table(client, wh, spec, run_id="run-1")
    store = large_emulator.app.store
    store.update(LARGE, next(store.iter_rows(LARGE))[spec.primary_key], {})  # a change: the delta counts
    large_emulator.app.request_log.clear()
    second = sync_table(client, wh, spec, run_id="run-2")
    assert second.mode_used == "delta" and second.source_count == first.source_count >= COUNT_CAP
    assert second.source_count_method == SNAPSHOT
    assert _count_requests(large_emulator) == ["snapshot"]


def test_the_runs_snapshot_serves_every_large_table(large_emulator, make_client, warehouses):
    """``RunMetadata`` asks ``RetrieveTotalRecordCount`` once for the run's tables whose stored count
    reached the cap: such a table's delta with changes then sends no count request of its own."""
    client = make_client(large_emulator)
    wh = warehouses.open()
    spec = load_catalog().get(LARGE)
    names = [LARGE, SMALL, "cdm_workerpersonaldetail"]  # the last one is not readable: never in the snapshot
    large_emulator.app.request_log.clear()
    first = sync_table(client, wh, spec, run_id="run-1", metadata=RunMetadata.fetch(client, names, warehouse=wh))
    assert (first.source_count, first.source_count_method) == (large_emulator.app.store.count(LARGE), SNAPSHOT)
    assert _count_requests(large_emulator) == ["$count", "snapshot"]  # nothing stored yet: the table's own

    store = large_emulator.app.store
    store.update(LARGE, next(store.iter_rows(LARGE))[spec.primary_key], {})
    large_emulator.app.request_log.clear()
    second = sync_table(client, wh, spec, run_id="run-2", metadata=RunMetadata.fetch(client, names, warehouse=wh))
    assert second.mode_used == "delta" and second.source_count_method == SNAPSHOT
    assert _count_requests(large_emulator) == ["snapshot"]  # the run's, none for the table
