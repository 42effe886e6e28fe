"""The ``hr_linked_rows`` view: Dynamics 365 HR's "View linked rows" admin page, in SQL.

One row per warehouse row of every catalog table: the Dataverse table and id, the warehouse
table holding it, when it was last synced and whether it was deleted in Dataverse.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from .schema import TIMESTAMP

LINKED_ROWS_VIEW = "hr_linked_rows"


def linked_rows_select(tables: Sequence[tuple[str, str, str]], schema: str | None) -> sa.CompoundSelect | sa.Select:
    """``tables``: (Dataverse logical name, warehouse table, primary key) per table."""
    parts = []
    for logical, warehouse_table, pk in tables:
        t = sa.table(warehouse_table, sa.column(pk), sa.column("_synced_at", TIMESTAMP),
                     sa.column("_deleted_at", TIMESTAMP), schema=schema)
        parts.append(sa.select(
            sa.cast(sa.literal(logical), sa.Text).label("table_name"),
            sa.cast(t.c[pk], sa.Text).label("dataverse_id"),
            sa.cast(sa.literal(warehouse_table), sa.Text).label("warehouse_table"),
            t.c._synced_at.label("last_synced_at"),
            t.c._deleted_at.is_not(None).label("deleted_in_dataverse"),
            t.c._deleted_at.label("deleted_at"),
        ))
    return parts[0] if len(parts) == 1 else sa.union_all(*parts)


def replace_view(conn: sa.Connection, schema: str | None, name: str, select: sa.CompoundSelect | sa.Select) -> None:
    prep = conn.dialect.identifier_preparer
    view = prep.format_table(sa.Table(name, sa.MetaData(), schema=schema))
    body = select.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    conn.exec_driver_sql(f"DROP VIEW IF EXISTS {view}")
    conn.exec_driver_sql(f"CREATE VIEW {view} AS {body}")
