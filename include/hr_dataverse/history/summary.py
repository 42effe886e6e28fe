"""Per-run totals over the per-table rows of the run history."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ..vocabulary import RunStatus
from ..warehouse import LoadTotals, RunRecord

_SEVERITY = {RunStatus.SUCCESS: 0, RunStatus.SKIPPED: 1, RunStatus.WARNING: 2, RunStatus.FAILED: 3}


def worst(statuses: Iterable[str]) -> RunStatus:
    known = [RunStatus(s) if s in RunStatus.__members__.values() else RunStatus.WARNING for s in statuses]
    return max(known, key=_SEVERITY.__getitem__, default=RunStatus.SUCCESS)


@dataclass(frozen=True)
class RunTotals(LoadTotals):
    """One sync run over the tables it loaded (its ``LoadTotals`` summed over them). ``seconds`` is wall
    time (first start to last finish)."""

    run_id: str
    started_at: datetime
    finished_at: datetime | None
    status: RunStatus
    tables: tuple[str, ...]
    modes: dict[str, int]
    warnings: int

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds() if self.finished_at else 0.0


def duration(record: RunRecord) -> float:
    return (record.finished_at - record.started_at).total_seconds() if record.finished_at else 0.0


def runs_of(records: Iterable[RunRecord]) -> list[RunTotals]:
    """Totals per run id, oldest run first."""
    groups: dict[str, list[RunRecord]] = {}
    for record in records:
        groups.setdefault(record.run_id, []).append(record)
    runs = []
    for run_id, rows in groups.items():
        finished = [r.finished_at for r in rows if r.finished_at is not None]
        modes: dict[str, int] = {}
        for r in rows:
            modes[r.mode] = modes.get(r.mode, 0) + 1
        runs.append(RunTotals(
            run_id=run_id, started_at=min(r.started_at for r in rows), finished_at=max(finished, default=None),
            status=worst(r.status for r in rows), tables=tuple(sorted({r.table_name for r in rows})), modes=modes,
            rows_upserted=sum(r.rows_upserted for r in rows), rows_deleted=sum(r.rows_deleted for r in rows),
            pages=sum(r.pages for r in rows), requests=sum(r.requests for r in rows),
            throttled=sum(r.throttled for r in rows), wait_seconds=round(sum(r.wait_seconds for r in rows), 3),
            retries=sum(r.retries for r in rows), warnings=sum(len(r.warnings) for r in rows),
        ))
    return sorted(runs, key=lambda run: run.started_at)
