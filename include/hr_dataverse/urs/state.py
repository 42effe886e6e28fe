"""Mapping state in the warehouse: which HR row became which Dataverse row, and the run history.

``_hr_urs_mapping`` (one row per mapped URS row; also the URS "linked rows" view):
target_table + hr_key (primary key), scope_key (the unit a run re-evaluates: the row itself, the
rating model of a rating value, the worker of a resource or resource characteristic), hr_table,
label, dataverse_id, content_hash (SHA-256 of the fields and references last written), active
(False once the mapping deactivated the row), origin (``created`` by the mapping or ``adopted``: it
existed in Dataverse already), run_id and mapped_at of the last change.

``_hr_urs_mapping_runs``: one row per run with its status, the warehouse watermark it covered (the
latest ``_synced_at`` it read), the evaluation date and the JSON summary. The next incremental run
starts from the watermark of the last ``success`` run.

A row is written only after Dataverse accepted the write, so the state never claims more than
Dataverse holds. Both tables follow the warehouse's schema and table prefix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..vocabulary import MappingStatus
from ..warehouse import Warehouse
from ..warehouse.engine import write_transaction, writing
from ..warehouse.schema import TIMESTAMP

MAPPING_TABLE = "_hr_urs_mapping"
RUNS_TABLE = "_hr_urs_mapping_runs"
_IN_CHUNK = 500


@dataclass(frozen=True)
class MappedRow:
    table: str
    key: str
    scope: str
    source: str
    label: str
    dataverse_id: str
    content_hash: str | None
    active: bool
    origin: str  # created | adopted
    run_id: str


@dataclass(frozen=True)
class MappingRun:
    run_id: str
    status: MappingStatus
    started_at: datetime
    finished_at: datetime
    full_remap: bool
    watermark: datetime | None
    as_of: date
    summary: dict[str, Any]


def _tables(schema: str | None, prefix: str) -> tuple[sa.Table, sa.Table]:
    md = sa.MetaData(schema=schema)
    mapping = sa.Table(
        prefix + MAPPING_TABLE, md,
        sa.Column("target_table", sa.Text, primary_key=True),
        sa.Column("hr_key", sa.Text, primary_key=True),
        sa.Column("scope_key", sa.Text, nullable=False),
        sa.Column("hr_table", sa.Text, nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("dataverse_id", sa.Text, nullable=False),
        sa.Column("content_hash", sa.Text),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("origin", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("mapped_at", TIMESTAMP, nullable=False),
        sa.Index(f"ix{prefix}{MAPPING_TABLE}_scope", "target_table", "scope_key"),
    )
    runs = sa.Table(
        prefix + RUNS_TABLE, md,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=False),
        sa.Column("full_remap", sa.Boolean, nullable=False),
        sa.Column("watermark", TIMESTAMP),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
    )
    return mapping, runs


class MappingState:
    def __init__(self, warehouse: Warehouse) -> None:
        self.engine = warehouse.engine
        self.mapping, self.runs = _tables(warehouse.schema, warehouse.table_prefix)
        with writing(self.engine) as conn:
            if warehouse.schema:
                conn.exec_driver_sql(
                    f"CREATE SCHEMA IF NOT EXISTS {conn.dialect.identifier_preparer.quote(warehouse.schema)}")
            self.mapping.metadata.create_all(conn)

    # --- mapped rows -----------------------------------------------------------------------------

    def rows(self, table: str, scopes: Iterable[str] | None = None) -> dict[str, MappedRow]:
        """Mapped rows of a URS table, all or those of the given scope keys, by HR key."""
        m = self.mapping
        base = sa.select(m).where(m.c.target_table == table)
        with self.engine.connect() as conn:
            if scopes is None:
                found = list(conn.execute(base).mappings())
            else:
                found = [r for chunk in _chunks(sorted(set(scopes)))
                         for r in conn.execute(base.where(m.c.scope_key.in_(chunk))).mappings()]
        return {r["hr_key"]: _mapped(r) for r in found}

    def save(self, written: Iterable[MappedRow], removed: Iterable[tuple[str, str]]) -> None:
        """Record rows Dataverse accepted and forget removed ones (table, key), in one transaction.
        A row given twice (adopted, then updated) keeps its last state."""
        values = list({(row.table, row.key): self._values(row) for row in written}.values())
        gone = list(removed)
        if not values and not gone:
            return
        m = self.mapping
        with self.engine.connect() as conn, write_transaction(conn):
            if values:
                insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
                stmt = insert(m)
                keep = [c.name for c in m.columns if c.name not in ("target_table", "hr_key")]
                stmt = stmt.on_conflict_do_update(index_elements=["target_table", "hr_key"],
                                                  set_={c: stmt.excluded[c] for c in keep})
                conn.execute(stmt, values)
            for table, key in gone:
                conn.execute(m.delete().where(m.c.target_table == table, m.c.hr_key == key))

    @staticmethod
    def _values(row: MappedRow) -> dict[str, Any]:
        return {"target_table": row.table, "hr_key": row.key, "scope_key": row.scope, "hr_table": row.source,
                "label": row.label, "dataverse_id": row.dataverse_id, "content_hash": row.content_hash,
                "active": row.active, "origin": row.origin, "run_id": row.run_id,
                "mapped_at": datetime.now(UTC)}

    # --- runs ------------------------------------------------------------------------------------

    def last_success(self) -> MappingRun | None:
        r = self.runs
        query = sa.select(r).where(r.c.status == MappingStatus.SUCCESS).order_by(r.c.id.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        values = {k: row[k] for k in MappingRun.__dataclass_fields__}
        values["summary"] = json.loads(values["summary"])
        return MappingRun(**values)

    def record_run(self, run: MappingRun) -> None:
        values = {**asdict(run), "status": MappingStatus(run.status)}  # ValueError naming the allowed values
        values["summary"] = json.dumps(run.summary, default=str, sort_keys=True)
        with self.engine.connect() as conn, write_transaction(conn):
            conn.execute(self.runs.insert().values(**values))


def _mapped(r: sa.RowMapping) -> MappedRow:
    return MappedRow(r["target_table"], r["hr_key"], r["scope_key"], r["hr_table"], r["label"], r["dataverse_id"],
                     r["content_hash"], bool(r["active"]), r["origin"], r["run_id"])


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start:start + _IN_CHUNK]
