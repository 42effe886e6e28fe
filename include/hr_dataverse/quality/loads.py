"""What the loads of the same pipeline run did, so the quality report never calls a run "passed"
while the warehouse holds stale tables.

The sync records each table's load in the warehouse run history under the pipeline's run id.
``load_outcome`` compares that with the tables the quality step checks: a required table whose
load failed, or that has no load in this run at all (the run stopped before the loads), is stale,
and the report leads with "Loads failed" and the stale tables with their last successful sync.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..vocabulary import RunStatus
from ..warehouse import Warehouse

SUCCEEDED = tuple(s for s in RunStatus if s.landed)  # run-history statuses of a load that landed its rows


@dataclass(frozen=True)
class LoadOutcome:
    """The loads of one pipeline run, for the tables its quality step checks."""

    run_id: str
    expected: list[str]  # required tables the run was to load
    failed: list[str] = field(default_factory=list)  # a failed load is recorded for this run
    not_loaded: list[str] = field(default_factory=list)  # no load recorded for this run
    last_success: dict[str, str | None] = field(default_factory=dict)  # stale table -> last successful sync

    @property
    def stale(self) -> list[str]:
        return [*self.failed, *self.not_loaded]

    @property
    def ok(self) -> bool:
        return not self.stale

    def message(self) -> str:
        if self.ok:
            return f"All {len(self.expected)} table load(s) of this run succeeded."
        head = ("Nothing was loaded in this run" if len(self.not_loaded) == len(self.expected)
                else f"Loads failed in this run ({len(self.stale)} of {len(self.expected)} tables)")
        tables = ", ".join(f"{t} ({'last successful sync ' + self.last_success[t] if self.last_success.get(t) else 'never synced'})"
                           for t in self.stale)
        return f"{head}: the warehouse holds stale data for {tables}. The checks below describe that stale data."

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "stale": self.stale, "message": self.message()}


def load_outcome(warehouse: Warehouse, run_id: str, tables: Iterable[str]) -> LoadOutcome:
    """The outcome of ``run_id``'s loads for ``tables`` (the required tables the run was to load)."""
    expected = list(tables)
    latest: dict[str, str] = {}
    for record in warehouse.runs(run_id):  # oldest first: a retried load's last record wins
        latest[record.table_name] = record.status
    failed = [t for t in expected if t in latest and latest[t] not in SUCCEEDED]
    not_loaded = [t for t in expected if t not in latest]
    last_success = {}
    for table in [*failed, *not_loaded]:
        state = warehouse.get_state(table)
        at = state.last_sync_at if state is not None else None
        last_success[table] = at.isoformat(timespec="seconds") if at else None
    return LoadOutcome(run_id, expected, failed, not_loaded, last_success)
