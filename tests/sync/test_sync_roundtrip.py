"""Full load, deltas with updates and deletes, an expired delta token and a table without change
tracking: after each run the warehouse equals the emulator's data row for row (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sync_helpers import UNREADABLE, mismatches, readable_tables

from dataverse_emulator import mutations
from hr_dataverse.catalog import load_catalog
from hr_dataverse.dataverse import PermissionDenied
from hr_dataverse.sync import TableSyncResult, run_summary, sync_table
from hr_dataverse.sync import prepare as prepare_module

UNTRACKED = "cdm_workeraddress"  # the emulator's table without change tracking


def sync_all(client: Any, wh: Any, run_id: str, **options: Any) -> dict[str, TableSyncResult]:
    return {spec.name: sync_table(client, wh, spec, run_id=run_id, **options) for spec in readable_tables()}


def assert_matches_source(app: Any, wh: Any) -> None:
    problems = [p for spec in readable_tables() for p in mismatches(app, wh, spec)]
    assert problems == [], "\n".join(problems[:20])


def tracked(results: dict[str, TableSyncResult]) -> dict[str, TableSyncResult]:
    return {name: r for name, r in results.items() if name != UNTRACKED}


def test_full_load_deltas_expiry_and_untracked_table_match_the_source(emulator, client, warehouses):
    app, store = emulator.app, emulator.app.store
    wh = warehouses.open()

    first = sync_all(client, wh, "run-1")
    assert {r.mode_used for r in tracked(first).values()} == {"full"}
    assert all(r.delta_link_stored and r.status == "success" and r.warnings == [] for r in tracked(first).values())
    workers = first["cdm_worker"]
    assert workers.rows_upserted == workers.rows_total == workers.source_count == store.count("cdm_worker")
    assert workers.source_count_method == "$count" and workers.pages == 1 and workers.requests >= 3
    untracked = first[UNTRACKED]
    assert (untracked.mode_used, untracked.delta_link_stored, untracked.status) == ("full_every_run", False, "warning")
    assert len(untracked.warnings) == 1 and "no change tracking" in untracked.warnings[0]
    assert wh.get_state("cdm_worker").source_count == store.count("cdm_worker")
    assert_matches_source(app, wh)

    # The guide's incremental sync test: a job-title change, a hire, a termination, a deletion.
    people = sorted(store.iter_rows("cdm_worker"), key=lambda r: r["cdm_workernumber"])
    mutations.change_job_title(store, people[0]["cdm_workernumber"], "Chief Tester")
    mutations.hire(store, first_name="Ada", last_name="Lovelace")
    mutations.terminate(store, people[1]["cdm_workernumber"])
    deleted = mutations.delete_worker(store, people[2]["cdm_workernumber"])
    second = sync_all(client, wh, "run-2")
    assert {r.mode_used for r in tracked(second).values()} == {"delta"}
    assert (second["cdm_worker"].rows_upserted, second["cdm_worker"].rows_deleted) == (3, 1)
    assert second["mshr_hcmratingmodelentity"].rows_upserted == 0 and second[UNTRACKED].mode_used == "full_every_run"
    gone = {c["table"] for c in deleted["changes"] if c["op"] == "delete"} - {UNREADABLE}
    assert {name for name, r in second.items() if r.rows_deleted} == gone
    assert_matches_source(app, wh)

    # Changes, then the tokens expire: every tracked table resyncs in full, reconciling deletes.
    skill = next(store.iter_rows("mshr_hcmworkerskillentity"))
    store.delete("mshr_hcmworkerskillentity", skill["mshr_hcmworkerskillentityid"])
    store.update("cdm_worker", people[3]["cdm_workerid"], {"cdm_profession": "Archivist"})
    app.clock.advance(8 * 86400)  # past the 7-day retention
    third = sync_all(client, wh, "run-3")
    assert {r.mode_used for r in tracked(third).values()} == {"full"}
    for result in tracked(third).values():
        assert result.status == "warning" and result.delta_link_stored and "expired" in result.reason
        assert len(result.warnings) == 1 and "expired or invalid" in result.warnings[0]
    assert third["mshr_hcmworkerskillentity"].rows_deleted == 1  # found by reconciliation
    assert_matches_source(app, wh)

    fourth = sync_all(client, wh, "run-4")  # back to deltas from the new baseline
    assert {r.mode_used for r in tracked(fourth).values()} == {"delta"}
    assert sum(r.rows_upserted + r.rows_deleted for r in tracked(fourth).values()) == 0
    assert_matches_source(app, wh)

    history = wh.runs(table="cdm_worker")
    assert [(r.run_id, r.mode, r.status) for r in history] == [
        ("run-1", "full", "success"), ("run-2", "delta", "success"), ("run-3", "full", "warning"),
        ("run-4", "delta", "success")]
    assert "expired" in history[2].message


def test_deltas_larger_than_a_page_are_followed_to_the_end(emulator, client, sqlite_warehouses):
    store, wh = emulator.app.store, sqlite_warehouses.open()
    spec = load_catalog().get("cdm_worker")
    sync_table(client, wh, spec, run_id="run-1", page_size=10)
    changed = [r["cdm_workerid"] for r in list(store.iter_rows("cdm_worker"))[:23]]
    for n, worker_id in enumerate(changed):
        store.update("cdm_worker", worker_id, {"cdm_profession": f"Role {n}"})
    for worker_id in changed[:4]:
        store.delete("cdm_worker", worker_id)
    result = sync_table(client, wh, spec, run_id="run-2", page_size=10)
    assert (result.mode_used, result.rows_upserted, result.rows_deleted, result.pages) == ("delta", 19, 4, 3)
    assert mismatches(emulator.app, wh, spec) == []


def test_table_losing_change_tracking_is_reloaded_with_reconciliation(emulator, client, sqlite_warehouses):
    app, wh = emulator.app, sqlite_warehouses.open()
    spec = load_catalog().get("cdm_job")
    assert sync_table(client, wh, spec, run_id="run-1").delta_link_stored
    app.store.delete("cdm_job", next(app.store.iter_rows("cdm_job"))["cdm_jobid"])
    app.schema["cdm_job"].change_tracking = False
    result = sync_table(client, wh, spec, run_id="run-2")
    assert (result.mode_used, result.rows_deleted, result.delta_link_stored) == ("full_every_run", 1, False)
    assert "turned off" in result.warnings[0] and "no change tracking" in result.warnings[1]
    assert wh.get_state("cdm_job").delta_link is None
    assert mismatches(app, wh, spec) == []


def test_change_tracking_refused_despite_metadata_falls_back_to_a_full_reload(emulator, client, sqlite_warehouses,
                                                                             monkeypatch):
    app, wh = emulator.app, sqlite_warehouses.open()
    spec = load_catalog().get("cdm_job")
    app.schema["cdm_job"].change_tracking = False
    real = prepare_module.get_entity
    monkeypatch.setattr(prepare_module, "get_entity",
                        lambda c, name, **kw: dataclasses.replace(real(c, name, **kw), change_tracking_enabled=True))
    result = sync_table(client, wh, spec, run_id="run-1")
    assert (result.mode_used, result.delta_link_stored, result.status) == ("full_every_run", False, "warning")
    assert "refused change tracking" in result.warnings[0]
    assert mismatches(app, wh, spec) == []


def test_unreadable_table_fails_alone_and_is_recorded(emulator, client, sqlite_warehouses):
    app, wh = emulator.app, sqlite_warehouses.open()
    catalog = load_catalog()
    before = sync_table(client, wh, catalog.get("cdm_company"), run_id="run-1")
    state = wh.get_state("cdm_company")
    with pytest.raises(PermissionDenied, match="prvReadcdm_workerpersonaldetail"):
        sync_table(client, wh, catalog.get(UNREADABLE), run_id="run-2")
    failed = wh.runs(table=UNREADABLE)
    assert [(r.run_id, r.status) for r in failed] == [("run-2", "failed")] and "PermissionDenied" in failed[0].message
    assert wh.get_state("cdm_company") == state and mismatches(app, wh, catalog.get("cdm_company")) == []
    summary = run_summary([before, TableSyncResult.failure(UNREADABLE, "full", "PermissionDenied: no read privilege")])
    assert summary["failed"] == [UNREADABLE] and summary["succeeded"] == 1
    assert summary["errors"] == {UNREADABLE: "PermissionDenied: no read privilege"}
    assert summary["rows_upserted"] == before.rows_upserted and summary["modes"] == {"full": ["cdm_company"]}
