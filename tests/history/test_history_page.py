"""The sync-history page from a real history: syncs against the emulator with throttling (429 +
Retry-After), a server error, HR changes and a failed load, rendered by the plugin's app on a real
server and looked at in headless Chromium (screenshots in tests/artifacts/)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from history_helpers import render, signed_in

from dataverse_emulator.mutations import change_job_title
from dataverse_emulator.testing import client_settings
from hr_dataverse.catalog import load_catalog
from hr_dataverse.dataverse import DataverseClient
from hr_dataverse.history import HistoryFilter, HistoryFilterError, runs_of
from hr_dataverse.sync import sync_table
from hr_dataverse.warehouse import Warehouse

TABLES = ("cdm_job", "cdm_worker")


@pytest.fixture
def history(emulator, tmp_path: Path):
    """A SQLite warehouse after four sync runs: throttled full load, delta after an HR change, a
    run with a 503 retry, and a run whose load failed after being throttled."""
    wh = Warehouse(f"sqlite:///{tmp_path / 'hr.db'}")
    client = DataverseClient(client_settings(emulator.info, max_attempts=3))
    catalog = load_catalog()
    try:
        emulator.app.faults.queue(status=429, count=2, retry_after=1, path_contains="/cdm_jobs")
        for table in TABLES:
            sync_table(client, wh, catalog.get(table), run_id="scheduled__run-1")
        worker = next(emulator.app.store.iter_rows("cdm_worker"))["cdm_workernumber"]
        change_job_title(emulator.app.store, worker, "Head of payroll")
        for table in TABLES:
            sync_table(client, wh, catalog.get(table), run_id="asset_triggered__run-2")
        emulator.app.faults.queue(status=503, count=1, path_contains="/cdm_workers")
        for table in TABLES:
            sync_table(client, wh, catalog.get(table), run_id="scheduled__run-3")
        emulator.app.faults.queue(status=429, count=3, retry_after=1, path_contains="/cdm_jobs")
        with pytest.raises(Exception, match="429|throttl|Throttl"):
            sync_table(client, wh, catalog.get("cdm_job"), run_id="manual__run-4")
        yield wh
    finally:
        client.close()
        wh.dispose()


def test_runs_add_up_the_table_loads(history: Warehouse) -> None:
    runs = runs_of(history.runs())
    assert [r.run_id for r in runs] == ["scheduled__run-1", "asset_triggered__run-2", "scheduled__run-3",
                                        "manual__run-4"]
    first, second, third, failed = runs
    assert (first.throttled, first.retries, first.modes) == (2, 2, {"full": 2})
    assert first.wait_seconds >= 2.0 and first.rows_upserted > 0
    assert first.seconds >= first.wait_seconds  # a load's duration includes its reads before staging
    assert second.modes == {"delta": 2} and second.rows_upserted == 1 and second.throttled == 0
    assert (third.retries, third.throttled) == (1, 0)
    assert (failed.status, failed.throttled, failed.retries) == ("failed", 3, 2)


def test_filters_reject_bad_input_with_the_field_named() -> None:
    with pytest.raises(HistoryFilterError, match="since '2026-13-01': expected a date as YYYY-MM-DD"):
        HistoryFilter.parse(since="2026-13-01")
    with pytest.raises(HistoryFilterError, match="table"):
        HistoryFilter.parse(table="cdm_job; drop")
    with pytest.raises(HistoryFilterError, match="is after until"):
        HistoryFilter.parse(since="2026-02-02", until="2026-02-01")


@pytest.mark.browser
def test_page_renders_charts_and_counts_in_chromium(history: Warehouse, serve_app, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from dataverse_provider.sync_history_ui import URL_PREFIX, build_history_app

    # Without the UI's session the page is refused.
    anonymous = TestClient(build_history_app(history))
    assert anonymous.get("/").status_code == 401

    base = serve_app(signed_in(build_history_app(history)), URL_PREFIX) + URL_PREFIX
    dom = render(f"{base}/", tmp_path / "profile", "sync-history.png")
    assert "<title>HR sync history</title>" in dom
    for chart in ("chart-rows", "chart-duration", "chart-throttling"):
        assert f'id="{chart}"' in dom, chart
    throttling = re.search(r'<svg id="chart-throttling".*?</svg>', dom, re.S).group(0)
    bars = [int(float(v)) for v in re.findall(r'data-series="429s received" data-value="([0-9.]+)"', throttling)]
    assert bars == [2, 0, 0, 3]
    assert re.search(r'id="total-429s"><b>5</b>', dom)
    runs_table = re.search(r'<table id="runs">.*?</table>', dom, re.S).group(0)
    assert runs_table.count('<tr class="run">') == 4 and 'class="l failed">failed' in runs_table

    # Filter by table: only cdm_worker's loads.
    worker = render(f"{base}/?table=cdm_worker", tmp_path / "profile", "sync-history-table.png")
    loads = re.findall(r'<tr class="load">.*?</tr>', worker, re.S)
    assert len(loads) == 3 and all("<td class=\"l\">cdm_worker</td>" in row or ">cdm_worker<" in row for row in loads)

    # The DAG-run tab: one run's table loads.
    run = render(f"{base}/dag-runs/hr_dataverse_sync/manual__run-4/", tmp_path / "profile", "sync-history-run.png")
    assert "HR sync history: run manual__run-4" in run
    assert len(re.findall(r'<tr class="load">', run)) == 1

    # Dates: a window with no runs, and a bad date named in the answer.
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    empty = TestClient(signed_in(build_history_app(history))).get(f"/?since={tomorrow}")
    assert empty.status_code == 200 and "No sync runs match these filters." in empty.text
    bad = TestClient(signed_in(build_history_app(history))).get("/?until=yesterday")
    assert bad.status_code == 400 and "until &#x27;yesterday&#x27;: expected a date as YYYY-MM-DD" in bad.text


def test_plugin_registers_the_menu_entry_and_the_dag_run_tab() -> None:
    from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse

    from dataverse_provider.sync_history_ui import HrSyncHistoryPlugin, dag_run_history_url

    [app] = HrSyncHistoryPlugin.fastapi_apps
    assert app["url_prefix"] == "/hr-sync-history"
    views = {v["destination"]: v for v in HrSyncHistoryPlugin.external_views}
    for view in views.values():
        ExternalViewResponse.model_validate(view)  # what the API server accepts
    assert views["nav"]["href"] == "/hr-sync-history/"
    link = dag_run_history_url("hr_dataverse_sync", "manual__2026-01-01T00:00:00+00:00")
    assert views["dag_run"]["href"].replace("{DAG_ID}", "hr_dataverse_sync").replace(
        "{RUN_ID}", "manual__2026-01-01T00%3A00%3A00%2B00%3A00") == link
