"""Current-state table DDL from column specs, and schema drift against the existing table.

Storage kinds map to SQL types per backend (PostgreSQL / SQLite):
text -> text; integer -> integer; bigint -> bigint; numeric -> numeric / REAL;
double -> double precision; boolean -> boolean; timestamp -> timestamptz / DATETIME text in UTC
(read back as aware UTC through ``UtcDateTime``); date -> date; guid -> uuid / VARCHAR(36) lower-case.

Every table also has the bookkeeping columns ``_synced_at``, ``_source_version`` (Dataverse
versionnumber / row etag), ``_deleted_at`` (soft delete; NULL = live) and ``_run_id``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from .columns import ColumnSpec
from .errors import SchemaDriftError, WarehouseError

log = logging.getLogger(__name__)



class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """timestamptz on PostgreSQL; on SQLite (no time zones) stored as UTC and read back tz-aware,
    so callers always get aware UTC datetimes."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            return value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


GUID = sa.Uuid(as_uuid=False).with_variant(sa.String(36), "sqlite")
TIMESTAMP = UtcDateTime()
_SQL_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "text": sa.Text(),
    "integer": sa.Integer(),
    "bigint": sa.BigInteger(),
    "numeric": sa.Numeric().with_variant(sa.Float(), "sqlite"),  # SQLite has no exact decimals
    "double": sa.Double(),
    "boolean": sa.Boolean(),
    "timestamp": TIMESTAMP,
    "date": sa.Date(),
    "guid": GUID,
}
BOOKKEEPING: dict[str, str] = {
    "_synced_at": "timestamp", "_source_version": "bigint", "_deleted_at": "timestamp", "_run_id": "text",
}


def sql_type(kind: str) -> sa.types.TypeEngine[Any]:
    return _SQL_TYPES[kind]


@dataclass(frozen=True)
class DriftReport:
    """What ``ensure_table`` did: created the table, added columns, found columns the source dropped."""

    table: str
    created: bool = False
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.created or bool(self.added)


@dataclass(frozen=True)
class TableLayout:
    """A warehouse table as a load sees it: source columns now selected plus kept (removed) ones."""

    name: str  # Dataverse logical name
    table: sa.Table
    primary_key: str
    columns: tuple[ColumnSpec, ...]
    data_columns: tuple[str, ...]  # every non-bookkeeping column, primary key first
    kinds: dict[str, str]  # data column -> storage kind (kept columns of unknown origin are absent)

    def snapshot(self) -> str:
        """JSON stored in the sync state, compared by the next ``ensure_table``."""
        return json.dumps({"primary_key": self.primary_key, "columns": self.kinds}, sort_keys=True)


def desired_kinds(table: str, primary_key: str, columns: Sequence[ColumnSpec]) -> dict[str, str]:
    """Data column -> kind for the given specs (companions are text); validates names."""
    if not any(c.name == primary_key for c in columns):
        raise WarehouseError(f"table '{table}': the columns do not include the primary key '{primary_key}'")
    kinds: dict[str, str] = {}
    for col in sorted(columns, key=lambda c: c.name != primary_key):  # primary key first
        for name, kind in ((col.name, col.kind), (col.companion, "text")):
            if name is None:
                continue
            if name in kinds or name in BOOKKEEPING:
                raise WarehouseError(f"table '{table}': column name '{name}' is used twice "
                                     "(by a source column, a _name/_label column or a bookkeeping column)")
            kinds[name] = kind
    return kinds


def ensure(
    conn: sa.Connection,
    schema: str | None,
    logical_name: str,
    warehouse_name: str,
    primary_key: str,
    columns: Sequence[ColumnSpec],
    snapshot: str | None,
) -> tuple[TableLayout, DriftReport]:
    """Create the table or follow drift (inside the caller's write transaction)."""
    desired = desired_kinds(logical_name, primary_key, columns)
    inspector = sa.inspect(conn)
    if not inspector.has_table(warehouse_name, schema=schema):
        table = _table(schema, warehouse_name, primary_key, desired, {})
        table.create(conn)
        layout = TableLayout(logical_name, table, primary_key, tuple(columns), tuple(desired), desired)
        return layout, DriftReport(logical_name, created=True)

    reflected = {c["name"]: c["type"] for c in inspector.get_columns(warehouse_name, schema=schema)}
    existing_pk = inspector.get_pk_constraint(warehouse_name, schema=schema).get("constrained_columns") or []
    if existing_pk != [primary_key]:
        raise SchemaDriftError(logical_name, primary_key,
                               f"the warehouse table's primary key is {existing_pk}; a changed primary key "
                               "needs a new table (drop it and run a full load)")
    old: dict[str, str] = json.loads(snapshot)["columns"] if snapshot else {}
    for name, kind in desired.items():
        if name in reflected and old.get(name) not in (None, kind):
            raise SchemaDriftError(logical_name, name, f"type changed from {old[name]} to {kind}; the warehouse "
                                                       "column cannot hold both (rename or drop the column and "
                                                       "run a full load)")
    added = [n for n in desired if n not in reflected]
    for name in added + [n for n in BOOKKEEPING if n not in reflected]:
        _add_column(conn, schema, warehouse_name, name, desired.get(name) or BOOKKEEPING[name])
    removed = [n for n in reflected if n not in desired and n not in BOOKKEEPING]
    warnings = [f"table '{logical_name}': column '{n}' is no longer delivered by the source; it is kept and "
                "new or changed rows store NULL in it" for n in removed]
    for warning in warnings:
        log.warning(warning)
    # Kept columns keep their recorded kind; without a record (table made elsewhere) the reflected type.
    kinds = desired | {n: old[n] for n in removed if n in old}
    unknown = {n: reflected[n] for n in removed if n not in old}
    table = _table(schema, warehouse_name, primary_key, kinds, unknown)
    layout = TableLayout(logical_name, table, primary_key, tuple(columns), tuple(desired) + tuple(removed), kinds)
    return layout, DriftReport(logical_name, added=added, removed=removed, warnings=warnings)


def _table(
    schema: str | None,
    name: str,
    primary_key: str,
    kinds: dict[str, str],
    reflected_types: dict[str, sa.types.TypeEngine[Any]],
) -> sa.Table:
    cols = [
        sa.Column(col, sql_type(kind), primary_key=col == primary_key, nullable=col != primary_key)
        for col, kind in kinds.items()
    ]
    cols += [sa.Column(col, type_) for col, type_ in reflected_types.items()]
    cols += [sa.Column(col, sql_type(kind)) for col, kind in BOOKKEEPING.items()]
    return sa.Table(name, sa.MetaData(schema=schema), *cols)


def _add_column(conn: sa.Connection, schema: str | None, table: str, column: str, kind: str) -> None:
    prep = conn.dialect.identifier_preparer
    target = prep.format_table(sa.Table(table, sa.MetaData(), schema=schema))
    type_sql = sql_type(kind).compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE {target} ADD COLUMN {prep.quote(column)} {type_sql}")
    log.info("warehouse table %s: added column %s (%s)", table, column, kind)
