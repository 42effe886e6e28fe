"""The hr_dataverse_sync and hr_dataverse_admin DAGs: their shape, then dag.test() runs against the
in-process emulator into a SQLite warehouse (full load, HR changes and a delta, the admin actions)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from dataverse_emulator.mutations import apply
from dataverse_emulator.testing import RunningEmulator, running_emulator
from hr_dataverse.catalog import DEFAULT_CATALOG, load_catalog
from hr_dataverse.sync import TableSyncResult
from hr_dataverse.warehouse import Warehouse
from hr_deployment.admin_tasks import ACTIONS
from hr_deployment.assets import SYNC_ALIAS, table_asset
from hr_deployment.integration import SWITCH_VARIABLE
from hr_deployment.pools import (
    DATAVERSE_POOL,
    PARTITION_SLOTS_ENV,
    PROBE_SLOTS_ENV,
    partition_slots,
    probe_slots,
)

pytestmark = pytest.mark.airflow

ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(DEFAULT_CATALOG).names()
# cdm_workerpersonaldetail is optional and unreadable
REGULAR = ["cdm_company", "cdm_job", "cdm_workerpersonaldetail", "cdm_worker", "cdm_employment"]
LARGE = ["mshr_hcmworkerskillentity"]  # catalog partition_by_key: read as key ranges
LOADED = ["cdm_company", "cdm_job", "cdm_worker", "cdm_employment", *LARGE]
INACTIVE = 754400001  # cdm_worker.cdm_status "Inactive"
# The URS mapping (tested in test_mapping_quality_dags.py) needs the HR skill tables these runs do not load.
LATER_STEPS = {"urs_mapping": {"enabled": False, "dry_run": False, "full_remap": False}, "data_quality": {}}


def parse(path: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(path))


@pytest.fixture(scope="module")
def dags() -> dict[str, Any]:
    """The DAGs as parsed, for shape tests (dag.test() keeps a run's conf in the DAG's params)."""
    bag = parse(ROOT / "dags")
    assert bag.import_errors == {}
    return bag.dags


@pytest.fixture(scope="module")
def runnable() -> dict[str, Any]:
    """The DAGs for dag.test() runs; every run passes all its params."""
    bag = parse(ROOT / "dags")
    assert bag.import_errors == {}
    return bag.dags


# --- shape -------------------------------------------------------------------------------------


def test_sync_dag_runs_checks_then_mapped_loads_then_the_summary(dags: dict[str, Any]) -> None:
    dag = dags["hr_dataverse_sync"]
    assert (dag.schedule, dag.catchup, dag.max_active_runs) == ("*/15 * * * *", False, 1)
    upstream = {t.task_id: t.upstream_task_ids for t in dag.tasks}
    assert upstream == {
        "integration_enabled": set(),
        "validate_token": {"integration_enabled"},
        "check_entity_access": {"validate_token", "probe_changes"},  # checks what the plan loads
        "probe_changes": {"integration_enabled"},
        "regular_tables": {"check_entity_access", "probe_changes"},
        "large_tables": {"check_entity_access", "probe_changes"},
        "load_table": {"regular_tables"},
        "load_large_table": {"large_tables"},
        "run_summary": {"probe_changes", "regular_tables", "large_tables", "load_table", "load_large_table"},
        "changes_to_process": {"probe_changes", "run_summary"},
        "map_characteristics": {"changes_to_process"},
        "data_quality": {"map_characteristics"},
        "watcher": {"map_characteristics", "data_quality"},
    }
    load, large, summary = (dag.get_task(t) for t in ("load_table", "load_large_table", "run_summary"))
    for task_id in ("validate_token", "check_entity_access", "load_table"):  # every task that calls Dataverse
        assert (dag.get_task(task_id).pool, dag.get_task(task_id).pool_slots) == (DATAVERSE_POOL, 1)
    assert (large.pool, large.pool_slots) == (DATAVERSE_POOL, partition_slots())
    probe = dag.get_task("probe_changes")
    assert (probe.pool, probe.pool_slots) == (DATAVERSE_POOL, probe_slots())
    assert large.priority_weight > load.priority_weight  # the longest loads are queued first
    assert load.outlets == large.outlets == [SYNC_ALIAS]
    assert summary.inlets == [table_asset(name) for name in CATALOG]
    assert table_asset("cdm_worker").uri == "dataverse://hr/cdm_worker"


def test_sync_dag_trigger_form(dags: dict[str, Any]) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    params = dags["hr_dataverse_sync"].params
    params.validate()  # the defaults: every table, auto
    assert {k: params[k] for k in params} == {
        "tables": [], "categories": [], "mode": "auto", "urs_mapping": None, "data_quality": None,
        "allow_mass_delete": False, "max_delete_percent": None, "conn_id": "dataverse_default"}
    for name in ("tables", "categories", "urs_mapping", "data_quality", "max_delete_percent"):
        assert "null" in params.get_param(name).schema["type"]  # optional: nullable, so not marked required
    categories = params.get_param("categories")
    assert categories.schema["items"]["enum"] == load_catalog(DEFAULT_CATALOG).categories()
    assert {"compensation", "benefits", "leave_and_absence"} <= set(categories.schema["items"]["enum"])
    assert categories.schema["values_display"]["leave_and_absence"] == "Leave and absence"
    with pytest.raises(ParamValidationError):
        categories.resolve(["payrol"])
    tables, mode = params.get_param("tables"), params.get_param("mode")
    assert tables.schema["items"]["enum"] == CATALOG
    assert tables.schema["examples"] == CATALOG  # the UI's multi-select
    assert mode.schema["enum"] == ["auto", "full", "delta"] and set(mode.schema["values_display"]) == {
        "auto", "full", "delta"}
    for name in ("tables", "mode", "allow_mass_delete", "max_delete_percent"):
        param = params.get_param(name)
        assert param.schema["title"] and param.description
    assert params.get_param("max_delete_percent").resolve(12.5) == 12.5
    with pytest.raises(ParamValidationError):
        params.get_param("max_delete_percent").resolve(150)
    assert tables.resolve(["cdm_worker"]) == ["cdm_worker"]
    with pytest.raises(ParamValidationError):
        tables.resolve(["cdm_nosuchtable"])
    with pytest.raises(ParamValidationError):
        mode.resolve("sometimes")


@pytest.mark.parametrize(("value", "expected"), [("", "*/15 * * * *"), ("@hourly", "@hourly"), ("none", None)])
def test_schedule_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str, expected: str | None) -> None:
    monkeypatch.setenv("HR_DATAVERSE_SYNC_SCHEDULE", value)
    bag = parse(ROOT / "dags" / "hr_dataverse_sync.py")
    assert bag.dags["hr_dataverse_sync"].schedule == expected


def test_bad_partition_slots_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PARTITION_SLOTS_ENV, "many")
    bag = parse(ROOT / "dags" / "hr_dataverse_sync.py")
    assert bag.dags == {}
    (error,) = bag.import_errors.values()
    assert "HR_DATAVERSE_PARTITION_SLOTS must be a whole number, got 'many'" in error


def test_the_probe_and_the_large_table_loads_hold_their_own_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PARTITION_SLOTS_ENV, "2")
    monkeypatch.setenv(PROBE_SLOTS_ENV, "5")
    dag = parse(ROOT / "dags" / "hr_dataverse_sync.py").dags["hr_dataverse_sync"]
    assert (dag.get_task("load_large_table").pool_slots, dag.get_task("probe_changes").pool_slots) == (2, 5)
    monkeypatch.setenv(PROBE_SLOTS_ENV, "0")
    bag = parse(ROOT / "dags" / "hr_dataverse_sync.py")
    (error,) = bag.import_errors.values()
    assert bag.dags == {} and "HR_DATAVERSE_PROBE_SLOTS must be at least 1, got 0" in error


def test_admin_dag_offers_the_integration_page_actions(dags: dict[str, Any]) -> None:
    dag = dags["hr_dataverse_admin"]
    assert dag.schedule is None and dag.max_active_runs == 1
    assert dag.get_task("choose_action").downstream_task_ids == set(ACTIONS)
    assert set(ACTIONS) == {"sync_now", "clear_tracking", "turn_off", "turn_on", "view_linked_rows"}
    params = dag.params
    params.validate()
    assert params.get_param("action").schema["enum"] == list(ACTIONS)
    assert params.get_param("table").schema["enum"] == [None, *CATALOG]
    # As the UI gets it (the serialized DAG): it labels an option values_display[str(value)], else
    # values_display["None"], else the value. Each table must show its own name, the empty choice "(none)".
    from airflow.serialization.serialized_objects import DagSerialization

    serialized = json.loads(json.dumps(DagSerialization.to_dict(dag)["dag"]["params"]))
    schema = dict(serialized)["table"]["schema"]["__var"]
    display = schema["values_display"]["__var"]
    labels = [display.get(key, display.get("None", key)) for key in
              ("null" if v is None else str(v) for v in schema["enum"])]
    assert labels == ["(none)", *CATALOG]
    for name in params:
        assert params.get_param(name).schema["title"] and params.get_param(name).description


# --- runs --------------------------------------------------------------------------------------


@dataclass
class Synced:
    emulator: RunningEmulator
    warehouse: Warehouse
    first_run: Any


@pytest.fixture(scope="module")
def synced(runnable: dict[str, Any], airflow_db: None, emulator_state_dir: Path, conn_json: Any,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    """An emulator, the connection and a fresh warehouse, after one full run of the selected tables."""
    from airflow.models.variable import Variable

    tmp = tmp_path_factory.mktemp("sync-dag")
    with running_emulator(emulator_state_dir) as emu, pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_DATAVERSE_DEFAULT", conn_json(emu.info))
        mp.setenv("HR_WAREHOUSE_URL", f"sqlite:///{tmp / 'hr.db'}")
        mp.setenv("HR_REPORTS_DIR", str(tmp / "reports"))
        mp.setenv("HR_QUALITY_DIR", str(tmp / "quality"))
        warehouse = Warehouse(f"sqlite:///{tmp / 'hr.db'}")
        try:
            conf = {"tables": [*REGULAR, *LARGE], "mode": "full", **LATER_STEPS}
            run = runnable["hr_dataverse_sync"].test(run_conf=conf)
            yield Synced(emu, warehouse, run)
        finally:
            Variable.delete(SWITCH_VARIABLE)
            warehouse.dispose()


def admin_conf(action: str, table: str | None = None, rows: int = 50) -> dict[str, Any]:
    return {"action": action, "table": table, "rows": rows}


def xcoms(dag_run: Any, task_id: str) -> Any:
    """The run's return values of ``task_id``: one value, or {map index: value} for mapped tasks."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id,
                                                  task_ids=task_id, key="return_value", map_indexes=None)).all()
        values = {r.map_index: XComModel.deserialize_value(r) for r in rows}
    return values[-1] if list(values) == [-1] else values


def states(dag_run: Any) -> dict[str, str]:
    return {ti.rendered_map_index or ti.task_id: ti.state for ti in dag_run.get_task_instances()}


def asset_events(table: str, run: Any) -> list[dict[str, Any]]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = (sa.select(AssetEvent.extra).join(AssetModel, AssetModel.id == AssetEvent.asset_id)
                 .where(AssetModel.uri == table_asset(table).uri, AssetEvent.source_run_id == run.run_id))
        return list(session.scalars(query))


def live_rows(warehouse: Warehouse, table: str) -> list[dict[str, Any]]:
    t = warehouse.table(table)
    with warehouse.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(t).where(t.c._deleted_at.is_(None))).mappings()]


def worker(warehouse: Warehouse, number: str) -> dict[str, Any]:
    t = warehouse.table("cdm_worker")
    with warehouse.engine.connect() as conn:
        return dict(conn.execute(sa.select(t).where(t.c.cdm_workernumber == number)).mappings().one())


def test_full_load_lands_each_selected_table_and_emits_its_asset(synced: Synced) -> None:
    run, store, warehouse = synced.first_run, synced.emulator.app.store, synced.warehouse
    assert run.state == "success"
    assert set(states(run).values()) == {"success", "skipped"}
    assert {t for t, state in states(run).items() if state == "skipped"} == {"map_characteristics", "watcher"}
    assert set(xcoms(run, "load_table")) == {0, 1, 2, 3, 4} and set(xcoms(run, "load_large_table")) == {0}
    for result in [*xcoms(run, "load_table").values(), *xcoms(run, "load_large_table").values()]:
        assert set(result) - {"required", "skipped"} == {f.name for f in fields(TableSyncResult)}  # a summary, no rows
    summary = xcoms(run, "run_summary")
    assert summary["modes"] == {"full": sorted(LOADED)}
    assert summary["skipped_optional"] == ["cdm_workerpersonaldetail"]
    assert summary["skipped"] == {"cdm_workerpersonaldetail": "skipped (optional, no read privilege)"}
    assert summary["by_table"]["cdm_workerpersonaldetail"]["status"] == "skipped (optional, no read privilege)"
    assert (summary["tables"], summary["succeeded"], summary["failed"], summary["not_synced"]) == (6, 5, [], [])
    for table in LOADED:
        state = warehouse.get_state(table)
        assert state is not None and state.mode == "full" and state.delta_link
        assert state.rows_total == store.count(table) == len(live_rows(warehouse, table))
        assert summary["by_table"][table]["rows_total"] == store.count(table)
        (event,) = asset_events(table, run)
        assert event == {"mode_used": "full", "rows_upserted": store.count(table), "rows_deleted": 0,
                         "rows_total": store.count(table)}
    skipped = warehouse.get_state("cdm_workerpersonaldetail")
    assert skipped is not None and (skipped.mode, skipped.delta_link, skipped.last_sync_at) == (None, None, None)
    assert [r.status for r in warehouse.runs(run.run_id, "cdm_workerpersonaldetail")] == ["failed"]
    assert asset_events("cdm_workerpersonaldetail", run) == []


def test_auto_run_after_hr_changes_applies_them_as_deltas(synced: Synced, runnable: dict[str, Any]) -> None:
    store, warehouse = synced.emulator.app.store, synced.warehouse
    employed = sorted(r["cdm_workernumber"] for r in store.iter_rows("cdm_worker")
                      if any(e.get("cdm_employmentenddate") is None
                             for e in store.find("cdm_employment", "cdm_workerid", r["cdm_workerid"])))
    leaver, deleted = employed[1], employed[2]
    apply(store, {"action": "change_job_title", "worker_number": "000001", "title": "Chief Test Officer"})
    hired = apply(store, {"action": "hire", "first_name": "Ada", "last_name": "Delta"})["worker_number"]
    apply(store, {"action": "terminate", "worker_number": leaver})
    apply(store, {"action": "delete_worker", "worker_number": deleted})

    run = runnable["hr_dataverse_sync"].test(run_conf={"tables": LOADED, "mode": "auto", **LATER_STEPS})
    assert run.state == "success"
    assert xcoms(run, "run_summary")["modes"] == {"delta": sorted(LOADED)}
    assert worker(warehouse, "000001")["cdm_profession"] == "Chief Test Officer"
    new = worker(warehouse, hired)
    assert new["cdm_fullname"] == "Ada Delta" and new["_deleted_at"] is None
    assert [e["_cdm_workerid_value"] for e in live_rows(warehouse, "cdm_employment")
            if e["_cdm_workerid_value"] == new["cdm_workerid"]] == [new["cdm_workerid"]]
    left = worker(warehouse, leaver)
    assert left["cdm_status"] == INACTIVE and left["cdm_status_label"] == "Inactive"
    ended = [e for e in live_rows(warehouse, "cdm_employment") if e["_cdm_workerid_value"] == left["cdm_workerid"]]
    assert ended and all(e["cdm_employmentenddate"] is not None for e in ended)
    assert worker(warehouse, deleted)["_deleted_at"] is not None
    for table in LOADED:
        assert len(live_rows(warehouse, table)) == store.count(table)
    # Only the tables that changed tell downstream DAGs about it.
    assert [e["mode_used"] for e in asset_events("cdm_worker", run)] == ["delta"]
    assert [e["mode_used"] for e in asset_events("cdm_employment", run)] == ["delta"]
    assert asset_events("cdm_company", run) == asset_events("cdm_job", run) == []


def test_clear_tracking_makes_the_next_run_of_that_table_full(synced: Synced, runnable: dict[str, Any]) -> None:
    admin = runnable["hr_dataverse_admin"].test(run_conf=admin_conf("clear_tracking", "cdm_job"))
    assert admin.state == "success"
    assert states(admin) == {"choose_action": "success", "clear_tracking": "success", "sync_now": "skipped",
                             "turn_off": "skipped", "turn_on": "skipped", "view_linked_rows": "skipped"}
    assert xcoms(admin, "clear_tracking") == {"table": "cdm_job", "cleared": True}
    state = synced.warehouse.get_state("cdm_job")
    assert state is not None and state.delta_link is None and state.rows_total == synced.emulator.app.store.count("cdm_job")

    conf = {"tables": ["cdm_company", "cdm_job"], "mode": "auto", **LATER_STEPS}
    run = runnable["hr_dataverse_sync"].test(run_conf=conf)
    summary = xcoms(run, "run_summary")
    assert summary["modes"] == {"delta": ["cdm_company"], "full": ["cdm_job"]}
    assert synced.warehouse.get_state("cdm_job").delta_link


def test_sync_now_queues_a_full_sync_of_the_table(synced: Synced, runnable: dict[str, Any]) -> None:
    from airflow.models.dagrun import DagRun

    admin = runnable["hr_dataverse_admin"].test(run_conf=admin_conf("sync_now", "cdm_worker"))
    assert admin.state == "success" and states(admin)["sync_now"] == "success"
    (queued,) = [r for r in DagRun.find(dag_id="hr_dataverse_sync", state="queued")]
    assert queued.conf == {"tables": ["cdm_worker"], "mode": "full", "conn_id": "dataverse_default"}

    run = runnable["hr_dataverse_sync"].test(run_conf={**queued.conf, **LATER_STEPS})  # what the scheduler runs
    summary = xcoms(run, "run_summary")
    assert summary["modes"] == {"full": ["cdm_worker"]} and summary["tables"] == 1
    assert synced.warehouse.runs(run.run_id)[0].message.startswith("full load requested")


def test_turning_the_integration_off_skips_syncs_until_it_is_on(synced: Synced, runnable: dict[str, Any]) -> None:
    from airflow.models.variable import Variable

    admin, sync = runnable["hr_dataverse_admin"], runnable["hr_dataverse_sync"]
    off = admin.test(run_conf=admin_conf("turn_off"))
    assert off.state == "success" and xcoms(off, "turn_off")["enabled"] is False
    assert json.loads(Variable.get(SWITCH_VARIABLE))["changed_by"] == f"hr_dataverse_admin {off.run_id}"

    skipped = sync.test(run_conf={"tables": ["cdm_company"], "mode": "auto", **LATER_STEPS})
    assert skipped.state == "success"
    assert {k: v for k, v in states(skipped).items()} == {
        "integration_enabled": "success", **{t: "skipped" for t in (
            "validate_token", "check_entity_access", "probe_changes", "regular_tables", "large_tables", "load_table",
            "load_large_table", "run_summary", "changes_to_process", "map_characteristics", "data_quality",
            "watcher")}}
    assert synced.warehouse.runs(skipped.run_id) == []

    refused = admin.test(run_conf=admin_conf("sync_now", "cdm_company"))
    assert refused.state == "failed" and states(refused)["choose_action"] == "failed"

    on = admin.test(run_conf=admin_conf("turn_on"))
    assert on.state == "success" and xcoms(on, "turn_on")["enabled"] is True
    resumed = sync.test(run_conf={"tables": ["cdm_company"], "mode": "auto", **LATER_STEPS})
    assert resumed.state == "success" and xcoms(resumed, "run_summary")["modes"] == {"delta": ["cdm_company"]}


def test_view_linked_rows_lists_ids_sync_times_and_deletions(synced: Synced, runnable: dict[str, Any]) -> None:
    run = runnable["hr_dataverse_admin"].test(run_conf=admin_conf("view_linked_rows", "cdm_worker", 500))
    assert run.state == "success"
    rows = xcoms(run, "view_linked_rows")
    t = synced.warehouse.table("cdm_worker")
    with synced.warehouse.engine.connect() as conn:
        expected = {r.cdm_workerid: r._deleted_at is not None for r in conn.execute(sa.select(t))}
    assert {r["dataverse_id"]: r["deleted_in_dataverse"] for r in rows} == expected
    assert {r["table_name"] for r in rows} == {"cdm_worker"}
    assert set(rows[0]) == {"table_name", "dataverse_id", "warehouse_table", "last_synced_at",
                            "deleted_in_dataverse", "deleted_at"}
    assert [r["last_synced_at"] for r in rows] == sorted((r["last_synced_at"] for r in rows), reverse=True)


def test_a_table_that_cannot_sync_fails_the_run_without_retries(
        synced: Synced, runnable: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    catalog = yaml.safe_load(DEFAULT_CATALOG.read_text())
    job = next(t for t in catalog["tables"] if t["name"] == "cdm_job")
    job["columns"].append("cdm_nosuchcolumn")
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    monkeypatch.setenv("HR_DATAVERSE_CATALOG", str(tmp_path / "catalog.yaml"))

    conf = {"tables": ["cdm_company", "cdm_job"], "mode": "auto", **LATER_STEPS}
    run = runnable["hr_dataverse_sync"].test(run_conf=conf)
    assert run.state == "failed"
    tries = {ti.rendered_map_index or ti.task_id: (ti.state, ti.try_number) for ti in run.get_task_instances()}
    assert tries["cdm_job"] == ("failed", 1)  # a catalog mistake is not retried
    assert tries["cdm_company"] == ("success", 1) and tries["run_summary"] == ("upstream_failed", 0)
    assert "table 'cdm_job': catalog column(s) 'cdm_nosuchcolumn' do not exist" in capfd.readouterr().out
    quality = xcoms(run, "data_quality")  # the report says the loads failed, not "passed with warnings"
    assert quality["status"] == "loads_failed" and quality["stale_tables"] == ["cdm_job"]


def test_a_broken_catalog_is_a_pre_flight_blocker_after_the_probe(
        synced: Synced, runnable: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    """The access check waits for the probe; a catalog the probe cannot read does not fail the probe (no
    evidence: everything would load), so the access check still reports it and nothing loads."""
    (tmp_path / "catalog.yaml").write_text("tables:\n  - name: cdm_job\n    required: sometimes\n")
    monkeypatch.setenv("HR_DATAVERSE_CATALOG", str(tmp_path / "catalog.yaml"))
    run = runnable["hr_dataverse_sync"].test(run_conf={"tables": [], "mode": "auto", **LATER_STEPS})
    got = states(run)
    assert run.state == "failed"
    assert (got["probe_changes"], got["check_entity_access"]) == ("success", "failed")
    assert got["regular_tables"] == got["large_tables"] == "upstream_failed"
    assert "[catalog]" in capfd.readouterr().out
    assert not xcoms(run, "probe_changes")["quiet"]


def test_a_short_read_fails_its_load_task_and_deletes_nothing(
        synced: Synced, runnable: dict[str, Any], capfd: pytest.CaptureFixture[str]) -> None:
    app, warehouse = synced.emulator.app, synced.warehouse
    live = len(live_rows(warehouse, "cdm_worker"))
    app.config.defect_partial_table, app.config.defect_rows = "cdm_worker", 7  # the source serves 7 rows fewer
    try:
        conf = {"tables": ["cdm_worker", "cdm_company"], "mode": "full", **LATER_STEPS}
        run = runnable["hr_dataverse_sync"].test(run_conf=conf)
    finally:
        app.config.defect_partial_table = None
    assert run.state == "failed"
    tries = {ti.rendered_map_index or ti.task_id: (ti.state, ti.try_number) for ti in run.get_task_instances()}
    assert tries["cdm_worker"] == ("failed", 1) and tries["cdm_company"] == ("success", 1)
    assert len(live_rows(warehouse, "cdm_worker")) == live  # nothing soft-deleted
    out = capfd.readouterr().out
    assert (f"table 'cdm_worker': NO rows were soft-deleted: read {live - 7} rows, Dataverse counts {live} "
            "(exact $count)") in out and "cause: short_read" in out
    [history] = warehouse.runs(run.run_id, "cdm_worker")
    assert history.status == "warning" and history.rows_deleted == 0

    again = runnable["hr_dataverse_sync"].test(run_conf={"tables": ["cdm_worker"], "mode": "auto", **LATER_STEPS})
    assert again.state == "success"  # no delta link was kept: the next run read the table in full again
    assert xcoms(again, "run_summary")["modes"] == {"full": ["cdm_worker"]}


def test_a_category_from_the_form_syncs_its_tables_including_f_and_o(
        runnable: dict[str, Any], airflow_db: None, emulator_state_dir: Path, conn_json: Any, tmp_path: Path) -> None:
    """"Benefits" without listing tables: its five cdm_ tables as deltas-ready full loads and worker benefit
    enrollments from the emulator's F&O endpoint (connection extra fno_url); the checks see the same
    selection."""
    from airflow.models.variable import Variable

    benefits = load_catalog(DEFAULT_CATALOG).in_categories(["benefits"])
    with running_emulator(emulator_state_dir) as emu, pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_DATAVERSE_DEFAULT", conn_json(emu.info, fno_url=emu.info["fno_url"]))
        mp.setenv("HR_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'hr.db'}")
        mp.setenv("HR_REPORTS_DIR", str(tmp_path / "reports"))
        mp.setenv("HR_QUALITY_DIR", str(tmp_path / "quality"))
        warehouse = Warehouse(f"sqlite:///{tmp_path / 'hr.db'}")
        try:
            run = runnable["hr_dataverse_sync"].test(
                run_conf={"tables": [], "categories": ["benefits"], "mode": "full", **LATER_STEPS})
            assert run.state == "success", states(run)
            summary = xcoms(run, "run_summary")
            assert set(summary["by_table"]) == set(benefits) and summary["failed"] == []
            assert summary["modes"] == {"full": sorted(b for b in benefits if b.startswith("cdm_")),
                                        "full_every_run": ["fno_benefitsplanemployees"]}
            assert warehouse.get_state("fno_benefitsplanemployees").rows_total == len(emu.app.fno.rows()) > 0
            access = json.loads(Path(xcoms(run, "check_entity_access")["report_path"]).read_text())
            assert {e["target"] for e in access["entries"]} == {b for b in benefits if b.startswith("cdm_")}
            quality = xcoms(run, "data_quality")
            assert quality["totals"]["errors"] == 0
        finally:
            Variable.delete(SWITCH_VARIABLE)
            warehouse.dispose()


def test_a_quiet_scheduled_run_checks_only_the_tables_it_loads(
        runnable: dict[str, Any], airflow_db: None, emulator_state_dir: Path, conn_json: Any, tmp_path: Path,
        capfd: pytest.CaptureFixture[str]) -> None:
    """The scheduled run's shape (no tables chosen, mode auto) twice over a small catalog: two tracked
    tables, one the emulator serves untracked, one optional the app user cannot read. The first run
    loads and checks everything (no delta link yet). The second is quiet: the access check runs after
    the probe, vouches for the two unchanged tables (one probe request each, nothing else) and checks
    the two tables that load."""
    from airflow.models.variable import Variable

    tracked, loading = ["cdm_company", "cdm_job"], ["cdm_workeraddress", "cdm_workerpersonaldetail"]
    catalog = yaml.safe_load(DEFAULT_CATALOG.read_text())
    catalog["tables"] = [t for t in catalog["tables"] if t["name"] in (*tracked, *loading)]
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    scheduled = {"tables": [], "mode": "auto", **LATER_STEPS}
    with running_emulator(emulator_state_dir) as emu, pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_DATAVERSE_DEFAULT", conn_json(emu.info))
        mp.setenv("HR_DATAVERSE_CATALOG", str(tmp_path / "catalog.yaml"))
        mp.setenv("HR_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'hr.db'}")
        mp.setenv("HR_REPORTS_DIR", str(tmp_path / "reports"))
        mp.setenv("HR_QUALITY_DIR", str(tmp_path / "quality"))
        try:
            first = runnable["hr_dataverse_sync"].test(run_conf=scheduled)
            assert first.state == "success", states(first)
            assert not xcoms(first, "probe_changes")["quiet"] and xcoms(first, "check_entity_access")["vouched"] == []
            checked = json.loads(Path(xcoms(first, "check_entity_access")["report_path"]).read_text())["entries"]
            assert {e["target"] for e in checked if e["check"] == "table"} == {*tracked, *loading}  # every table
            capfd.readouterr()
            emu.app.request_log.clear()
            quiet = runnable["hr_dataverse_sync"].test(run_conf=scheduled)
            requests = emu.app.request_log.entries()
        finally:
            Variable.delete(SWITCH_VARIABLE)
    assert quiet.state == "success", states(quiet)
    plan = xcoms(quiet, "probe_changes")
    assert (plan["quiet"], plan["unchanged"], sorted(plan["load"])) == (True, tracked, loading)
    access = xcoms(quiet, "check_entity_access")
    assert access["vouched"] == tracked
    entries = json.loads(Path(access["report_path"]).read_text())["entries"]
    assert {e["target"]: e["check"] for e in entries if e["target"] in tracked} == dict.fromkeys(tracked, "vouched")
    assert {e["target"] for e in entries if e["check"] == "table"} == set(loading)  # what loads is checked
    for name in ("cdm_compan", "cdm_job"):  # entity sets cdm_companies, cdm_jobs; metadata by logical name
        (probe,) = [e for e in requests if name in e.path or name in e.query]
        assert probe.tracked and probe.rows == 0  # the probe, nothing else
    assert "2 table(s) not checked: vouched for by this run's change probe" in capfd.readouterr().out
