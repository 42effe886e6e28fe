"""The warehouse's sync-state store: the state row per table (``_hr_sync_state``) and the run history
(``_hr_sync_runs``).

Guarantees: every write runs on the caller's connection and transaction, so ``save_load`` stores a
load's delta link and counts in the same transaction as the rows they describe (``LoadSession.commit``).
A history row's mode and status are members of the vocabulary (``LoadMode``, ``RunStatus``); any
other value raises ``WarehouseError`` naming the table and the allowed values, and nothing is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from ..vocabulary import LoadMode, RunStatus, Vocabulary
from .errors import WarehouseError
from .state import RequestCounts, RunRecord, SyncState, state_tables, upsert_state

V = TypeVar("V", bound=Vocabulary)


@dataclass(frozen=True)
class RunStats:
    """What a load cost and reported, for its history row (its rows and status come from the load)."""

    pages: int = 0
    counts: RequestCounts = RequestCounts()
    message: str | None = None
    warnings: tuple[str, ...] = ()
    started_at: datetime | None = None  # when the load began, its reads included (commit: default session start)

    def history_values(self) -> dict[str, Any]:
        return {"pages": self.pages, **self.counts.history_values(), "message": self.message,
                "warnings": json.dumps(list(self.warnings)) if self.warnings else None}


@dataclass(frozen=True)
class LoadResult:
    """What a committed load did (``LoadSession.commit``)."""

    table: str
    run_id: str
    mode: LoadMode
    rows_upserted: int  # distinct rows whose latest staged event was an upsert
    rows_deleted: int  # live rows newly soft-deleted (delete events + reconciliation)
    rows_reconciled: int  # of which: live rows a full load did not see
    rows_total: int  # live rows after the commit
    rows_deleted_total: int  # soft-deleted rows after the commit
    synced_at: datetime
    deletes_held: str | None = None  # why ``delete_check`` held the reconciliation (nothing was deleted)
    names_refreshed: dict[str, int] = field(default_factory=dict)  # "table.lookup" -> dependent rows renamed


def checked(table: str, vocabulary: type[V], value: str) -> V:
    """``value`` as a member of ``vocabulary``; ``WarehouseError`` naming the table otherwise."""
    try:
        return vocabulary(value)
    except ValueError as exc:
        raise WarehouseError(f"table '{table}': {exc}") from None


class SyncStateStore:
    """The state and history tables of one warehouse (its schema and table prefix)."""

    def __init__(self, schema: str | None, table_prefix: str) -> None:
        self.state, self.runs = state_tables(schema, table_prefix)
        self.table_prefix = table_prefix

    # --- state -----------------------------------------------------------------------------

    def get(self, conn: sa.Connection, table: str) -> SyncState | None:
        row = conn.execute(sa.select(self.state).where(self.state.c.table_name == table)).first()
        return SyncState.from_row(row) if row else None

    def all(self, conn: sa.Connection) -> list[SyncState]:
        return [SyncState.from_row(r) for r in conn.execute(sa.select(self.state).order_by(self.state.c.table_name))]

    def schema_snapshot(self, conn: sa.Connection, table: str) -> str | None:
        return conn.scalar(sa.select(self.state.c.schema_columns).where(self.state.c.table_name == table))

    def save_schema(self, conn: sa.Connection, table: str, snapshot: str) -> None:
        upsert_state(conn, self.state, {"table_name": table, "warehouse_table": self.table_prefix + table,
                                        "schema_columns": snapshot, "updated_at": datetime.now(UTC)})

    def clear_tracking(self, conn: sa.Connection, table: str) -> bool:
        result = conn.execute(self.state.update().where(self.state.c.table_name == table)
                              .values(delta_link=None, updated_at=datetime.now(UTC)))
        return result.rowcount > 0

    def save_load(self, conn: sa.Connection, done: LoadResult, *, status: RunStatus, delta_link: str | None,
                  source_count: int | None, stats: RunStats) -> None:
        """State row + history row of a committed load (inside the load's transaction)."""
        mode, now = LoadMode(done.mode), done.synced_at
        values: dict[str, Any] = {
            "table_name": done.table, "warehouse_table": self.table_prefix + done.table, "mode": mode,
            "delta_link": None if mode is LoadMode.FULL_EVERY_RUN else delta_link,
            "last_sync_at": now, "last_run_id": done.run_id, "rows_total": done.rows_total,
            "rows_deleted": done.rows_deleted_total, "last_rows_upserted": done.rows_upserted,
            "last_rows_deleted": done.rows_deleted, "updated_at": now,
        }
        if mode.reads_everything:
            values["last_full_load_at"] = now
        if source_count is not None:  # a delta usually has no fresh count: keep the last one
            values["source_count"] = source_count
        upsert_state(conn, self.state, values)
        self.append_run(conn, done.run_id, done.table, mode, status, stats, finished_at=now,
                        rows=(done.rows_upserted, done.rows_deleted))

    def record_unchanged(self, conn: sa.Connection, table: str, run_id: str, *, started_at: datetime,
                         message: str) -> None:
        """A table proven unchanged since its delta link: synced as of now (a ``delta`` history row of
        one request, nothing loaded); its delta link, totals and count stay."""
        now = datetime.now(UTC)
        conn.execute(self.state.update().where(self.state.c.table_name == table).values(
            last_sync_at=now, last_run_id=run_id, last_rows_upserted=0, last_rows_deleted=0, updated_at=now))
        self.append_run(conn, run_id, table, LoadMode.DELTA, RunStatus.SUCCESS,
                        RunStats(counts=RequestCounts(requests=1), message=message, started_at=started_at),
                        finished_at=now)

    # --- history ---------------------------------------------------------------------------

    def append_run(self, conn: sa.Connection, run_id: str, table: str, mode: str, status: str, stats: RunStats, *,
                   finished_at: datetime, rows: tuple[int, int] = (0, 0)) -> None:
        """One history row; ``stats.started_at`` is required here. ``rows``: (upserted, deleted)."""
        status, mode = checked(table, RunStatus, status), checked(table, LoadMode, mode)
        if stats.started_at is None:
            raise WarehouseError(f"table '{table}': a run-history row needs the time the load started")
        conn.execute(self.runs.insert().values(
            run_id=run_id, table_name=table, mode=mode, status=status, started_at=stats.started_at,
            finished_at=finished_at, rows_upserted=rows[0], rows_deleted=rows[1], **stats.history_values()))

    def history(self, conn: sa.Connection, *, table: str | None = None, run_id: str | None = None,
                since: datetime | None = None, until: datetime | None = None,
                limit: int | None = None) -> list[RunRecord]:
        """History rows started in [since, until), oldest first; with ``limit``, the newest ``limit``."""
        r = self.runs
        query = sa.select(*(r.c[f] for f in RunRecord.__dataclass_fields__))
        for column, value in (("table_name", table), ("run_id", run_id)):
            if value is not None:
                query = query.where(r.c[column] == value)
        if since is not None:
            query = query.where(r.c.started_at >= since)
        if until is not None:
            query = query.where(r.c.started_at < until)
        if limit is None:
            return [RunRecord.from_row(row) for row in conn.execute(query.order_by(r.c.id))]
        newest = conn.execute(query.order_by(r.c.id.desc()).limit(limit)).all()
        return [RunRecord.from_row(row) for row in reversed(newest)]
