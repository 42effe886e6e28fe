"""Small JSON-able summaries of table syncs (what an Airflow task may return through XCom).

Both are frozen value objects: the core returns them, the Airflow edge converts them with ``to_dict()``
once, at XCom (the dict shapes are what tests, logs and the UI read); ``from_dict`` reads them back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..vocabulary import LoadMode, RunStatus
from ..warehouse.state import LoadTotals


@dataclass(frozen=True)
class TableSyncResult:
    """What one ``sync_table`` call did.

    ``mode_used``: full, delta or full_every_run (the warehouse's load modes). ``reason`` says why
    that mode was chosen. ``requests``/``throttled`` are the client's counters over the call (they
    include other threads' requests if the client is shared while this runs). ``source_count`` is
    the count stored in the sync state; ``source_count_method`` how it was taken (see counts.py).
    """

    table: str
    mode_used: LoadMode | str
    reason: str
    rows_upserted: int = 0
    rows_deleted: int = 0
    pages: int = 0
    requests: int = 0
    throttled: int = 0
    wait_seconds: float = 0.0  # waited before retries (Retry-After of 429s, backoff)
    retries: int = 0
    seconds: float = 0.0
    delta_link_stored: bool = False
    warnings: list[str] = field(default_factory=list)
    source_count: int | None = None
    source_count_method: str | None = None
    partitions: int = 1
    rows_total: int | None = None  # live warehouse rows after the load
    status: RunStatus | str = RunStatus.SUCCESS
    error: str | None = None
    deletes_held: dict[str, Any] | None = None  # the delete guard's hold (counts, cause), see delete_guard.py

    def to_dict(self) -> dict[str, Any]:
        """The XCom shape: plain JSON values (modes and statuses as their strings)."""
        return {**asdict(self), "mode_used": str(self.mode_used), "status": str(self.status)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableSyncResult:
        """Read back ``to_dict()``; keys the caller added (the edge's ``required``, ``skipped``) are left out."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})

    @classmethod
    def failure(cls, table: str, mode: str, error: BaseException | str, *, seconds: float = 0.0,
                warnings: list[str] | None = None) -> TableSyncResult:
        """The summary of a table whose sync raised (for callers that continue with other tables)."""
        return cls(table=table, mode_used=mode, reason=str(RunStatus.FAILED), seconds=round(seconds, 3),
                   warnings=list(warnings or []), status=RunStatus.FAILED, error=str(error))


def run_summary(results: Iterable[TableSyncResult | dict[str, Any]]) -> dict[str, Any]:
    """Totals over a run's table results (objects or their ``to_dict()``), plus one line per table."""
    return RunSummary.of(results).to_dict()


_BY_TABLE = ("status", "mode_used", "rows_upserted", "rows_deleted", "rows_total", "source_count", "seconds")


@dataclass(frozen=True)
class RunSummary(LoadTotals):
    """``LoadTotals`` over a run's table results, plus one line per table (``by_table``: the keys of ``_BY_TABLE``).

    ``to_dict()`` is the XCom and log shape (lists and dicts of plain values); ``from_dict`` reads it back.
    """

    tables: int
    succeeded: int  # success or warning
    with_warnings: list[str]
    failed: list[str]
    modes: dict[str, list[str]]  # load mode -> tables loaded that way (failed tables left out)
    seconds: float
    warnings: list[str]
    errors: dict[str, str | None]
    skipped_busy: list[str]
    deletes_held: dict[str, dict[str, Any]]
    by_table: dict[str, dict[str, Any]]

    @classmethod
    def of(cls, results: Iterable[TableSyncResult | dict[str, Any]]) -> RunSummary:
        rows = [r.to_dict() if isinstance(r, TableSyncResult) else dict(r) for r in results]
        by_status = {s: sorted(r["table"] for r in rows if r.get("status") == s) for s in RunStatus}
        loaded = [r for r in rows if r.get("status") != RunStatus.FAILED]
        return cls(
            tables=len(rows),
            succeeded=len(by_status[RunStatus.SUCCESS]) + len(by_status[RunStatus.WARNING]),
            with_warnings=by_status[RunStatus.WARNING],
            failed=by_status[RunStatus.FAILED],
            modes={m: sorted(r["table"] for r in loaded if r.get("mode_used") == m)
                   for m in sorted({r.get("mode_used") for r in loaded})},
            rows_upserted=sum(r.get("rows_upserted", 0) for r in rows),
            rows_deleted=sum(r.get("rows_deleted", 0) for r in rows),
            pages=sum(r.get("pages", 0) for r in rows),
            requests=sum(r.get("requests", 0) for r in rows),
            throttled=sum(r.get("throttled", 0) for r in rows),
            wait_seconds=round(sum(r.get("wait_seconds", 0.0) for r in rows), 3),
            retries=sum(r.get("retries", 0) for r in rows),
            seconds=round(sum(r.get("seconds", 0.0) for r in rows), 3),
            warnings=[w for r in rows for w in r.get("warnings", [])],
            errors={r["table"]: r.get("error") for r in rows if r.get("status") == RunStatus.FAILED},
            skipped_busy=by_status[RunStatus.SKIPPED],
            deletes_held={r["table"]: r["deletes_held"] for r in rows if r.get("deletes_held")},
            by_table={r["table"]: {k: r.get(k) for k in _BY_TABLE} for r in rows},
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSummary:
        """Read back ``to_dict()``; keys the caller added (e.g. the edge's ``not_synced``) are left out."""
        return cls(**{f.name: data[f.name] for f in fields(cls)})
