"""The seam between task bodies and the core (dataverse_provider.edge): a task reads through the
connection it is given, core errors become Airflow exceptions, everything is closed on every exit;
and the provider never imports this deployment's glue (hr_deployment)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from dataverse_provider.edge import task_session, to_xcom
from hr_dataverse.dataverse import PermissionDenied, Throttled

pytestmark = pytest.mark.airflow

PROVIDER = Path(__file__).resolve().parents[2] / "plugins" / "dataverse_provider"


def test_a_load_reads_through_the_connection_it_is_given(emulator: Any, conn_json: Any, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from hr_deployment.sync_tasks import load_table

    monkeypatch.delenv("AIRFLOW_CONN_DATAVERSE_DEFAULT", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_HR_SECOND", conn_json(emulator.info))
    monkeypatch.setenv("HR_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'hr.db'}")
    result = load_table("cdm_company", mode="full", slots=1, run_id="run-1", conn_id="hr_second")
    assert result["status"] == "success" and result["rows_total"] > 0
    with pytest.raises(Exception, match="dataverse_default"):  # no such connection: the default is not used
        load_table("cdm_company", mode="full", slots=1, run_id="run-2")


def test_core_errors_become_airflow_exceptions_and_everything_is_closed(
        emulator: Any, conn_json: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_HR_ANY", conn_json(emulator.info))
    monkeypatch.setenv("HR_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'hr.db'}")
    opened: list[Any] = []
    denied = PermissionDenied("missing prvReadcdm_job privilege", status=403)
    with (pytest.raises(AirflowFailException, match=r"^table 'cdm_job': \[privileges\]") as failed,
          task_session("table 'cdm_job'", "hr_any") as session):
        opened.append(session)
        assert session.client.whoami() and session.warehouse.states() == []  # both really open
        raise denied
    assert failed.value.core_error is denied and failed.value.__cause__ is None  # type: ignore[attr-defined]
    with pytest.raises(AirflowException) as retried, task_session("URS mapping") as session:
        opened.append(session)
        raise Throttled("Rate limit exceeded", status=429, retry_after=30)
    assert type(retried.value) is AirflowException and str(retried.value).startswith("URS mapping: ")
    with pytest.raises(KeyError), task_session("linked rows"):  # unexpected: as it is, with its traceback
        raise KeyError("bug")
    for session in opened:
        assert session.hook._client is None and session.hook.dataverse_conn_id in ("hr_any", "dataverse_default")


def test_to_xcom_converts_a_value_object_once_and_adds_the_edges_keys() -> None:
    from hr_dataverse.sync import TableSyncResult

    result = TableSyncResult.failure("cdm_job", "auto", ValueError("x"), seconds=1.0)
    assert to_xcom(result) == result.to_dict()
    assert to_xcom(result, required=False) == {**result.to_dict(), "required": False}


def test_the_provider_never_imports_the_deployment_glue() -> None:
    offenders = []
    for path in sorted(PROVIDER.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(PROVIDER)}: {n}" for n in names if n.split(".")[0] == "hr_deployment"]
    assert offenders == []
