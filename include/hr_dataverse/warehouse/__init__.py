"""HR warehouse: typed current-state tables, crash-safe staged loads, sync state and run history."""

from __future__ import annotations

from .columns import ColumnSelection, ColumnSpec, columns_for
from .engine import WAREHOUSE_URL_ENV, create_engine, default_url
from .errors import SchemaDriftError, WarehouseConfigError, WarehouseError
from .load import LoadResult, LoadSession
from .schema import DriftReport
from .state import MODES, RequestCounts, RunRecord, SyncState
from .views import LINKED_ROWS_VIEW
from .warehouse import Warehouse

__all__ = [
    "LINKED_ROWS_VIEW", "MODES", "WAREHOUSE_URL_ENV", "ColumnSelection", "ColumnSpec", "DriftReport", "LoadResult",
    "LoadSession", "RequestCounts", "RunRecord", "SchemaDriftError", "SyncState", "Warehouse", "WarehouseConfigError",
    "WarehouseError", "columns_for", "create_engine", "default_url",
]
