"""The Airflow side: the data-quality operator, its extra link, and the UI plugin serving the reports."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from quality_helpers import Scenario

pytestmark = pytest.mark.airflow

DAG_ID = "hr_data_quality"
RUN_ID = "manual__2025-01-01T00:00:00+00:00"


class FakeTI:
    """What the operator uses of the task instance: XCom push."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def warehouse_conn(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_HR_WAREHOUSE", json.dumps({"conn_type": "generic",
                                                                "extra": {"sqlalchemy_url": url}}))


def operator(quality_dir: Path, **kwargs: Any) -> Any:
    from airflow.sdk import DAG

    from dataverse_provider.operators.data_quality import HrDataQualityOperator

    with DAG(DAG_ID, schedule=None):
        return HrDataQualityOperator(task_id="data_quality", quality_dir=str(quality_dir), **kwargs)


def execute(op: Any, params: dict[str, Any] | None = None) -> tuple[Any, FakeTI]:
    ti = FakeTI()
    return op.execute({"run_id": RUN_ID, "params": params or {}, "ti": ti}), ti


def reports_client(root: Path, *, signed_in: bool) -> Any:
    """The reports app mounted under its plugin prefix, as the API server mounts it."""
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from dataverse_provider.ui import URL_PREFIX, build_reports_app

    app = build_reports_app(str(root))
    if signed_in:
        app.dependency_overrides[get_user] = lambda: SimpleNamespace(get_name=lambda: "tester")
    parent = FastAPI()
    parent.mount(URL_PREFIX, app)
    return TestClient(parent, follow_redirects=False)


def test_modules_load_without_gx_and_gx_logs_stay_out_of_the_task_log(clean_scenario: Scenario,
                                                                      tmp_path: Path) -> None:
    """In a fresh interpreter (GX logs ~200 INFO lines on its first import): importing the operator
    and loading Airflow's plugins imports no GX; running the checks logs no GX INFO line and draws
    no progress bar, with the root logger at INFO like a task log."""
    script = textwrap.dedent(f"""
        import json, logging, sys
        logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="LOG|%(name)s|%(levelname)s|%(message)s")
        from airflow.sdk import DAG
        import dataverse_provider.operators.data_quality as dq
        from airflow import plugins_manager
        apps, _ = plugins_manager.get_fastapi_plugins()
        print("PREFIXES", json.dumps([a["url_prefix"] for a in apps]))
        print("GX_AFTER_IMPORT", "great_expectations" in sys.modules)
        class TI:
            def xcom_push(self, key, value):
                pass
        with DAG("{DAG_ID}", schedule=None):
            op = dq.HrDataQualityOperator(task_id="data_quality", quality_dir=sys.argv[1], tables=["cdm_company"])
        summary = op.execute({{"run_id": "{RUN_ID}", "params": {{}}, "ti": TI()}})
        print("GX_AFTER_RUN", "great_expectations" in sys.modules)
        print("SUMMARY", json.dumps(summary))
    """)
    env = {**__import__("os").environ, "AIRFLOW_CONN_HR_WAREHOUSE": json.dumps(
        {"conn_type": "generic", "extra": {"sqlalchemy_url": clean_scenario.url}})}
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "quality")], capture_output=True, text=True,
                          timeout=120, env=env, check=False)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "GX_AFTER_IMPORT False" in out and "GX_AFTER_RUN True" in out
    assert "/hr-quality" in json.loads(re.search(r"^PREFIXES (.*)$", done.stdout, re.M).group(1))
    gx_lines = [line for line in out.splitlines() if re.match(r"LOG\|great_expectations[.|].*\|(INFO|DEBUG)\|", line)]
    assert gx_lines == []
    assert "Calculating Metrics" not in out  # GX's tqdm progress bars
    summary = json.loads(re.search(r"^SUMMARY (.*)$", done.stdout, re.M).group(1))
    assert summary["status"] == "passed" and list(summary["tables"]) == ["cdm_company"]
    assert Path(summary["report_path"]).is_file()
    assert re.search(r"data quality passed: \d+ checks", out)  # the operator's one-line summary


@pytest.mark.parametrize("defect_scenario", ["sqlite"], indirect=True)
def test_operator_fails_after_writing_the_report_and_pushes_the_summary(
        defect_scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    warehouse_conn(monkeypatch, defect_scenario.url)
    op = operator(tmp_path / "quality", tables=["cdm_employment", "cdm_worker"])
    ti = FakeTI()
    with pytest.raises(AirflowFailException, match=r"2 check\(s\) of severity error failed \(2 warning\(s\)\)") as err:
        op.execute({"run_id": RUN_ID, "params": {}, "ti": ti})
    report = tmp_path / "quality" / "runs" / "hr_data_quality__manual__2025-01-01T00_00_00_00_00" / "summary.html"
    assert str(report) in str(err.value) and report.is_file()
    summary = ti.pushed["return_value"]  # pushed before failing: the XCom is there for failed runs too
    assert summary["has_errors"] and summary["report_path"] == str(report)
    assert {f["id"] for f in summary["failures"]} == {
        "cdm_employment.references.cdm_workerid", "cdm_worker.unique.cdm_workernumber",
        "cdm_worker.has_values", "cdm_worker.option_domain.cdm_gender"}
    assert len(json.dumps(summary)) < 4000  # small: no samples, no per-check detail


@pytest.mark.parametrize("defect_scenario", ["sqlite"], indirect=True)
def test_trigger_form_overrides_reach_the_checks(defect_scenario: Scenario, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse_conn(monkeypatch, defect_scenario.url)
    op = operator(tmp_path / "quality", tables=["cdm_employment"], severity={"freshness": "warning"})
    summary, ti = execute(op, {"data_quality": {"severity": {"cdm_employment.references.*": "warning"},
                                                "freshness_hours": 48}})
    assert summary["status"] == "warnings" and not summary["has_errors"]
    assert [(f["id"], f["severity"]) for f in summary["failures"]] == [
        ("cdm_employment.references.cdm_workerid", "warning")]
    assert ti.pushed == {}  # the return value is the XCom
    body = json.loads(Path(summary["report_path"]).with_suffix(".json").read_text(encoding="utf-8"))
    freshness = next(c for c in body["checks"] if c["kind"] == "freshness")
    assert freshness["severity"] == "warning" and "48 hours" in freshness["description"]


@pytest.mark.parametrize(("params", "message"), [
    ({"severity": {"cdm_worker": "fatal"}}, r"unknown severity for 'cdm_worker': 'fatal' \(use one of error, warning, off\)"),
    ({"severity": "not json"}, r"severity must be a JSON object"),
    ({"freshnes_hours": 4}, r"unknown data-quality parameter\(s\) freshnes_hours"),
    ({"freshness_hours": "soon"}, r"freshness_hours must be a float, got 'soon'"),
])
def test_bad_trigger_form_input_fails_with_a_readable_message(clean_scenario: Scenario, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch, params: dict,
                                                              message: str) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    warehouse_conn(monkeypatch, clean_scenario.url)
    with pytest.raises(AirflowFailException, match=message):
        execute(operator(tmp_path / "quality"), {"data_quality": params})
    assert not (tmp_path / "quality" / "runs").exists()  # rejected before any check ran


@pytest.mark.parametrize("defect_scenario", ["sqlite"], indirect=True)
def test_reports_app_serves_reports_read_only_to_signed_in_users(defect_scenario: Scenario) -> None:
    root, folder = defect_scenario.root, "defects-sqlite"
    anonymous = reports_client(root, signed_in=False)
    assert anonymous.get("/hr-quality/latest/").status_code == 401
    client = reports_client(root, signed_in=True)
    latest = client.get("/hr-quality/latest/")
    assert latest.status_code == 200 and latest.headers["content-type"].startswith("text/html")
    assert "<title>HR data quality: Failed (defects-sqlite)</title>" in latest.text
    assert latest.headers["x-content-type-options"] == "nosniff"
    index = client.get("/hr-quality/")
    assert index.status_code == 200 and f"runs/{folder}/summary.html" in index.text
    summary = client.get(f"/hr-quality/runs/{folder}/summary.json")
    assert summary.status_code == 200 and summary.json()["run_id"] == "defects-sqlite"
    docs = client.get("/hr-quality/docs/index.html")
    assert docs.status_code == 200 and "Great Expectations" in docs.text
    moved = client.get("/hr-quality/latest")
    assert moved.status_code == 307 and moved.headers["location"] == "latest/"  # relative: any mount point
    assert client.get("/hr-quality/latest", follow_redirects=True).url.path == "/hr-quality/latest/"
    # The GX project and everything outside the reports stay private; nothing can be written.
    for path in ("/hr-quality/gx/great_expectations.yml", "/hr-quality/history.json",
                 "/hr-quality/runs/%2e%2e/gx/great_expectations.yml", "/hr-quality/docs/../gx/great_expectations.yml"):
        response = client.get(path)
        assert response.status_code == 404 and "No data-quality report" in response.text, path
    assert client.post("/hr-quality/latest/").status_code == 405
    assert client.delete(f"/hr-quality/runs/{folder}/summary.json").status_code == 405
    missing = client.get("/hr-quality/dag-runs/some_dag/some_run/")
    assert missing.status_code == 404 and "DAG run some_run of some_dag has no data-quality report" in missing.text


def test_extra_link_and_dag_run_view_lead_to_the_run_report(clean_scenario: Scenario, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from dataverse_provider.ui import DataQualityReportLink, HrDataQualityPlugin

    warehouse_conn(monkeypatch, clean_scenario.url)
    op = operator(tmp_path / "quality", tables=["cdm_company"])
    execute(op)
    link = DataQualityReportLink().get_link(op, ti_key=SimpleNamespace(dag_id=DAG_ID, run_id=RUN_ID))
    assert link == "/hr-quality/dag-runs/hr_data_quality/manual__2025-01-01T00%3A00%3A00%2B00%3A00/"
    assert op.operator_extra_links[0].name == "Data quality report"
    client = reports_client(tmp_path / "quality", signed_in=True)
    response = client.get(link)
    assert response.status_code == 307
    page = client.get(link, follow_redirects=True)
    assert page.url.path == "/hr-quality/runs/hr_data_quality__manual__2025-01-01T00_00_00_00_00/"
    assert page.status_code == 200 and "<title>HR data quality: Passed" in page.text
    # The plugin registers the app and the two views the UI shows: the menu entry and the DAG-run tab.
    [app] = HrDataQualityPlugin.fastapi_apps
    assert app["url_prefix"] == "/hr-quality"
    views = {v["destination"]: v for v in HrDataQualityPlugin.external_views}
    assert views["nav"]["href"] == "/hr-quality/latest/" and views["nav"]["url_route"]
    assert views["dag_run"]["href"] == "/hr-quality/dag-runs/{DAG_ID}/{RUN_ID}/"
    # The UI fills the placeholders URL-encoded: the same URL as the extra link.
    assert views["dag_run"]["href"].replace("{DAG_ID}", DAG_ID).replace(
        "{RUN_ID}", "manual__2025-01-01T00%3A00%3A00%2B00%3A00") == link
