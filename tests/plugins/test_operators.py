"""The check operators inside the real hr_connection_check DAG, run with dag.test() against the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pendulum
import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from dataverse_provider.operators.entity_access import DataverseEntityAccessCheckOperator
from dataverse_provider.operators.token_validation import DataverseTokenValidationOperator

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TABLES = ["cdm_worker", "cdm_workeraddress", "cdm_workerpersonaldetail"]


@pytest.fixture(scope="module")
def connection_check_dag(airflow_db: None) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "hr_connection_check.py"))
    assert bag.import_errors == {}
    return bag.dags["hr_connection_check"]


@pytest.fixture
def reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HR_REPORTS_DIR", str(tmp_path / "reports"))
    return tmp_path / "reports"


def xcoms(dag_run: Any) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id)).all()
        return {f"{r.task_id}.{r.key}": XComModel.deserialize_value(r) for r in rows}


def states(dag_run: Any) -> dict[str, tuple[str, int]]:
    return {ti.task_id: (ti.state, ti.try_number) for ti in dag_run.get_task_instances()}


def test_dag_passes_with_warnings_and_returns_small_summaries(dataverse_conn: Any, connection_check_dag: Any,
                                                              reports: Path, capfd: pytest.CaptureFixture[str]) -> None:
    run = connection_check_dag.test(run_conf={"tables": TABLES, "secret_warn_days": 365})
    assert run.state == "success"
    assert "connection 'dataverse_default' comes from environment variable AIRFLOW_CONN_DATAVERSE_DEFAULT" in (
        capfd.readouterr().out)
    values = xcoms(run)
    token = values["validate_token.return_value"]
    access = values["check_entity_access.return_value"]
    assert set(token) == set(access) == {"status", "counts", "warnings", "report_path"}
    # secret_warn_days=365 came through the trigger form: the 200-day secret now warns.
    assert token["status"] == "warning" and token["warnings"] == ["[secret expiry] client secret"]
    assert access["warnings"] == ["[change tracking] cdm_workeraddress", "[read] cdm_workerpersonaldetail"]
    for summary in (token, access):
        path = Path(summary["report_path"])
        assert path.is_relative_to(reports / "checks" / "hr_connection_check")
        report = json.loads(path.read_text())
        assert report["status"] == summary["status"] and report["counts"] == summary["counts"]
    assert {e["target"] for e in json.loads(Path(access["report_path"]).read_text())["entries"]} == set(TABLES)
    # "New HR tables available": the emulator's two tables no catalog entry names, with their catalog line.
    coverage = values["report_new_hr_tables.return_value"]
    assert coverage["status"] == "warning" and coverage["warnings"] == [
        "[new HR table] cdm_payrollearningcode", "[new HR table] cdm_reasoncode",
        "[row count] cdm_workerpersonaldetail"]  # unreadable here: whether it is empty is unknown
    entries = json.loads(Path(coverage["report_path"]).read_text())["entries"]
    assert {e["details"].get("catalog_line") for e in entries if e["check"] == "new HR table"} == {
        "- {name: cdm_payrollearningcode, required: false}", "- {name: cdm_reasoncode, required: false}"}


def test_blockers_fail_the_dag_without_retries(dataverse_conn: Any, connection_check_dag: Any, reports: Path,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    dataverse_conn.app.security.remove_application_user(dataverse_conn.info["client_id"])
    run = connection_check_dag.test(run_conf={"tables": TABLES})
    assert run.state == "failed"
    assert states(run) == {"validate_token": ("failed", 1), "check_entity_access": ("upstream_failed", 0),
                           "report_new_hr_tables": ("upstream_failed", 0),
                           "credential_expiry": ("success", 1)}  # Graph still reads the app's expiry
    out = capfd.readouterr().out
    assert "BLOCKER [application user]" in out and "Application users" in out
    report = json.loads(next((reports / "checks").rglob("validate_token.json")).read_text())
    assert report["status"] == "blocker" and report["counts"]["blocker"] == 1


def test_exception_lists_every_blocker(dataverse_conn: Any, reports: Path) -> None:
    security = dataverse_conn.app.security
    security.define_role("No worker data", {t: {"read": "organization"} for t in dataverse_conn.app.schema
                                            if t not in ("cdm_worker", "cdm_employment")})
    security.set_roles(dataverse_conn.info["client_id"], ["No worker data"])
    with DAG("adhoc_entity_access", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC")):
        op = DataverseEntityAccessCheckOperator(
            task_id="access", tables=["cdm_worker", "cdm_employment", "cdm_company", "mshr_notinstalled"])
    with pytest.raises(AirflowFailException) as err:
        op.execute({"run_id": "manual__2025-01-01T00:00:00+00:00"})
    message = str(err.value)
    assert message.startswith("3 blocker(s) found by entity_access")
    for line in ("- [read] cdm_worker: The application user's security role lacks Read on cdm_worker",
                 "- [read] cdm_employment: The application user's security role lacks Read on cdm_employment",
                 "- [table] mshr_notinstalled: The required table 'mshr_notinstalled' does not exist"):
        assert line in message
    assert message.count("  fix: ") == 3 and "cdm_company" not in message
    written = reports / "checks" / "adhoc_entity_access" / "manual__2025-01-01T00_00_00_00_00" / "access.json"
    assert str(written) in message and json.loads(written.read_text())["counts"]["blocker"] == 3


def test_a_quiet_plan_vouches_for_its_unchanged_tables_and_every_loading_table_is_checked(
        dataverse_conn: Any, reports: Path) -> None:
    """The sync's access check given the change probe's plan: the tables a quiet plan proved unchanged
    (not loaded) are recorded as vouched for, with no request; a table that loads is still checked and
    its blocker still fails the task; a plan that is not quiet vouches for nothing."""
    app = dataverse_conn.app
    quiet = {"load": ["cdm_worker"], "unchanged": ["cdm_company", "cdm_job"], "reasons": {}, "quiet": True}
    tables = ["cdm_company", "cdm_job", "cdm_worker"]
    with DAG("adhoc_vouched", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC")):
        op = DataverseEntityAccessCheckOperator(task_id="access", tables=tables, change_plan=quiet, count_rows=False)
        busy = DataverseEntityAccessCheckOperator(task_id="busy", tables=tables, count_rows=False,
                                                  change_plan={**quiet, "load": tables, "unchanged": [], "quiet": False})
    app.request_log.clear()
    summary = op.execute({"run_id": "vouched"})
    assert summary["vouched"] == ["cdm_company", "cdm_job"] and summary["status"] == "ok"
    touched = " ".join(e.path for e in app.request_log.entries())
    assert "cdm_compan" not in touched and "cdm_job" not in touched and "cdm_worker" in touched
    entries = json.loads(Path(summary["report_path"]).read_text())["entries"]
    assert {(e["check"], e["target"]) for e in entries if e["target"] != "cdm_worker"} == {
        ("vouched", "cdm_company"), ("vouched", "cdm_job")}
    assert {e["check"] for e in entries if e["target"] == "cdm_worker"} == {"table", "read", "change tracking"}
    assert all("change probe" in e["cause"] for e in entries if e["check"] == "vouched")

    assert busy.execute({"run_id": "busy"})["vouched"] == []  # no quiet plan: every table checked
    # A table that loads is checked even in a quiet run: its blocker stops the run before any data moves.
    app.security.define_role("No worker data", {t: {"read": "organization"} for t in app.schema if t != "cdm_worker"})
    app.security.set_roles(dataverse_conn.info["client_id"], ["No worker data"])
    with pytest.raises(AirflowFailException, match=r"1 blocker\(s\).*\n- \[read\] cdm_worker"):
        op.execute({"run_id": "blocked"})


def test_bad_connection_input_is_a_configuration_blocker(emulator: Any, conn_json: Any, reports: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_DATAVERSE_BROKEN", conn_json(emulator.info, tenant_id=""))
    op = DataverseTokenValidationOperator(task_id="token", dataverse_conn_id="dataverse_broken")
    with pytest.raises(AirflowFailException, match=r"\[configuration\] dataverse_broken: Setting 'Tenant ID"):
        op.execute({"run_id": "r1"})


def test_only_transient_blockers_leave_retries_to_airflow(dataverse_conn: Any, reports: Path) -> None:
    dataverse_conn.app.faults.queue(503, count=50, retry_after=0, path_contains="/WhoAmI")
    op = DataverseTokenValidationOperator(task_id="token")
    with pytest.raises(AirflowException) as err:
        op.execute({"run_id": "r2"})
    assert not isinstance(err.value, AirflowFailException) and "[application user]" in str(err.value)


def test_nothing_a_run_writes_contains_the_secret_or_a_token(dataverse_conn: Any, connection_check_dag: Any,
                                                             reports: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capfd: pytest.CaptureFixture[str]) -> None:
    import os

    from hr_dataverse.dataverse.auth import TokenProvider

    issued: list[str] = []
    real_get_token = TokenProvider.get_token

    def recording_get_token(self: TokenProvider, force_refresh: bool = False) -> Any:
        token = real_get_token(self, force_refresh)
        issued.append(token.token)
        return token

    monkeypatch.setattr(TokenProvider, "get_token", recording_get_token)
    # Warnings and blockers, so every rendering path (log lines, exception, report) runs.
    run = connection_check_dag.test(run_conf={"tables": [*TABLES, "cdm_notinstalled"]})
    assert run.state == "failed" and issued
    secrets = {dataverse_conn.info["client_secret"], *issued, *(t.split(".")[2] for t in issued)}

    written: dict[str, bytes] = {"stdout+stderr": "".join(capfd.readouterr()).encode()}
    written["xcom"] = json.dumps(xcoms(run), default=str).encode()
    for root in (Path(os.environ["AIRFLOW_HOME"]), reports):
        for path in root.rglob("*"):
            if path.is_file():
                written[str(path)] = path.read_bytes()
    assert any("check_entity_access.json" in name for name in written)
    assert b"BLOCKER [table] cdm_notinstalled" in written["stdout+stderr"]
    leaks = [(name, s[:12]) for name, data in written.items() for s in secrets if s.encode() in data]
    assert leaks == []
