"""The sync DAG's schedule from the polling settings: cron only (default), change assets with
watchers OR the cron safety net, or change assets alone; bad settings name the variable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hr_deployment.event_sync import (
    CHANGE_URI_PREFIX,
    EventSyncConfigError,
    changed_tables,
    sync_schedule,
)

pytestmark = pytest.mark.airflow
ROOT = Path(__file__).resolve().parents[2]
NAMES = ["cdm_job", "cdm_worker", "cdm_company"]


def parse_sync_dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "hr_dataverse_sync.py"))
    assert bag.import_errors == {}
    return bag.dags["hr_dataverse_sync"]


def test_polling_adds_watched_change_assets_beside_a_daily_safety_net(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk import AssetOrTimeSchedule

    from dataverse_provider.triggers.change import DataverseChangeTrigger

    monkeypatch.setenv("HR_DATAVERSE_POLL_TABLES", "cdm_job,cdm_worker")
    monkeypatch.setenv("HR_DATAVERSE_POLL_INTERVAL", "30")
    monkeypatch.delenv("HR_DATAVERSE_SYNC_SCHEDULE", raising=False)
    dag = parse_sync_dag()
    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    assert dag.timetable.timetable.expression == "0 3 * * *"
    assets = {a.uri: a for a in dag.timetable.asset_condition.objects}
    assert list(assets) == [f"{CHANGE_URI_PREFIX}cdm_job", f"{CHANGE_URI_PREFIX}cdm_worker"]
    [watcher] = assets[f"{CHANGE_URI_PREFIX}cdm_worker"].watchers
    assert isinstance(watcher.trigger, DataverseChangeTrigger)
    assert watcher.trigger.serialize()[1] == {"table": "cdm_worker", "conn_id": "dataverse_default", "interval": 30.0,
                                              "tables": 2, "budget_per_hour": 600}


def test_schedule_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk import AssetAny

    monkeypatch.delenv("HR_DATAVERSE_POLL_TABLES", raising=False)
    assert sync_schedule("*/15 * * * *", NAMES, cron_explicit=False) == "*/15 * * * *"  # polling off: cron only
    monkeypatch.setenv("HR_DATAVERSE_POLL_TABLES", "all")
    assert isinstance(sync_schedule(None, NAMES, cron_explicit=True), AssetAny)  # "none": events only
    explicit = sync_schedule("@hourly", NAMES, cron_explicit=True)
    assert explicit.timetable.expression == "0 * * * *" and len(explicit.asset_condition.objects) == 3
    monkeypatch.setenv("HR_DATAVERSE_POLL_TABLES", "cdm_job,cdm_nosuch")
    with pytest.raises(EventSyncConfigError, match="HR_DATAVERSE_POLL_TABLES: cdm_nosuch not in the entity catalog"):
        sync_schedule(None, NAMES, cron_explicit=False)
    monkeypatch.setenv("HR_DATAVERSE_POLL_TABLES", "cdm_job")
    monkeypatch.setenv("HR_DATAVERSE_POLL_INTERVAL", "2")
    with pytest.raises(EventSyncConfigError, match="HR_DATAVERSE_POLL_INTERVAL='2': must be at least 5"):
        sync_schedule(None, NAMES, cron_explicit=False)


def test_changed_tables_come_from_change_events_only() -> None:
    from airflow.sdk import Asset

    events = {Asset(name="a", uri=f"{CHANGE_URI_PREFIX}cdm_worker"): [object()],
              Asset(name="b", uri=f"{CHANGE_URI_PREFIX}cdm_job"): [],
              Asset(name="c", uri="dataverse://hr/cdm_company"): [object()]}
    assert changed_tables(events) == ["cdm_worker"]
    assert changed_tables(None) == [] and changed_tables({}) == []
