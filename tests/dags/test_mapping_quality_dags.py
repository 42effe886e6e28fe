"""The URS mapping and data-quality steps as DAGs: the last two stages of hr_dataverse_sync and the
hr_urs_mapping / hr_data_quality DAGs (shape, schedules, trigger forms), then dag.test() runs
against the in-process emulator into a SQLite warehouse."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from dataverse_emulator.mutations import apply
from dataverse_emulator.testing import RunningEmulator, running_emulator
from dataverse_provider.hooks.dataverse import DataverseHook
from dataverse_provider.trigger_params import mapping_properties, quality_properties
from hr_dataverse.catalog import DEFAULT_CATALOG, load_catalog
from hr_deployment.assets import table_asset
from hr_deployment.pools import DATAVERSE_POOL

pytestmark = pytest.mark.airflow

ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(DEFAULT_CATALOG).names()
MAPPING_TRIGGERS = {"mshr_hcmworkerskillentity", "mshr_hcmworkercertificateentity"}
WORKER_TABLES = ["cdm_worker", "cdm_employment"]
OPTIONAL_UNREADABLE = "cdm_workerpersonaldetail"  # the emulator's app user may not read it: never loaded
P = "mshr_"
EMPLOYED = 754400000  # cdm_worker.cdm_status
ACTUAL = 200000000  # mshr_leveltype


def parse() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags


@pytest.fixture(scope="module")
def dags() -> dict[str, Any]:
    """The DAGs as parsed, for shape tests (dag.test() keeps a run's conf in the DAG's params)."""
    return parse()


@pytest.fixture(scope="module")
def runnable() -> dict[str, Any]:
    """The DAGs for dag.test() runs; every run passes all its params."""
    return parse()


def uris(schedule: Any) -> set[str]:
    return {asset.uri for asset in schedule.objects}


# --- shape -------------------------------------------------------------------------------------


def test_sync_dag_maps_after_the_loads_and_checks_quality_last(dags: dict[str, Any]) -> None:
    from dataverse_provider.operators.data_quality import HrDataQualityOperator

    dag = dags["hr_dataverse_sync"]
    mapping, quality = dag.get_task("map_characteristics"), dag.get_task("data_quality")
    # After the summary, through the no-change gate (a quiet run whose loads changed nothing skips both).
    assert mapping.upstream_task_ids == {"changes_to_process"} and mapping.trigger_rule == "all_success"
    assert "run_summary" in dag.get_task("changes_to_process").upstream_task_ids
    assert quality.upstream_task_ids == {"map_characteristics"} and quality.trigger_rule == "all_done"
    assert quality.downstream_task_ids == {"watcher"}  # the last stage, then only the run's verdict
    watcher = dag.get_task("watcher")
    assert watcher.upstream_task_ids == {"map_characteristics", "data_quality"} and watcher.trigger_rule == "one_failed"
    assert (mapping.pool, mapping.pool_slots, quality.pool) == (DATAVERSE_POOL, 1, DATAVERSE_POOL)
    assert isinstance(quality, HrDataQualityOperator)
    assert (quality.params_key, quality.dataverse_conn_id, quality.tables) == (
        "data_quality", "{{ params.conn_id }}",
        "{{ selected_tables(params.tables, params.categories) or changed_tables(triggering_asset_events) }}")
    assert [link.name for link in quality.operator_extra_links] == ["Data quality report"]


def test_mapping_dag_runs_on_worker_skill_and_certificate_changes(dags: dict[str, Any]) -> None:
    from airflow.sdk import AssetAny

    dag = dags["hr_urs_mapping"]
    assert set(CATALOG) >= MAPPING_TRIGGERS
    assert isinstance(dag.schedule, AssetAny)
    assert uris(dag.schedule) == {table_asset(t).uri for t in MAPPING_TRIGGERS}
    assert (dag.catchup, dag.max_active_runs) == (False, 1)
    assert {t.task_id: t.upstream_task_ids for t in dag.tasks} == {
        "integration_enabled": set(), "map_characteristics": {"integration_enabled"}}
    assert dag.get_task("map_characteristics").pool == DATAVERSE_POOL
    assert set(dag.params) == {"urs_mapping", "conn_id"}
    assert dag.params["conn_id"] == DataverseHook.default_conn_name


def test_quality_dag_runs_on_any_warehouse_table_change(dags: dict[str, Any]) -> None:
    from airflow.sdk import AssetAny

    dag = dags["hr_data_quality"]
    assert isinstance(dag.schedule, AssetAny)
    assert uris(dag.schedule) == {f"dataverse://hr/{t}" for t in CATALOG}
    assert (dag.catchup, dag.max_active_runs) == (False, 1)
    (task,) = dag.tasks
    assert task.task_id == "data_quality" and task.params_key == "data_quality"
    # Option sets from Dataverse only when the form names a connection: empty by default (the saved ones).
    assert task.dataverse_conn_id == "{{ params.conn_id or '' }}" and dag.params["conn_id"] is None
    assert set(dag.params) == {"data_quality", "conn_id"}


@pytest.mark.parametrize("dag_id", ["hr_dataverse_sync", "hr_urs_mapping", "hr_data_quality"])
def test_trigger_forms_accept_overrides_and_refuse_typos(dags: dict[str, Any], dag_id: str) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    params = dags[dag_id].params
    params.validate()  # the defaults
    for name in {"urs_mapping", "data_quality"} & set(params):
        param = params.get_param(name)
        assert param.schema["title"] and param.description and param.schema["section"]
    if "urs_mapping" in params:
        mapping = params.get_param("urs_mapping")
        assert params["urs_mapping"] is None  # unset: the deployment's settings apply
        assert "null" in mapping.schema["type"]  # optional: the form does not mark it required
        good = {"enabled": True, "dry_run": True, "expired_certificates": "keep", "active_worker_status": None}
        assert mapping.resolve(good) == good
        for bad in ({"enabld": False}, {"dry_run": "yes"}, {"expired_certificates": "sometimes"},
                    {"batch_size": 5000}, {"hr_prefix": "mshr"}):
            with pytest.raises(ParamValidationError):
                mapping.resolve(bad)
    if "data_quality" in params:
        quality = params.get_param("data_quality")
        assert params["data_quality"] is None and "null" in quality.schema["type"]
        good = {"severity": {"option_domain": "error", "cdm_worker.*": "off"}, "freshness_hours": 48}
        assert quality.resolve(good) == good
        for bad in ({"severity": {"cdm_worker": "fatal"}}, {"freshness_hours": 0}, {"freshnes_hours": 4}):
            with pytest.raises(ParamValidationError):
                quality.resolve(bad)


def test_form_schemas_generated_from_the_settings_list_exactly_what_the_tasks_accept() -> None:
    from hr_dataverse.quality.settings import _PARAM_TYPES
    from hr_dataverse.urs.settings import EXPIRED_POLICIES, LEVEL_VALUE_RULES, RESOURCE_TYPES, MappingSettings

    mapping, quality = mapping_properties(), quality_properties()
    assert set(mapping) == {f.name for f in fields(MappingSettings)} | {"full_remap"}
    assert mapping["expired_certificates"]["enum"] == list(EXPIRED_POLICIES)
    assert mapping["level_value_rule"]["enum"] == list(LEVEL_VALUE_RULES)
    assert mapping["resource_type"]["enum"] == list(RESOURCE_TYPES)
    assert set(quality) == {"severity", *_PARAM_TYPES}
    from hr_dataverse.quality.severity import SEVERITIES as QUALITY_SEVERITIES

    assert quality["severity"]["additionalProperties"]["enum"] == list(QUALITY_SEVERITIES)
    assert mapping["batch_size"]["maximum"] == 1000 and mapping["active_worker_status"][
        "type"] == ["integer", "null"]
    for name, field in {f.name: f for f in fields(MappingSettings)}.items():  # the default ends the description
        default = field.default if field.default is not None else "null"
        assert str(default).lower().removesuffix(".0") in mapping[name]["description"].lower()


@pytest.mark.parametrize(("values", "message"), [
    ({"batch_size": 5000}, r"urs_mapping: batch_size"),
    ({"level_value_rule": "median"}, r"urs_mapping: level_value_rule: expected one of factor, rank, got 'median'"),
    ({"enabld": False}, r"urs_mapping: unknown mapping setting\(s\) enabld"),
    ({"full_remap": "yes"}, r"urs_mapping: full_remap must be true or false, got 'yes'"),
])
def test_bad_mapping_input_fails_the_task_naming_the_setting(values: dict[str, Any], message: str) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from hr_deployment.mapping_tasks import mapping_request

    with pytest.raises(AirflowFailException, match=message):
        mapping_request(values)
    settings, full_remap = mapping_request({"dry_run": True, "full_remap": True, "expired_certificates": "keep"})
    assert (settings.dry_run, settings.enabled, full_remap, settings.expired_certificates) == (True, True, True, "keep")


def test_mapping_errors_retry_only_when_a_retry_can_help() -> None:
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    from dataverse_provider.edge import task_error
    from hr_dataverse.dataverse.errors import PermissionDenied, Throttled
    from hr_dataverse.urs import MappingError
    from hr_dataverse.warehouse import WarehouseConfigError, WarehouseError

    def wrapped(cause: Exception) -> MappingError:
        try:
            raise MappingError(f"reading existing bookableresource rows from Dataverse failed: {cause}") from cause
        except MappingError as exc:
            return exc

    throttled, denied = Throttled("rate limit", status=429), PermissionDenied("no read privilege", status=403)
    kinds = {name: type(task_error("URS mapping", exc)) for name, exc in {
        "throttled": throttled, "denied": denied, "mapping, throttled": wrapped(throttled),
        "mapping, denied": wrapped(denied), "mapping": MappingError("HR table 'x' is not in the warehouse yet"),
        "warehouse down": WarehouseError("connection refused"), "warehouse config": WarehouseConfigError("bad url"),
    }.items()}
    assert kinds == {"throttled": AirflowException, "denied": AirflowFailException,
                     "mapping, throttled": AirflowException, "mapping, denied": AirflowFailException,
                     "mapping": AirflowFailException, "warehouse down": AirflowException,
                     "warehouse config": AirflowFailException}
    assert task_error("URS mapping", KeyError("bug")) is None  # unexpected: re-raised with its traceback
    assert str(task_error("URS mapping", wrapped(denied))).startswith("URS mapping: reading existing bookableresource rows")


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_mapping_lock_serialises_runs_on_one_warehouse(backend: str, tmp_path: Path,
                                                       request: pytest.FixtureRequest) -> None:
    import threading

    from hr_dataverse.warehouse import Warehouse
    from hr_deployment.mapping_lock import mapping_lock

    url = f"sqlite:///{tmp_path / 'hr.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    first, second = (Warehouse(url, schema=None if backend == "sqlite" else "urs_lock_test") for _ in range(2))
    order: list[str] = []

    def second_run() -> None:
        with mapping_lock(second):
            order.append("second")

    with mapping_lock(first):
        waiter = threading.Thread(target=second_run)
        waiter.start()
        waiter.join(timeout=0.5)
        assert waiter.is_alive() and order == []  # waits while the first run holds the lock
        order.append("first")
    waiter.join(timeout=5)
    assert order == ["first", "second"]
    first.dispose()
    second.dispose()


# --- runs --------------------------------------------------------------------------------------


@dataclass
class Env:
    emulator: RunningEmulator
    quality_dir: Path

    @property
    def store(self) -> Any:
        return self.emulator.app.store

    @property
    def today(self) -> date:
        return self.emulator.app.clock.now().date()

    def writes(self) -> list[Any]:
        return [e for e in self.emulator.app.request_log if e.method != "GET"]


@pytest.fixture(scope="module")
def env(airflow_db: None, emulator_state_dir: Path, conn_json: Any,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """An emulator (small data set), the connection, a fresh SQLite warehouse and report folder."""
    tmp = tmp_path_factory.mktemp("mapping-quality-dags")
    with running_emulator(emulator_state_dir) as emu, pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_DATAVERSE_DEFAULT", conn_json(emu.info, fno_url=emu.info["fno_url"]))
        mp.setenv("HR_WAREHOUSE_URL", f"sqlite:///{tmp / 'hr.db'}")
        mp.setenv("HR_REPORTS_DIR", str(tmp / "reports"))
        mp.setenv("HR_QUALITY_DIR", str(tmp / "quality"))
        yield Env(emu, tmp / "quality")


def sync_conf(tables: list[str] | None = None, mode: str = "auto", **mapping: Any) -> dict[str, Any]:
    """Every param of hr_dataverse_sync (a run's conf would otherwise stick for the next dag.test())."""
    return {"tables": tables or [], "mode": mode,
            "urs_mapping": {"enabled": True, "dry_run": False, "full_remap": False, **mapping},
            "data_quality": {}}


def xcoms(dag_run: Any, task_id: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        (row,) = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id,
                                                    task_ids=task_id, key="return_value")).all()
        return XComModel.deserialize_value(row)


def states(dag_run: Any) -> dict[str, tuple[str, int]]:
    return {ti.task_id: (ti.state, ti.try_number) for ti in dag_run.get_task_instances() if ti.map_index < 0}


def queued_dag_ids() -> set[str]:
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session

    with create_session() as session:
        return set(session.scalars(AssetDagRunQueue.__table__.select().with_only_columns(
            AssetDagRunQueue.target_dag_id)))


def expected_links(store: Any, today: date) -> dict[str, int]:
    """Per worker who should have a resource (employed, employment current today): the number of
    characteristics it should carry, i.e. distinct skills rated Actual plus certificate types held
    with a certificate that started and has not expired. Straight from the HR rows."""
    day = today.isoformat()
    out = {}
    for worker in store.iter_rows("cdm_worker"):
        wid = worker["cdm_workerid"]
        current = any((e.get("cdm_employmentstartdate") or "")[:10] <= day
                      and (e.get("cdm_employmentenddate") is None or e["cdm_employmentenddate"][:10] >= day)
                      for e in store.find("cdm_employment", "cdm_workerid", wid))
        if worker.get("cdm_status") != EMPLOYED or not current:
            continue
        skills = {s[f"{P}fk_skill_id"] for s in store.find(f"{P}hcmworkerskillentity", f"{P}fk_worker_id", wid)
                  if s[f"{P}leveltype"] == ACTUAL}
        certificates = {c[f"{P}fk_certificatetype_id"]
                        for c in store.find(f"{P}hcmworkercertificateentity", f"{P}fk_worker_id", wid)
                        if c[f"{P}startdate"][:10] <= day and (c.get(f"{P}enddate") is None
                                                                or c[f"{P}enddate"][:10] >= day)}
        out[wid] = len(skills) + len(certificates)
    return out


def resource_links(store: Any, worker_ids: Any) -> dict[str, int]:
    """Per worker in ``worker_ids``: characteristics on its active bookable resource (each worker must
    have exactly one)."""
    resources = {r["bookableresourceid"]: r["cdm_workerid"] for r in store.iter_rows("bookableresource")
                 if r.get("cdm_workerid") in worker_ids and r["statecode"] == 0}
    assert sorted(Counter(resources.values()).values()) == [1] * len(worker_ids)
    links = Counter(resources[r["resource"]] for r in store.iter_rows("bookableresourcecharacteristic")
                    if r["resource"] in resources)
    return {w: links.get(w, 0) for w in resources.values()}


def test_sync_run_maps_hr_to_urs_then_writes_the_quality_report(env: Env, runnable: dict[str, Any]) -> None:
    from hr_dataverse.quality.paths import run_folder

    run = runnable["hr_dataverse_sync"].test(run_conf=sync_conf(mode="full"))
    assert run.state == "success"
    assert states(run)["map_characteristics"] == states(run)["data_quality"] == ("success", 1)
    assert states(run)["watcher"][0] == "skipped"
    # The URS rows in Dataverse: what the HR rows call for, computed here independently.
    expected = expected_links(env.store, env.today)
    assert len(expected) > 10 and sum(expected.values()) > 50
    assert resource_links(env.store, set(expected)) == expected
    characteristics = Counter((r["name"], r["characteristictype"]) for r in env.store.iter_rows("characteristic")
                              if r["statecode"] == 0)
    assert {(s[f"{P}skillid"], 1) for s in env.store.iter_rows(f"{P}hcmskillentity")} | {
        (c[f"{P}certificatetype"], 2) for c in env.store.iter_rows(f"{P}hcmcertificatetypeentity")} <= set(characteristics)
    mapping = xcoms(run, "map_characteristics")  # a summary: counts and errors, no plan rows
    assert (mapping["status"], mapping["errors_total"], mapping["errors"], mapping["incremental"]) == (
        "success", 0, [], False)
    assert mapping["run_id"] == f"hr_dataverse_sync__{run.run_id}"
    assert mapping["done"]["bookableresource"].get("create", 0) + mapping["done"]["bookableresource"].get(
        "adopt", 0) == len(expected)
    assert mapping["write_requests"] == len(env.writes()) and "samples" not in json.dumps(mapping)
    # The quality report of this run, with the mapping-completeness check (it ran after the mapping).
    quality = xcoms(run, "data_quality")
    assert quality["stale_tables"] == [] and quality["status"] != "loads_failed"  # every load succeeded
    assert not quality["has_errors"] and quality["tables"]["_hr_urs_mapping"]["evaluated"] == 1
    assert quality["tables"]["_hr_urs_mapping"]["passed"] == 1
    assert set(CATALOG) - {OPTIONAL_UNREADABLE} <= set(quality["tables"])
    report = Path(quality["report_path"])
    assert report == env.quality_dir / "runs" / run_folder(f"hr_dataverse_sync__{run.run_id}") / "summary.html"
    assert report.is_file() and report.with_suffix(".json").is_file()
    assert (env.quality_dir / "latest" / "summary.html").is_file() and (env.quality_dir / "docs" / "index.html").is_file()
    # The loads' asset events queued both downstream DAGs.
    assert {"hr_urs_mapping", "hr_data_quality"} <= queued_dag_ids()


def test_standalone_dags_after_a_sync_write_nothing_and_report(env: Env, runnable: dict[str, Any]) -> None:
    from hr_dataverse.quality.paths import run_folder

    env.emulator.app.request_log.clear()
    mapped = runnable["hr_urs_mapping"].test(run_conf={"urs_mapping": {"enabled": True, "dry_run": False,
                                                                       "full_remap": False}})
    assert mapped.state == "success"
    summary = xcoms(mapped, "map_characteristics")
    assert (summary["status"], summary["incremental"], summary["writes_planned"], summary["write_requests"]) == (
        "success", True, 0, 0)
    assert env.writes() == []  # idempotent: no HR change, no write

    checked = runnable["hr_data_quality"].test(run_conf={"data_quality": {"freshness_hours": 12}})
    assert checked.state == "success"
    quality = xcoms(checked, "data_quality")
    assert not quality["has_errors"] and quality["tables"]["_hr_urs_mapping"]["passed"] == 1
    assert Path(quality["report_path"]).parent.name == run_folder(f"hr_data_quality__{checked.run_id}")
    body = json.loads(Path(quality["report_path"]).with_suffix(".json").read_text(encoding="utf-8"))
    assert {c["description"] for c in body["checks"] if c["kind"] == "freshness"} == {
        "Last successful sync within 12 hours"}  # the trigger form's override reached the checks


def test_dry_run_logs_the_plan_and_sends_no_write(env: Env, runnable: dict[str, Any],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    hired = apply(env.store, {"action": "hire", "first_name": "Dry", "last_name": "Run"})["worker_number"]
    (worker,) = env.store.find("cdm_worker", "cdm_workernumber", hired)
    env.emulator.app.request_log.clear()

    run = runnable["hr_dataverse_sync"].test(run_conf=sync_conf(WORKER_TABLES, dry_run=True))
    assert run.state == "success" and states(run)["data_quality"] == ("success", 1)
    assert env.emulator.app.request_log.entries() and env.writes() == []
    summary = xcoms(run, "map_characteristics")
    assert (summary["status"], summary["write_requests"], summary["planned"]) == (
        "dry_run", 0, {"bookableresource": {"create": 1}})
    assert not [r for r in env.store.iter_rows("bookableresource") if r.get("cdm_workerid") == worker["cdm_workerid"]]
    assert f"plan bookableresource create worker {hired} (Dry Run): {{'name': 'Dry Run'" in caplog.text
    assert re.search(r"bookableresource +create 1\n", caplog.text)


def test_rejected_rows_fail_the_mapping_after_reporting_and_the_report_is_still_written(
        env: Env, runnable: dict[str, Any], capfd: pytest.CaptureFixture[str]) -> None:
    (worker,) = [w for w in env.store.iter_rows("cdm_worker") if w["cdm_fullname"] == "Dry Run"]
    label = f"worker {worker['cdm_workernumber']} (Dry Run)"

    run = runnable["hr_dataverse_sync"].test(run_conf=sync_conf(WORKER_TABLES, worker_navigation="cdm_NoSuchWorker"))
    assert run.state == "failed"
    assert states(run)["map_characteristics"] == ("failed", 1)  # not retried: the same rows would be refused
    assert states(run)["data_quality"] == ("success", 1)  # all_done: the report is written all the same
    assert states(run)["watcher"] == ("failed", 1)  # and the run still fails
    summary = xcoms(run, "map_characteristics")  # pushed before failing
    assert (summary["status"], summary["errors_total"]) == ("partial", 1)
    (error,) = summary["errors"]
    assert (error["table"], error["op"], error["label"], error["status"]) == ("bookableresource", "create", label, 400)
    out = capfd.readouterr().out
    assert "URS mapping: Dataverse rejected 1 row(s)" in out and f"bookableresource create '{label}': 400" in out
    assert "cdm_NoSuchWorker" in out
    assert Path(xcoms(run, "data_quality")["report_path"]).is_file()

    fixed = runnable["hr_dataverse_sync"].test(run_conf=sync_conf(WORKER_TABLES))  # the next run maps the row
    assert fixed.state == "success"
    assert xcoms(fixed, "map_characteristics")["done"] == {"bookableresource": {"create": 1}}
    assert [r["name"] for r in env.store.iter_rows("bookableresource")
            if r.get("cdm_workerid") == worker["cdm_workerid"] and r["statecode"] == 0] == ["Dry Run"]


def test_mapping_turned_off_is_skipped_and_quality_still_runs(env: Env, runnable: dict[str, Any]) -> None:
    env.emulator.app.request_log.clear()
    run = runnable["hr_dataverse_sync"].test(run_conf=sync_conf(["cdm_company"], enabled=False))
    assert run.state == "success"
    assert states(run)["map_characteristics"][0] == "skipped" and states(run)["data_quality"] == ("success", 1)
    assert env.writes() == []
    assert list(xcoms(run, "data_quality")["tables"]) == ["cdm_company"]  # the selected tables only
    assert xcoms(run, "data_quality")["stale_tables"] == []  # a delta with nothing new is a load too


def test_an_enabled_variable_maps_when_the_form_sets_nothing(env: Env, runnable: dict[str, Any],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_HR_URS_MAPPING_SETTINGS", json.dumps({"enabled": True}))
    hired = apply(env.store, {"action": "hire", "first_name": "Variable", "last_name": "Only"})["worker_number"]
    (worker,) = env.store.find("cdm_worker", "cdm_workernumber", hired)
    env.emulator.app.request_log.clear()
    conf = {"tables": WORKER_TABLES, "mode": "auto", "urs_mapping": None, "data_quality": None}
    run = runnable["hr_dataverse_sync"].test(run_conf=conf)
    assert run.state == "success" and states(run)["map_characteristics"] == ("success", 1)
    assert xcoms(run, "map_characteristics")["done"] == {"bookableresource": {"create": 1}}
    assert [r["name"] for r in env.store.iter_rows("bookableresource")
            if r.get("cdm_workerid") == worker["cdm_workerid"]] == ["Variable Only"]


def test_the_form_turning_the_mapping_off_beats_an_enabled_variable(
        env: Env, runnable: dict[str, Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_HR_URS_MAPPING_SETTINGS", json.dumps({"enabled": True}))
    hired = apply(env.store, {"action": "hire", "first_name": "Form", "last_name": "Off"})["worker_number"]
    (worker,) = env.store.find("cdm_worker", "cdm_workernumber", hired)
    env.emulator.app.request_log.clear()
    conf = {"tables": WORKER_TABLES, "mode": "auto", "urs_mapping": {"enabled": False}, "data_quality": None}
    run = runnable["hr_dataverse_sync"].test(run_conf=conf)
    assert run.state == "success" and states(run)["map_characteristics"][0] == "skipped"
    assert env.writes() == []
    assert not [r for r in env.store.iter_rows("bookableresource") if r.get("cdm_workerid") == worker["cdm_workerid"]]
    assert "enabled = false  (trigger form)" in caplog.text
