"""Sync history for people: the warehouse's run history (``_hr_sync_runs``) per run and per table,
as one HTML page with server-drawn SVG charts (no scripts, no CDN). No Airflow imports.

``render_history_page(warehouse, HistoryFilter.parse(...), home="/hr-sync-history/")`` is what the
Airflow UI plugin serves; ``runs_of(records)`` gives the per-run totals the charts draw.
"""

from .filters import HistoryFilter, HistoryFilterError
from .page import render_history_page
from .summary import RunStatus, RunTotals, runs_of

__all__ = ["HistoryFilter", "HistoryFilterError", "RunStatus", "RunTotals", "render_history_page", "runs_of"]
