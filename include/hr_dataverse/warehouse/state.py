"""Sync state per table (``_hr_sync_state``) and run history (``_hr_sync_runs``): tables and records.

The state row of a table is written in the same transaction as the rows it describes (see
``load.py`` and ``state_store.py``), so its ``delta_link`` always matches the warehouse contents.
Modes and statuses are the vocabulary's ``LoadMode`` and ``RunStatus`` values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .schema import TIMESTAMP

STATE_TABLE = "_hr_sync_state"
RUNS_TABLE = "_hr_sync_runs"


def state_tables(schema: str | None, prefix: str) -> tuple[sa.Table, sa.Table]:
    md = sa.MetaData(schema=schema)
    state = sa.Table(
        prefix + STATE_TABLE, md,
        sa.Column("table_name", sa.Text, primary_key=True),  # Dataverse logical name
        sa.Column("warehouse_table", sa.Text, nullable=False),
        sa.Column("mode", sa.Text),  # mode of the last committed load
        sa.Column("delta_link", sa.Text),  # NULL: the next load is a full load
        sa.Column("last_full_load_at", TIMESTAMP),
        sa.Column("last_sync_at", TIMESTAMP),
        sa.Column("last_run_id", sa.Text),
        sa.Column("rows_total", sa.BigInteger),  # live rows after the last load
        sa.Column("rows_deleted", sa.BigInteger),  # soft-deleted rows after the last load
        sa.Column("last_rows_upserted", sa.BigInteger),
        sa.Column("last_rows_deleted", sa.BigInteger),
        sa.Column("source_count", sa.BigInteger),  # Dataverse's count when the load ran (for data quality)
        sa.Column("schema_columns", sa.Text),  # JSON snapshot of the warehouse table's columns
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    runs = sa.Table(
        prefix + RUNS_TABLE, md,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("table_name", sa.Text, nullable=False),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP),
        sa.Column("rows_upserted", sa.BigInteger, nullable=False, default=0),
        sa.Column("rows_deleted", sa.BigInteger, nullable=False, default=0),
        sa.Column("pages", sa.Integer, nullable=False, default=0),
        sa.Column("requests", sa.Integer, nullable=False, default=0),
        sa.Column("message", sa.Text),
        # Added later (``migrate.add_missing_columns`` adds them to older warehouses): throttling and retries.
        sa.Column("throttled", sa.Integer, default=0),  # 429 answers received
        sa.Column("wait_seconds", sa.Float, default=0.0),  # seconds waited before retries (Retry-After, backoff)
        sa.Column("retries", sa.Integer, default=0),  # requests sent again (429, 5xx, dropped connections)
        sa.Column("warnings", sa.Text),  # JSON list of the load's warnings
        sa.Index(f"ix{prefix}_hr_sync_runs_table", "table_name", "started_at"),
    )
    return state, runs


@dataclass(frozen=True)
class SyncState:
    table_name: str
    warehouse_table: str
    mode: str | None
    delta_link: str | None
    last_full_load_at: datetime | None
    last_sync_at: datetime | None
    last_run_id: str | None
    rows_total: int | None
    rows_deleted: int | None
    last_rows_upserted: int | None
    last_rows_deleted: int | None
    source_count: int | None
    schema_columns: dict[str, Any] | None
    updated_at: datetime

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> SyncState:
        values = dict(row._mapping)
        values["schema_columns"] = json.loads(values["schema_columns"]) if values["schema_columns"] else None
        return cls(**values)


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    table_name: str
    mode: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    rows_upserted: int
    rows_deleted: int
    pages: int
    requests: int
    message: str | None
    throttled: int = 0
    wait_seconds: float = 0.0
    retries: int = 0
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> RunRecord:
        values = dict(row._mapping)
        for name in ("throttled", "retries"):  # NULL in rows written before the columns existed
            values[name] = values.get(name) or 0
        values["wait_seconds"] = float(values.get("wait_seconds") or 0.0)
        values["warnings"] = tuple(json.loads(values["warnings"])) if values.get("warnings") else ()
        return cls(**values)


@dataclass(frozen=True)
class LoadTotals:
    """Counters summed over loads (the tables of a run): what run summaries and the history page show."""

    rows_upserted: int
    rows_deleted: int
    pages: int
    requests: int
    throttled: int
    wait_seconds: float
    retries: int


@dataclass(frozen=True)
class RequestCounts:
    """Requests a load sent and how throttling and retries slowed it (what goes to the run history)."""

    requests: int = 0
    throttled: int = 0
    wait_seconds: float = 0.0
    retries: int = 0

    def history_values(self) -> dict[str, Any]:
        return {"requests": self.requests, "throttled": self.throttled,
                "wait_seconds": round(self.wait_seconds, 3), "retries": self.retries}


def upsert_state(conn: sa.Connection, state: sa.Table, values: dict[str, Any]) -> None:
    """Insert or update one state row; only the given columns change on update."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(state).values(**values)
    updates = {k: stmt.excluded[k] for k in values if k != "table_name"}
    conn.execute(stmt.on_conflict_do_update(index_elements=["table_name"], set_=updates))
