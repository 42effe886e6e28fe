"""The report storage URL (dataverse_provider.report_storage), the plugin reading it, the pool from
configuration and the refusal of a SQLite warehouse on Celery."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

pytestmark = pytest.mark.airflow


@pytest.fixture
def storage_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "storage"
    monkeypatch.setenv("HR_REPORT_STORAGE_URL", folder.as_uri())
    monkeypatch.setenv("HR_QUALITY_DIR", str(tmp_path / "not-used"))
    monkeypatch.setenv("HR_REPORTS_DIR", str(tmp_path / "not-used-either"))
    return folder


def test_storage_url_wins_over_the_local_folders(storage_url: Path) -> None:
    from dataverse_provider.report_storage import checks_storage, display, quality_storage

    assert display(quality_storage()) == str(storage_url / "quality")
    assert display(checks_storage()) == str(storage_url / "checks")
    assert str(quality_storage()).startswith("file://")


def test_without_a_url_the_local_folders_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataverse_provider.report_storage import checks_storage, display, quality_storage

    monkeypatch.delenv("HR_REPORT_STORAGE_URL", raising=False)
    monkeypatch.setenv("HR_QUALITY_DIR", str(tmp_path / "q"))
    monkeypatch.setenv("HR_REPORTS_DIR", str(tmp_path / "r"))
    assert display(quality_storage()) == str(tmp_path / "q")
    assert display(checks_storage()) == str(tmp_path / "r" / "checks")


@pytest.mark.parametrize(("url", "message"), [
    ("/plain/path", "must be a URL"),
    ("nosuchscheme://bucket/reports", "HR_REPORT_STORAGE_URL"),
])
def test_a_bad_storage_url_is_named(monkeypatch: pytest.MonkeyPatch, url: str, message: str) -> None:
    from dataverse_provider.report_storage import StorageConfigError, quality_storage

    monkeypatch.setenv("HR_REPORT_STORAGE_URL", url)
    with pytest.raises(StorageConfigError, match=message):
        quality_storage()


def test_abfs_urls_resolve_through_the_azure_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataverse_provider.report_storage import display, quality_storage

    monkeypatch.setenv("HR_REPORT_STORAGE_URL", "abfs://reports/hr")
    monkeypatch.setenv("HR_REPORT_STORAGE_CONN_ID", "adls_reports")
    path = quality_storage()
    assert (path.protocol, path.conn_id, display(path)) == ("abfs", "adls_reports", "abfs://adls_reports@reports/hr/quality")


def test_pull_then_push_round_trip_and_prunes_only_what_this_run_removed(storage_url: Path, tmp_path: Path) -> None:
    from dataverse_provider.report_storage import pull, push, quality_storage

    root = quality_storage()
    for rel, text in {"runs/a/summary.html": "A", "runs/b/summary.html": "B", "history.json": "[]"}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    work = tmp_path / "work"
    pulled = pull(root, work)
    assert pulled == {"runs/a/summary.html", "runs/b/summary.html", "history.json"}
    # This run prunes run a and adds run c; meanwhile another worker published run d.
    (work / "runs/a/summary.html").unlink()
    (work / "runs/c").mkdir()
    (work / "runs/c/summary.html").write_text("C")
    (work / "history.json").write_text('["c"]')
    (root / "runs/d").mkdir()
    (root / "runs/d/summary.html").write_text("D")
    assert push(work, root, pulled, prune_under="runs") == 3
    left = sorted(p.relative_to(storage_url / "quality").as_posix() for p in (storage_url / "quality").rglob("*.*"))
    assert left == ["history.json", "runs/b/summary.html", "runs/c/summary.html", "runs/d/summary.html"]


def test_check_reports_go_to_the_storage_url(storage_url: Path) -> None:
    from airflow.sdk import DAG

    from dataverse_provider.operators.check_base import DataverseCheckOperator
    from hr_dataverse.checks import CheckReport

    with DAG("hr_connection_check", schedule=None):
        op = DataverseCheckOperator(task_id="validate_token")
    path = op._write(CheckReport("token"), {"run_id": "manual__2025-01-01T00:00:00+00:00"})
    assert Path(path).is_relative_to(storage_url / "checks") and json.loads(Path(path).read_text())["name"] == "token"


def test_the_plugin_serves_reports_from_the_storage_url(storage_url: Path) -> None:
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from dataverse_provider.ui import URL_PREFIX, build_reports_app

    page = storage_url / "quality" / "runs" / "hr_data_quality__r1" / "summary.html"
    page.parent.mkdir(parents=True)
    page.write_text("<html>report r1</html>")
    (storage_url / "quality" / "gx").mkdir()
    (storage_url / "quality" / "gx" / "great_expectations.yml").write_text("secret: project")
    app = build_reports_app()
    app.dependency_overrides[get_user] = lambda: SimpleNamespace(get_name=lambda: "tester")
    parent = FastAPI()
    parent.mount(URL_PREFIX, app)
    client = TestClient(parent)
    resp = client.get(f"{URL_PREFIX}/dag-runs/hr_data_quality/r1/")
    assert resp.status_code == 200 and resp.text == "<html>report r1</html>"
    assert resp.headers["content-type"].startswith("text/html")
    assert client.get(f"{URL_PREFIX}/gx/great_expectations.yml").status_code == 404
    assert client.get(f"{URL_PREFIX}/runs/../gx/great_expectations.yml").status_code == 404
    assert client.get(f"{URL_PREFIX}/runs/%2E%2E/gx/great_expectations.yml").status_code == 404
    assert client.get(f"{URL_PREFIX}/dag-runs/hr_data_quality/r2/").status_code == 404


def test_sqlite_warehouse_is_refused_on_celery(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from dataverse_provider.warehouse import checked_warehouse_url
    from hr_dataverse.warehouse import WarehouseConfigError

    monkeypatch.delenv("AIRFLOW_CONN_HR_WAREHOUSE", raising=False)
    monkeypatch.setenv("HR_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'hr.db'}")
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    # LocalExecutor: the SQLite file is fine, and it is the URL the warehouse opens (the variable's)
    assert checked_warehouse_url() == f"sqlite:///{tmp_path / 'hr.db'}"
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    with pytest.raises(WarehouseConfigError, match="CeleryExecutor.*PostgreSQL"):
        checked_warehouse_url()
    monkeypatch.setenv("AIRFLOW_CONN_HR_WAREHOUSE", "postgresql://u:p@db:5432/hr_warehouse")
    assert checked_warehouse_url().startswith("postgresql+psycopg2://u:p@db:5432/hr_warehouse")


def test_pool_size_comes_from_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    from hr_dataverse.defaults import DEFAULT_MAX_CONCURRENCY
    from hr_deployment.pools import configured_pool_size

    assert configured_pool_size({}) == DEFAULT_MAX_CONCURRENCY == 5
    assert configured_pool_size({"HR_DATAVERSE_MAX_CONCURRENCY": "8", "HR_DATAVERSE_DOP_HINT": "5"}) == 5
    assert configured_pool_size({"HR_DATAVERSE_POOL_SLOTS": "12", "HR_DATAVERSE_DOP_HINT": "5"}) == 12
    assert configured_pool_size({}, max_concurrency=4, dop_hint=2) == 3  # never below a large-table load
    with pytest.raises(ValueError, match="HR_DATAVERSE_POOL_SLOTS"):
        configured_pool_size({"HR_DATAVERSE_POOL_SLOTS": "2"})
    with pytest.raises(ValueError, match="HR_DATAVERSE_DOP_HINT must be a whole number"):
        configured_pool_size({"HR_DATAVERSE_DOP_HINT": "five"})
