"""Small JSON-able summaries of table syncs (what an Airflow task may return through XCom)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class TableStatus(StrEnum):
    """Outcome of one table sync (also the run-history status)."""

    SUCCESS = "success"
    WARNING = "warning"  # loaded, with something to look at (``warnings``; ``deletes_held`` when set)
    FAILED = "failed"
    SKIPPED = "skipped"  # another process was loading the table (its load lock); nothing loaded


SUCCESS, WARNING, FAILED, SKIPPED = TableStatus.SUCCESS, TableStatus.WARNING, TableStatus.FAILED, TableStatus.SKIPPED


@dataclass
class TableSyncResult:
    """What one ``sync_table`` call did.

    ``mode_used``: full, delta or full_every_run (the warehouse's load modes). ``reason`` says why
    that mode was chosen. ``requests``/``throttled`` are the client's counters over the call (they
    include other threads' requests if the client is shared while this runs). ``source_count`` is
    the count stored in the sync state; ``source_count_method`` how it was taken (see counts.py).
    """

    table: str
    mode_used: str
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
    status: str = SUCCESS
    error: str | None = None
    deletes_held: dict[str, Any] | None = None  # the delete guard's hold (counts, cause), see delete_guard.py

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": str(self.status)}

    @classmethod
    def failure(cls, table: str, mode: str, error: BaseException | str, *, seconds: float = 0.0,
                warnings: list[str] | None = None) -> TableSyncResult:
        """The summary of a table whose sync raised (for callers that continue with other tables)."""
        return cls(table=table, mode_used=mode, reason="failed", seconds=round(seconds, 3),
                   warnings=list(warnings or []), status=FAILED, error=str(error))


def run_summary(results: Iterable[TableSyncResult | dict[str, Any]]) -> dict[str, Any]:
    """Totals over a run's table results (objects or their ``to_dict()``), plus one line per table."""
    rows = [r.to_dict() if isinstance(r, TableSyncResult) else dict(r) for r in results]
    by_status = {s: sorted(r["table"] for r in rows if r.get("status") == s) for s in (SUCCESS, WARNING, FAILED)}
    return {
        "tables": len(rows),
        "succeeded": len(by_status[SUCCESS]) + len(by_status[WARNING]),
        "with_warnings": by_status[WARNING],
        "failed": by_status[FAILED],
        "modes": {m: sorted(r["table"] for r in rows if r.get("mode_used") == m and r.get("status") != FAILED)
                  for m in sorted({r.get("mode_used") for r in rows if r.get("status") != FAILED})},
        "rows_upserted": sum(r.get("rows_upserted", 0) for r in rows),
        "rows_deleted": sum(r.get("rows_deleted", 0) for r in rows),
        "pages": sum(r.get("pages", 0) for r in rows),
        "requests": sum(r.get("requests", 0) for r in rows),
        "throttled": sum(r.get("throttled", 0) for r in rows),
        "wait_seconds": round(sum(r.get("wait_seconds", 0.0) for r in rows), 3),
        "retries": sum(r.get("retries", 0) for r in rows),
        "seconds": round(sum(r.get("seconds", 0.0) for r in rows), 3),
        "warnings": [w for r in rows for w in r.get("warnings", [])],
        "errors": {r["table"]: r.get("error") for r in rows if r.get("status") == FAILED},
        "skipped_busy": sorted(r["table"] for r in rows if r.get("status") == SKIPPED),
        "deletes_held": {r["table"]: r["deletes_held"] for r in rows if r.get("deletes_held")},
        "by_table": {r["table"]: {k: r.get(k) for k in ("status", "mode_used", "rows_upserted", "rows_deleted",
                                                        "rows_total", "source_count", "seconds")}
                     for r in rows},
    }
