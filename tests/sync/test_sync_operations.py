"""Admin operations (Sync now, Clear tracking information, View linked rows), table selection and
the run summary."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sync_helpers import mismatches

from hr_dataverse.catalog import CatalogError, load_catalog
from hr_dataverse.sync import (
    clear_tracking,
    linked_rows,
    resync_table,
    run_summary,
    select_tables,
    sync_table,
)


def test_sync_now_repairs_the_table_and_clear_tracking_forces_a_full_load(emulator, client, sqlite_warehouses):
    app, wh = emulator.app, sqlite_warehouses.open()
    spec = load_catalog().get("cdm_job")
    sync_table(client, wh, spec, run_id="run-1")
    table = wh.table("cdm_job")
    with wh.engine.begin() as conn:  # someone edits the warehouse behind the sync's back
        conn.execute(sa.update(table).values(cdm_name="tampered"))
        conn.execute(sa.delete(table).where(table.c.cdm_jobid == next(app.store.iter_rows("cdm_job"))["cdm_jobid"]))
    assert sync_table(client, wh, spec, run_id="run-2").mode_used == "delta"  # a delta cannot see that
    assert mismatches(app, wh, spec)

    now = resync_table(client, wh, spec, run_id="run-3")
    assert (now.mode_used, now.reason, now.delta_link_stored) == ("full", "full load requested", True)
    assert mismatches(app, wh, spec) == []

    assert clear_tracking(wh, "cdm_job") is True
    assert wh.get_state("cdm_job").delta_link is None
    after = sync_table(client, wh, spec, run_id="run-4")
    assert after.mode_used == "full" and after.reason.startswith("no delta link stored")
    assert clear_tracking(wh, "cdm_worker") is False  # never synced: nothing to clear


def test_linked_rows_lists_ids_sync_times_and_deletions(emulator, client, sqlite_warehouses):
    app, wh = emulator.app, sqlite_warehouses.open()
    catalog = load_catalog()
    for name in ("cdm_company", "cdm_worker"):
        sync_table(client, wh, catalog.get(name), run_id="run-1")
    gone = next(app.store.iter_rows("cdm_worker"))["cdm_workerid"]
    app.store.delete("cdm_worker", gone)
    sync_table(client, wh, catalog.get("cdm_worker"), run_id="run-2")

    rows = linked_rows(wh, catalog, "cdm_worker", limit=1000)
    json.dumps(rows)  # small, JSON-able answers only
    assert len(rows) == app.store.count("cdm_worker") + 1
    assert {r["table_name"] for r in rows} == {"cdm_worker"} and rows[0]["warehouse_table"] == "cdm_worker"
    deleted = [r for r in rows if r["deleted_in_dataverse"]]
    assert [r["dataverse_id"] for r in deleted] == [gone] and deleted[0]["deleted_at"]
    assert rows[0]["last_synced_at"] >= rows[-1]["last_synced_at"]
    assert len(linked_rows(wh, catalog, limit=3)) == 3
    assert {r["table_name"] for r in linked_rows(wh, catalog, limit=1000)} == {"cdm_company", "cdm_worker"}
    with pytest.raises(CatalogError, match="unknown table 'cdm_nope'"):
        linked_rows(wh, catalog, "cdm_nope")


def test_select_tables_validates_the_selection_against_the_catalog():
    catalog = load_catalog()
    assert select_tables(catalog, None) == list(catalog) == select_tables(catalog, [])
    assert [t.name for t in select_tables(catalog, ["cdm_worker", "cdm_company"])] == ["cdm_company", "cdm_worker"]
    with pytest.raises(CatalogError, match="unknown table\\(s\\) 'cdm_nope', 'x'; the catalog has: cdm_company"):
        select_tables(catalog, ["cdm_worker", "cdm_nope", "x"])


def test_run_summary_totals_results_given_as_dicts(emulator, client, sqlite_warehouses):
    wh = sqlite_warehouses.open()
    catalog = load_catalog()
    results = [sync_table(client, wh, spec, run_id="run-1").to_dict()
               for spec in select_tables(catalog, ["cdm_company", "cdm_workeraddress"])]
    summary = run_summary(json.loads(json.dumps(results)))
    assert summary["tables"] == 2 and summary["succeeded"] == 2 and summary["failed"] == []
    assert summary["with_warnings"] == ["cdm_workeraddress"] and len(summary["warnings"]) == 1
    assert summary["modes"] == {"full": ["cdm_company"], "full_every_run": ["cdm_workeraddress"]}
    assert summary["rows_upserted"] == sum(r["rows_upserted"] for r in results) > 0
    assert summary["by_table"]["cdm_company"]["rows_total"] == emulator.app.store.count("cdm_company")
