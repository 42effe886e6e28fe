"""Airflow Assets of the HR warehouse: one per catalog table, ``dataverse://hr/<logical name>``.

The sync's load tasks are mapped over tables, and a mapped task cannot declare a different outlet
per instance, so they declare :data:`SYNC_ALIAS` and add the table's asset to it at run time
(Airflow creates the asset on its first event). A downstream DAG schedules on the tables it reads::

    from hr_deployment.assets import table_asset
    with DAG(..., schedule=table_asset("cdm_worker") & table_asset("cdm_employment")): ...

An event is emitted when a load changed the table (rows upserted or soft-deleted) or rewrote it
(full loads); its ``extra`` carries the load's mode and counts.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, AssetAlias

from hr_dataverse.vocabulary import LoadMode, RunStatus

ASSET_URI_PREFIX = "dataverse://hr/"
SYNC_ALIAS = AssetAlias(name="hr_dataverse_tables")


def table_asset(logical_name: str) -> Asset:
    """The asset of the warehouse table that holds the Dataverse table ``logical_name``."""
    return Asset(name=f"hr_warehouse.{logical_name}", uri=f"{ASSET_URI_PREFIX}{logical_name}")


def asset_event_extra(result: dict[str, Any]) -> dict[str, Any] | None:
    """The event ``extra`` for a load summary (``TableSyncResult.to_dict()``), or None when the
    load left the table as it was (a delta with no changes) and downstream has nothing new."""
    changed = (result.get("rows_upserted") or 0) + (result.get("rows_deleted") or 0)
    if result.get("status") == RunStatus.FAILED or (result.get("mode_used") == LoadMode.DELTA and not changed):
        return None
    return {k: result.get(k) for k in ("mode_used", "rows_upserted", "rows_deleted", "rows_total")}
