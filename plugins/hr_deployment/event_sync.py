"""Event-driven scheduling of ``hr_dataverse_sync``: change assets with watchers, plus cron.

Settings (environment, read when the DAG file is parsed):

* ``HR_DATAVERSE_POLL_TABLES``: catalog tables to poll, comma-separated, or ``all`` (every
  catalog table); empty or unset: no polling, the sync runs on its cron schedule only.
* ``HR_DATAVERSE_POLL_INTERVAL``: seconds between two polls of one table (default 60, at least 5).
* ``HR_DATAVERSE_POLL_BUDGET``: Dataverse requests per hour the poller may send over all tables
  (default 600: under 1% of one user's service-protection limit of 6,000 requests per 5 minutes);
  the interval grows when the budget needs it.
* ``HR_DATAVERSE_SYNC_SCHEDULE``: the cron schedule; with polling on it is the safety net and
  defaults to daily at 03:00 UTC (``0 3 * * *``).

Each polled table has a change asset ``dataverse-changes://hr/<table>`` watched by a
``DataverseChangeTrigger``; the DAG runs on any of them or on the cron schedule
(``AssetOrTimeSchedule``). A run started by change events syncs only the tables whose events it
consumed (:func:`changed_tables`); a cron run syncs every table.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from airflow.sdk import Asset, AssetAny, AssetOrTimeSchedule, AssetWatcher, CronTriggerTimetable

from dataverse_provider.hooks.dataverse import DataverseHook

POLL_TABLES_ENV = "HR_DATAVERSE_POLL_TABLES"
POLL_INTERVAL_ENV = "HR_DATAVERSE_POLL_INTERVAL"
POLL_BUDGET_ENV = "HR_DATAVERSE_POLL_BUDGET"
CHANGE_URI_PREFIX = "dataverse-changes://hr/"
SAFETY_NET_SCHEDULE = "0 3 * * *"


class EventSyncConfigError(ValueError):
    """A polling setting is unusable; the message names the environment variable."""


def polled_tables(catalog_names: list[str]) -> list[str]:
    value = os.environ.get(POLL_TABLES_ENV, "").strip()
    if not value or value.lower() in ("none", "off"):
        return []
    if value.lower() == "all":
        return list(catalog_names)
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if catalog_names and n not in catalog_names]
    if unknown:
        raise EventSyncConfigError(f"{POLL_TABLES_ENV}: {', '.join(unknown)} not in the entity catalog")
    return names


def _number(name: str, default: float, minimum: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise EventSyncConfigError(f"{name}={raw!r}: expected a number") from None
    if value < minimum:
        raise EventSyncConfigError(f"{name}={raw!r}: must be at least {minimum:g}")
    return value


def change_asset(table: str, watcher: AssetWatcher | None = None) -> Asset:
    return Asset(name=f"hr_dataverse_changes.{table}", uri=f"{CHANGE_URI_PREFIX}{table}",
                 watchers=[watcher] if watcher else [])


def sync_schedule(cron: str | None, catalog_names: list[str], *, cron_explicit: bool,
                  conn_id: str = DataverseHook.default_conn_name) -> Any:
    """``cron`` alone when polling is off; else the change assets OR the cron safety net (daily
    unless ``cron`` was set explicitly; with no cron at all, the change assets alone)."""
    from dataverse_provider.triggers.change import DataverseChangeTrigger

    tables = polled_tables(catalog_names)
    if not tables:
        return cron
    interval = _number(POLL_INTERVAL_ENV, 60.0, 5.0)
    budget = int(_number(POLL_BUDGET_ENV, 600.0, 1.0))
    assets = [change_asset(t, AssetWatcher(name=f"hr_dataverse_poll_{t}", trigger=DataverseChangeTrigger(
        table=t, conn_id=conn_id, interval=interval, tables=len(tables), budget_per_hour=budget))) for t in tables]
    if not cron_explicit:
        cron = SAFETY_NET_SCHEDULE
    if cron is None:
        return AssetAny(*assets)
    return AssetOrTimeSchedule(timetable=CronTriggerTimetable(cron, timezone="UTC"), assets=AssetAny(*assets))


def changed_tables(triggering_asset_events: Mapping[Any, Iterable[Any]] | None) -> list[str]:
    """The tables whose change events started this run (sorted); [] for other runs."""
    found: set[str] = set()
    for asset, events in (triggering_asset_events or {}).items():
        uri = getattr(asset, "uri", str(asset))
        if uri.startswith(CHANGE_URI_PREFIX) and list(events):
            found.add(uri[len(CHANGE_URI_PREFIX):])
    return sorted(found)
