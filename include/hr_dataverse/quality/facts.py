"""What the checks are built from, read from the warehouse with plain SQLAlchemy (no GX): which
catalog tables have a warehouse table and which columns, live row counts, the sync state (last
successful sync, source count captured at load time), and whether the URS mapping state exists.

Also the SQL pieces the hand-written rules need: quoted table references (schema and table prefix
applied) and timestamp/date literals in the form each backend compares correctly (SQLite stores
UTC timestamps as ``YYYY-MM-DD HH:MM:SS.ffffff`` text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import sqlalchemy as sa

from ..catalog import Catalog
from ..urs.state import MAPPING_TABLE
from ..warehouse import Warehouse
from ..warehouse.state import STATE_TABLE
from ..warehouse.table_rules import TableRules, load_table_rules


@dataclass(frozen=True)
class TableFacts:
    name: str  # catalog (logical) name
    warehouse_table: str  # physical name (table prefix applied)
    columns: tuple[str, ...]
    live_rows: int
    last_sync_at: datetime | None  # last committed load; None: never loaded successfully
    source_count: int | None  # Dataverse's count captured by that load


@dataclass(frozen=True)
class WarehouseFacts:
    dialect: str
    schema: str | None
    table_prefix: str
    tables: dict[str, TableFacts]  # catalog tables that have a warehouse table
    state_table: str | None  # physical name of the sync state table; None when absent
    mapping_table: str | None  # physical name of the URS mapping state table; None when absent
    mapping_columns: tuple[str, ...] = ()
    _quote: sa.sql.compiler.IdentifierPreparer | None = field(default=None, repr=False, compare=False)
    # Rules metadata-driven catalog entries were loaded under (``warehouse.table_rules``).
    rules: dict[str, TableRules] = field(default_factory=dict)

    def quote(self, name: str) -> str:
        return self._quote.quote(name) if self._quote else f'"{name}"'

    def ref(self, physical_name: str) -> str:
        """A quoted, schema-qualified table reference for hand-written SQL."""
        table = self.quote(physical_name)
        return f"{self.quote(self.schema)}.{table}" if self.schema else table

    def table_ref(self, logical_name: str) -> str:
        return self.ref(self.tables[logical_name].warehouse_table)

    def timestamp_literal(self, value: datetime) -> str:
        utc = value.astimezone(UTC)
        if self.dialect == "sqlite":
            return f"'{utc.strftime('%Y-%m-%d %H:%M:%S.%f')}'"
        return f"TIMESTAMP WITH TIME ZONE '{utc.isoformat()}'"

    def date_literal(self, value: date) -> str:
        # A bare ISO date sorts before any same-day SQLite timestamp text and casts on PostgreSQL.
        return f"'{value.isoformat()}'" if self.dialect == "sqlite" else f"DATE '{value.isoformat()}'"


def gather_facts(warehouse: Warehouse, catalog: Catalog, mapping_table: str = MAPPING_TABLE) -> WarehouseFacts:
    """Read the facts for ``catalog`` from ``warehouse`` (read-only: creates nothing)."""
    engine = warehouse.engine
    inspector = sa.inspect(engine)
    schema = warehouse.schema
    existing = set(inspector.get_table_names(schema=schema))
    state_name = warehouse.table_name(STATE_TABLE)
    states = {s.table_name: s for s in warehouse.states()} if state_name in existing else {}
    preparer = engine.dialect.identifier_preparer
    tables: dict[str, TableFacts] = {}
    with engine.connect() as conn:
        for spec in catalog:
            physical = warehouse.table_name(spec.name)
            if physical not in existing:
                continue
            columns = tuple(c["name"] for c in inspector.get_columns(physical, schema=schema))
            target = sa.table(physical, *(sa.column(c) for c in columns), schema=schema)
            query = sa.select(sa.func.count()).select_from(target)
            if "_deleted_at" in columns:
                query = query.where(target.c._deleted_at.is_(None))
            state = states.get(spec.name)
            tables[spec.name] = TableFacts(
                name=spec.name, warehouse_table=physical, columns=columns, live_rows=int(conn.scalar(query) or 0),
                last_sync_at=state.last_sync_at if state else None,
                source_count=state.source_count if state else None,
            )
    mapping_physical = warehouse.table_name(mapping_table)
    mapping_columns: tuple[str, ...] = ()
    if mapping_physical in existing:
        mapping_columns = tuple(c["name"] for c in inspector.get_columns(mapping_physical, schema=schema))
    return WarehouseFacts(
        dialect=engine.dialect.name, schema=schema, table_prefix=warehouse.table_prefix, tables=tables,
        state_table=state_name if state_name in existing else None,
        mapping_table=mapping_physical if mapping_physical in existing else None,
        mapping_columns=mapping_columns, _quote=preparer, rules=load_table_rules(warehouse),
    )
