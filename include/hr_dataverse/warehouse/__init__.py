"""HR warehouse: typed current-state tables, crash-safe staged loads, sync state and run history."""

from __future__ import annotations

from .columns import ColumnSelection, ColumnSpec, columns_for
from .engine import create_engine
from .errors import SchemaDriftError, WarehouseConfigError, WarehouseError, WarehouseUnavailableError
from .load import LoadResult, LoadSession
from .schema import DriftReport
from .state import LoadTotals, RequestCounts, RunRecord, SyncState
from .state_store import RunStats, SyncStateStore
from .table_lock import DEFAULT_LOCK_WAIT_S, TableBusyError
from .views import LINKED_ROWS_VIEW
from .warehouse import Warehouse

__all__ = [
    "DEFAULT_LOCK_WAIT_S", "LINKED_ROWS_VIEW", "ColumnSelection", "ColumnSpec",
    "DriftReport", "LoadResult", "LoadSession", "LoadTotals", "RequestCounts", "RunRecord", "RunStats", "SchemaDriftError",
    "SyncState", "SyncStateStore",
    "TableBusyError", "Warehouse", "WarehouseConfigError", "WarehouseError", "WarehouseUnavailableError",
    "columns_for", "create_engine",
]
