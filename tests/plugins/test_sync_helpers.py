"""The sync DAGs' helpers without a DAG run: pool sizing, the on/off switch, asset events, where the
warehouse is, how failures map to Airflow exceptions, the run summary."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from dataverse_provider.edge import task_error
from dataverse_provider.warehouse import warehouse_url
from hr_dataverse.catalog import load_catalog
from hr_dataverse.dataverse import PermissionDenied, Throttled
from hr_dataverse.sync import SyncError, TableSyncResult
from hr_dataverse.warehouse import SchemaDriftError, WarehouseConfigError, WarehouseError
from hr_deployment.assets import asset_event_extra
from hr_deployment.integration import parse_switch
from hr_deployment.pools import PARTITION_SLOTS_ENV, PROBE_SLOTS_ENV, partition_slots, pool_size, probe_slots
from hr_deployment.sync_tasks import resolve_tables, summarize

pytestmark = pytest.mark.airflow


def test_pool_is_the_smaller_of_max_concurrency_and_dop_hint_but_fits_a_large_table(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PARTITION_SLOTS_ENV, raising=False)
    monkeypatch.delenv(PROBE_SLOTS_ENV, raising=False)
    assert (partition_slots(), probe_slots()) == (1, 3)
    assert (pool_size(8, 5), pool_size(4, 5), pool_size(8, None), pool_size(8, 1)) == (5, 4, 8, 3)
    monkeypatch.setenv(PARTITION_SLOTS_ENV, "6")
    assert partition_slots() == 6 and probe_slots() == 3 and pool_size(8, 5) == 6
    for bad, message in (("0", "must be at least 1, got 0"), ("two", "must be a whole number, got 'two'")):
        monkeypatch.setenv(PARTITION_SLOTS_ENV, bad)
        with pytest.raises(ValueError, match=f"{PARTITION_SLOTS_ENV} {message}"):
            partition_slots()
    with pytest.raises(ValueError, match="max_concurrency must be at least 1"):
        pool_size(0, 5, min_slots=1)


def test_probe_slots_are_their_own_setting_and_the_pool_fits_the_larger(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PARTITION_SLOTS_ENV, "2")
    monkeypatch.setenv(PROBE_SLOTS_ENV, "7")
    assert (partition_slots(), probe_slots()) == (2, 7)
    assert pool_size(8, 5) == 7  # the probe would never start in a 5-slot pool
    monkeypatch.setenv(PROBE_SLOTS_ENV, "1")
    assert probe_slots() == 1 and pool_size(8, 1) == 2  # now the large-table load is the larger
    for bad, message in (("0", "must be at least 1, got 0"), ("3.5", "must be a whole number, got '3.5'")):
        monkeypatch.setenv(PROBE_SLOTS_ENV, bad)
        with pytest.raises(ValueError, match=f"{PROBE_SLOTS_ENV} {message}"):
            probe_slots()
    # configured_pool_size reads the environment it is given, for both settings
    from hr_deployment.pools import configured_pool_size

    env = {PARTITION_SLOTS_ENV: "1", PROBE_SLOTS_ENV: "4", "HR_DATAVERSE_DOP_HINT": "2"}
    assert configured_pool_size(env) == 4
    with pytest.raises(ValueError, match=f"HR_DATAVERSE_POOL_SLOTS=3 is below the 4 slots.*{PROBE_SLOTS_ENV}=4"):
        configured_pool_size({**env, "HR_DATAVERSE_POOL_SLOTS": "3"})


@pytest.mark.parametrize(("raw", "enabled"), [(None, True), ("", True), ("off", False), ("ON", True), ("0", False),
                                              ('{"enabled": false, "changed_by": "x"}', False)])
def test_switch_values(raw: str | None, enabled: bool) -> None:
    assert parse_switch(raw).enabled is enabled


def test_switch_rejects_what_it_does_not_understand() -> None:
    with pytest.raises(ValueError, match="hr_dataverse_integration = 'paused' is not understood; set it to 'on' or 'off'"):
        parse_switch("paused")
    with pytest.raises(ValueError, match="not understood"):
        parse_switch('{"enabled": "no"}')
    switch = parse_switch(json.dumps({"enabled": False, "changed_at": "2025-01-01T00:00:00+00:00", "changed_by": "me"}))
    assert switch.describe() == "the HR Dataverse integration is off since 2025-01-01T00:00:00+00:00 (by me)"


def test_asset_events_only_for_loads_that_changed_the_table() -> None:
    full = TableSyncResult("cdm_job", "full", "r", rows_upserted=10, rows_total=10).to_dict()
    assert asset_event_extra(full) == {"mode_used": "full", "rows_upserted": 10, "rows_deleted": 0, "rows_total": 10}
    quiet = TableSyncResult("cdm_job", "delta", "r", rows_total=10).to_dict()
    assert asset_event_extra(quiet) is None
    assert asset_event_extra({**quiet, "rows_deleted": 1})["rows_deleted"] == 1
    assert asset_event_extra(TableSyncResult.failure("cdm_job", "full", "boom").to_dict()) is None


def test_warehouse_url_from_the_hr_warehouse_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_HR_WAREHOUSE", raising=False)
    assert warehouse_url() is None  # then Warehouse() uses $HR_WAREHOUSE_URL or data/hr_warehouse.db
    monkeypatch.setenv("AIRFLOW_CONN_HR_WAREHOUSE", "postgresql://hr:s3cret@db.example:5433/warehouse")
    assert warehouse_url() == "postgresql+psycopg2://hr:s3cret@db.example:5433/warehouse"
    monkeypatch.setenv("AIRFLOW_CONN_HR_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": "/srv/hr.db"}))
    assert warehouse_url() == "sqlite:////srv/hr.db"
    monkeypatch.setenv("AIRFLOW_CONN_HR_WAREHOUSE",
                       json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": "sqlite:////x/y.db"}}))
    assert warehouse_url() == "sqlite:////x/y.db"
    monkeypatch.setenv("AIRFLOW_CONN_HR_WAREHOUSE", json.dumps({"conn_type": "http", "host": "example.org"}))
    with pytest.raises(WarehouseConfigError, match="connection 'hr_warehouse' \\(type 'http'\\) does not say where"):
        warehouse_url()


def test_failures_that_a_retry_cannot_fix_fail_at_once() -> None:
    denied = task_error("table 'cdm_job'", PermissionDenied("missing prvReadcdm_job privilege", status=403))
    assert type(denied) is AirflowFailException and str(denied).startswith("table 'cdm_job': [privileges]")
    throttled = task_error("table 'cdm_job'", Throttled("Rate limit exceeded", status=429, retry_after=30))
    assert type(throttled) is AirflowException and "[throttling]" in str(throttled)
    for exc in (SyncError("cdm_job", "bad"), SchemaDriftError("cdm_job", "cdm_name", "type changed"),
                WarehouseConfigError("bad url")):
        assert type(task_error("table 'cdm_job'", exc)) is AirflowFailException
    assert type(task_error("table 'cdm_job'", WarehouseError("database is locked"))) is AirflowException
    assert task_error("table 'cdm_job'", KeyError("x")) is None  # unexpected: re-raised with its traceback


def test_resolve_tables_splits_the_selection_by_how_tables_are_read() -> None:
    catalog = load_catalog()
    every = resolve_tables([])
    assert every["all"] == catalog.names() and sorted(every["regular"] + every["large"]) == sorted(catalog.names())
    assert every["large"] == [t.name for t in catalog if t.partition_by_key]
    assert every["large"] == ["mshr_hcmworkerskillentity"]
    assert resolve_tables(["mshr_hcmworkerskillentity", "cdm_job"]) == {
        "all": ["cdm_job", "mshr_hcmworkerskillentity"], "regular": ["cdm_job"], "large": ["mshr_hcmworkerskillentity"]}
    with pytest.raises(AirflowFailException, match="unknown table\\(s\\) 'cdm_nope'"):
        resolve_tables(["cdm_nope"])


def test_summary_names_tables_without_a_result_and_keeps_optional_skips_apart() -> None:
    ok = TableSyncResult("cdm_job", "delta", "r", rows_upserted=2, rows_total=10).to_dict()
    skipped = {**TableSyncResult.failure("cdm_workerpersonaldetail", "auto", "403").to_dict(), "required": False}
    summary = summarize(["cdm_job", "cdm_workerpersonaldetail"], [ok, skipped], None)
    assert (summary["succeeded"], summary["failed"], summary["skipped_optional"]) == (1, [], ["cdm_workerpersonaldetail"])
    assert summary["modes"] == {"delta": ["cdm_job"]} and summary["rows_upserted"] == 2
    with pytest.raises(AirflowFailException, match="1 table\\(s\\) did not sync: cdm_worker"):
        summarize(["cdm_job", "cdm_worker"], [ok], [])


def test_an_optional_table_without_read_privilege_is_a_warning_not_an_error(
        dataverse_conn, tmp_path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from hr_deployment.sync_tasks import load_table

    monkeypatch.setenv("HR_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'hr.db'}")
    caplog.set_level(logging.INFO)
    result = load_table("cdm_workerpersonaldetail", mode="auto", slots=1, run_id="run-1")
    assert result["skipped"] == "skipped (optional, no read privilege)" and result["required"] is False
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert any(r.levelno == logging.WARNING and "skipped (optional, no read privilege)" in r.getMessage()
               for r in caplog.records)
    caplog.clear()
    summary = summarize(["cdm_workerpersonaldetail"], [result])
    assert summary["by_table"]["cdm_workerpersonaldetail"]["status"] == "skipped (optional, no read privilege)"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_mapping_only_tables_are_required_only_while_the_mapping_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_HR_URS_MAPPING_SETTINGS", json.dumps({"enabled": False}))
    catalog = load_catalog()
    mapping_only = {t.name for t in catalog if t.required_for_mapping}
    assert mapping_only == {t.name for t in catalog if t.name.startswith("mshr_")}
    assert all(t.required for t in catalog.with_mapping(True) if t.name in mapping_only)
    assert not any(t.required for t in catalog.with_mapping(False) if t.name in mapping_only)
    # every other table keeps its own required flag (the organisation tables stay required)
    assert all(off.required == on.required for off, on in zip(catalog.with_mapping(False), catalog, strict=True)
               if on.name not in mapping_only)
    assert catalog.get("cdm_worker").required and catalog.with_mapping(False).get("cdm_worker").required


def test_a_probe_that_cannot_run_loads_every_selected_table(
        dataverse_conn, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken catalog does not fail probe_changes (the access check after it reports the catalog as a
    pre-flight blocker); its plan is not quiet, so every selected table loads and is checked."""
    from hr_dataverse.sync.no_change import LoadPlan, vouched_by_probe
    from hr_deployment.no_change_tasks import probe_selected, tables_to_load

    monkeypatch.setenv("HR_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'hr.db'}")
    (tmp_path / "catalog.yaml").write_text("tables:\n  - name: cdm_job\n    required: sometimes\n")
    monkeypatch.setenv("HR_DATAVERSE_CATALOG", str(tmp_path / "catalog.yaml"))
    plan = probe_selected(None, mode="auto", run_id="broken")
    assert not plan["quiet"] and plan["reasons"] == {"*": "probe not run: AirflowFailException"}
    assert tables_to_load(plan, ["cdm_job", "cdm_worker"]) == ["cdm_job", "cdm_worker"]
    assert vouched_by_probe(LoadPlan.from_dict(plan)) == {}


def test_loads_start_biggest_first_sized_by_the_warehouse_then_by_dataverse(
        dataverse_conn, emulator, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow starts mapped instances of one priority in map-index order: the list is the start order."""
    from hr_deployment.sync_tasks import biggest_first, load_table

    monkeypatch.setenv("HR_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'hr.db'}")
    store = emulator.app.store
    tables = ["cdm_company", "cdm_job", "cdm_workerpersonaldetail", "cdm_worker"]  # catalog order
    assert store.count("cdm_worker") > store.count("cdm_job") > store.count("cdm_company")
    emulator.app.request_log.clear()
    # Nothing stored yet: one size request (refused for the unreadable optional table), then one without it.
    assert biggest_first(tables, "dataverse_default") == ["cdm_worker", "cdm_job", "cdm_company",
                                                         "cdm_workerpersonaldetail"]
    sizing = [e.path for e in emulator.app.request_log.entries() if "RetrieveTotalRecordCount" in e.path]
    assert len(sizing) == 2
    load_table("cdm_company", mode="auto", slots=1, run_id="run-1")
    for _ in range(store.count("cdm_job")):  # the company table now holds more rows than the job table
        store.insert("cdm_company", {"cdm_name": "Contoso"})
    load_table("cdm_company", mode="auto", slots=1, run_id="run-2")
    emulator.app.request_log.clear()
    assert biggest_first(["cdm_company", "cdm_job"], "dataverse_default") == ["cdm_company", "cdm_job"]
    sized = [e for e in emulator.app.request_log.entries() if "RetrieveTotalRecordCount" in e.path]
    assert len(sized) == 1  # only the job table, never loaded, was asked about
    assert biggest_first(["cdm_job"], "dataverse_default") == ["cdm_job"]  # one table: nothing to order
