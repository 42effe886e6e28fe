"""The fixed requests of a run, counted in the emulator's request log: one metadata request for all
of a run's tables (``RunMetadata``), drift still seen on the next run, and no count request for a
delta that shows no change (while every full read still counts before the delete guard judges it)."""

from __future__ import annotations

import pytest
from test_sync_drift import _change_source_schema

from hr_dataverse.catalog import load_catalog
from hr_dataverse.dataverse import get_entity
from hr_dataverse.dataverse.metadata import entity_from_payload
from hr_dataverse.sync import RunMetadata, sync_table
from hr_dataverse.sync.counts import EXACT, UNCHANGED

TABLES = ("cdm_job", "cdm_department", "cdm_worker")


def _paths(emulator, *, contains: str) -> list[str]:
    return [e.path for e in emulator.app.request_log.entries() if contains in e.path]


def _metadata_requests(emulator) -> list[str]:
    """Table metadata reads: the batch (``EntityDefinitions``) or one table's (``EntityDefinitions(…)``),
    not the lazy option-label / lookup-target sub-requests."""
    return [p for p in _paths(emulator, contains="EntityDefinitions") if "/Attributes" not in p]


def _count_requests(emulator) -> list[str]:
    return [p for p in (e.path for e in emulator.app.request_log.entries())
            if p.endswith("/$count") or "RetrieveTotalRecordCount" in p]


def test_one_metadata_request_serves_every_table_of_the_run(emulator, client, sqlite_warehouses):
    wh = sqlite_warehouses.open()
    catalog = load_catalog()
    emulator.app.request_log.clear()
    metadata = RunMetadata.fetch(client, TABLES)
    for name in TABLES:
        assert sync_table(client, wh, catalog.get(name), run_id="run-1", metadata=metadata).status == "success"
    assert [p.rsplit("/", 1)[-1] for p in _metadata_requests(emulator)] == ["EntityDefinitions"]


def test_batched_metadata_equals_the_per_table_read(emulator, client):
    payloads = RunMetadata.fetch(client, TABLES)
    for name in TABLES:
        batched = entity_from_payload(client, payloads.payload(name), lazy_options=True)
        single = get_entity(client, name, lazy_options=True)
        assert batched.entity_set_name == single.entity_set_name
        assert batched.change_tracking_enabled == single.change_tracking_enabled
        assert {k: (a.attribute_type, a.targets, a.required_level) for k, a in batched.attributes.items()} == \
               {k: (a.attribute_type, a.targets, a.required_level) for k, a in single.attributes.items()}


def test_next_run_sees_a_schema_change(emulator, client, sqlite_warehouses):
    """The metadata is read per run, never carried over: a column removed in between is seen."""
    wh, spec = sqlite_warehouses.open(), load_catalog().get("cdm_job")
    sync_table(client, wh, spec, run_id="run-1", metadata=RunMetadata.fetch(client, [spec.name]))
    _change_source_schema(emulator.app, spec.name, "cdm_description")
    result = sync_table(client, wh, spec, run_id="run-2", metadata=RunMetadata.fetch(client, [spec.name]))
    assert result.mode_used == "full" and "column selection changed" in result.reason
    assert any("'cdm_description' is no longer delivered" in w for w in result.warnings)


@pytest.mark.parametrize("reason", ["missing", "too old"])
def test_a_table_the_run_metadata_cannot_serve_reads_its_own(emulator, client, sqlite_warehouses, reason):
    wh, spec = sqlite_warehouses.open(), load_catalog().get("cdm_job")
    metadata = (RunMetadata.fetch(client, ["cdm_department"]) if reason == "missing"
                else RunMetadata.fetch(client, [spec.name], max_age_s=0.0))
    emulator.app.request_log.clear()
    assert sync_table(client, wh, spec, run_id="run-1", metadata=metadata).status == "success"
    assert _metadata_requests(emulator) == ["/api/data/v9.2/EntityDefinitions(LogicalName='cdm_job')"]


def test_delta_without_changes_sends_no_count_and_keeps_the_last_one(emulator, client, sqlite_warehouses):
    wh, spec = sqlite_warehouses.open(), load_catalog().get("cdm_job")
    first = sync_table(client, wh, spec, run_id="run-1")
    assert first.source_count_method == EXACT and first.source_count == emulator.app.store.count(spec.name)

    emulator.app.request_log.clear()
    quiet = sync_table(client, wh, spec, run_id="run-2")
    assert quiet.mode_used == "delta" and _count_requests(emulator) == []
    assert (quiet.source_count, quiet.source_count_method) == (first.source_count, UNCHANGED)
    assert wh.get_state(spec.name).source_count == first.source_count

    emulator.app.store.delete(spec.name, next(emulator.app.store.iter_rows(spec.name))["cdm_jobid"])
    emulator.app.request_log.clear()
    changed = sync_table(client, wh, spec, run_id="run-3")
    assert changed.mode_used == "delta" and changed.rows_deleted == 1
    assert len(_count_requests(emulator)) == 1
    assert (changed.source_count, changed.source_count_method) == (first.source_count - 1, EXACT)
    assert wh.get_state(spec.name).source_count == first.source_count - 1


def test_a_full_read_after_a_refused_delta_link_still_counts_first(emulator, client, sqlite_warehouses):
    """The delete guard's evidence: a delta that falls back to a full read counts before reading."""
    wh, spec = sqlite_warehouses.open(), load_catalog().get("cdm_job")
    sync_table(client, wh, spec, run_id="run-1")
    emulator.app.clock.advance(8 * 86400)  # past the 7-day retention: the delta link is refused
    emulator.app.request_log.clear()
    result = sync_table(client, wh, spec, run_id="run-2")
    assert result.mode_used == "full" and result.source_count_method == EXACT
    log = [e.path for e in emulator.app.request_log.entries()]
    first_count = next(i for i, p in enumerate(log) if p.endswith("/$count"))
    reads = [i for i, p in enumerate(log) if p.endswith("/cdm_jobs")]
    assert len(reads) >= 2 and first_count < reads[-1]  # refused delta read, count, then the full read
