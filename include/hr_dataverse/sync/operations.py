"""Admin actions of Dynamics 365 HR's Dataverse integration page, on the warehouse.

* Sync now -> ``resync_table``: a full load of one table now (delete reconciliation, new baseline).
* Clear tracking information -> ``clear_tracking``: forget the delta link; the next run is full.
* View linked rows -> ``linked_rows``: the ``hr_linked_rows`` view (Dataverse id, warehouse table,
  last sync, deleted in Dataverse) for one table or all.
* Turning the integration off/on is pausing the DAG's schedule; the state stays in the warehouse.

``select_tables`` validates a table selection (e.g. a DAG trigger parameter) against the catalog.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..catalog import Catalog, CatalogError, TableSpec
from ..vocabulary import SyncMode
from ..warehouse import LINKED_ROWS_VIEW
from ..warehouse.schema import TIMESTAMP
from .table_sync import sync_table

if TYPE_CHECKING:
    from ..dataverse import DataverseClient
    from ..warehouse import Warehouse
    from .result import TableSyncResult

_log = logging.getLogger("hr_dataverse.sync")


def select_tables(catalog: Catalog, names: Iterable[str] | None) -> list[TableSpec]:
    """The catalog entries named (catalog order); all of them for None or an empty selection.
    Raises ``CatalogError`` listing every unknown name next to the catalog's tables."""
    wanted = list(dict.fromkeys(names or ()))
    unknown = [n for n in wanted if n not in catalog]
    if unknown:
        raise CatalogError([f"{catalog.source.name}: unknown table(s) {', '.join(map(repr, unknown))}; "
                            f"the catalog has: {', '.join(catalog.names())}"])
    return [t for t in catalog if not wanted or t.name in wanted]


def resync_table(client: DataverseClient, warehouse: Warehouse, spec: TableSpec, *, run_id: str,
                 **options: Any) -> TableSyncResult:
    """"Sync now": a full load of ``spec`` (``options`` as for ``sync_table``, except ``mode``)."""
    return sync_table(client, warehouse, spec, mode=SyncMode.FULL, run_id=run_id, **options)


def clear_tracking(warehouse: Warehouse, table: str, *, log: logging.Logger = _log) -> bool:
    """"Clear tracking information": forget the table's delta link so its next run is a full load.
    Rows stay. Returns False when the table was never synced (nothing to clear)."""
    cleared = warehouse.clear_tracking(table)
    if cleared:
        log.info("table %s: tracking information cleared; the next run is a full load", table)
    return cleared


def linked_rows(warehouse: Warehouse, catalog: Catalog | Iterable[TableSpec], table: str | None = None, *,
                limit: int = 100) -> list[dict[str, Any]]:
    """"View linked rows": up to ``limit`` rows of ``hr_linked_rows`` (most recently synced first),
    for ``table`` or every table. The view is refreshed over the catalog's synced tables first, so
    it includes tables loaded since it was last made. Values are JSON-able (ISO timestamps)."""
    specs = list(catalog)
    if table is not None and table not in {s.name for s in specs}:
        raise CatalogError([f"unknown table '{table}'; the catalog has: {', '.join(s.name for s in specs)}"])
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if not warehouse.create_linked_rows_view(specs):
        return []
    view = sa.table(warehouse.table_name(LINKED_ROWS_VIEW), sa.column("table_name"), sa.column("dataverse_id"),
                    sa.column("warehouse_table"), sa.column("last_synced_at", TIMESTAMP),
                    sa.column("deleted_in_dataverse", sa.Boolean), sa.column("deleted_at", TIMESTAMP),
                    schema=warehouse.schema)
    query = sa.select(view).order_by(view.c.last_synced_at.desc(), view.c.dataverse_id).limit(limit)
    if table is not None:
        query = query.where(view.c.table_name == table)
    with warehouse.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [{k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()} for row in rows]
