"""Sync engine: full loads and change-tracking deltas from Dataverse into the HR warehouse.

One ``sync_table`` call per catalog table (an Airflow task maps over tables); each returns a small
``TableSyncResult``; ``run_summary`` totals them. See ``table_sync.py`` for modes and guarantees, and
``hr_dataverse.vocabulary`` for the modes and statuses (``SyncMode``, ``LoadMode``, ``RunStatus``).
"""

from __future__ import annotations

from .budget import ConcurrencyBudget
from .counts import SourceCount
from .delete_guard import DeleteGuardSettings, DeleteHold, HoldCause
from .errors import SyncError, UnknownColumnError
from .metadata_cache import RunMetadata
from .operations import clear_tracking, linked_rows, resync_table, select_tables
from .result import TableSyncResult, run_summary
from .table_sync import DEFAULT_PARTITION_THRESHOLD, sync_table

__all__ = [
    "DEFAULT_PARTITION_THRESHOLD", "ConcurrencyBudget", "DeleteGuardSettings", "DeleteHold", "HoldCause",
    "RunMetadata", "SourceCount",
    "SyncError", "TableSyncResult", "UnknownColumnError", "clear_tracking", "linked_rows", "resync_table",
    "run_summary", "select_tables", "sync_table",
]
