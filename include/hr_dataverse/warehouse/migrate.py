"""Additive migrations of the bookkeeping tables: columns a newer version added are added to a
warehouse created by an older one.

Only nullable columns are added, never dropped or retyped, so an older version of the sync keeps
working against a migrated warehouse (it leaves the new columns NULL; readers treat NULL as 0).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

log = logging.getLogger(__name__)


def add_missing_columns(conn: sa.Connection, table: sa.Table) -> list[str]:
    """``ALTER TABLE … ADD COLUMN`` for every column of ``table`` the database table lacks; returns
    their names. Call inside a write transaction (PostgreSQL: under the warehouse's DDL lock)."""
    present = {c["name"] for c in sa.inspect(conn).get_columns(table.name, schema=table.schema)}
    missing = [c for c in table.columns if c.name not in present]
    if not missing:
        return []
    prep = conn.dialect.identifier_preparer
    target = prep.format_table(table)
    for column in missing:
        if column.primary_key or not column.nullable:
            raise ValueError(f"{table.name}.{column.name}: only nullable columns can be added to an existing table")
        kind = column.type.compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE {target} ADD COLUMN {prep.quote(column.name)} {kind}")
    names = [c.name for c in missing]
    log.info("warehouse table %s: added column(s) %s", table.name, ", ".join(names))
    return names
