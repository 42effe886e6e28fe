"""Readable lookup names (``<lookup>_name``) that stay true when the target row is renamed.

A row's ``<lookup>_name`` comes from Dataverse's FormattedValue annotation: the target row's
primary name *when the row was read*. Renaming a company changes no employment row in Dataverse,
so no delta of employments brings the new name. Design: the warehouse recomputes the names from its
own copy of the target table, in the transaction that commits the target's load. Why this and not
a view or a lookup at query time: the tables stay plain tables that every tool can read (the
readable column is where users already find it), the update touches only the dependent rows whose
target changed in this load (``_run_id``), and it is atomic with the rename, so no reader ever sees
a new company name beside an old employment name, in any run mode.

Which table's lookup points where comes from Dataverse metadata (``LookupAttributeMetadata.Targets``)
and is kept in ``_hr_lookup_targets``, written when a table with catalog lookups is first prepared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa

LOOKUP_TARGETS_TABLE = "_hr_lookup_targets"


def lookup_targets_table(metadata: sa.MetaData, prefix: str) -> sa.Table:
    return sa.Table(
        prefix + LOOKUP_TARGETS_TABLE, metadata,
        sa.Column("table_name", sa.Text, primary_key=True),  # the table holding the lookup
        sa.Column("lookup", sa.Text, primary_key=True),  # lookup logical name (column _<lookup>_value)
        sa.Column("target_table", sa.Text, primary_key=True),  # a table the lookup can point to
    )


@dataclass(frozen=True)
class Dependent:
    """A lookup column of another warehouse table that points to the table being loaded."""

    table: sa.Table  # the dependent warehouse table
    lookup: str

    @property
    def value_column(self) -> str:
        return f"_{self.lookup}_value"

    @property
    def name_column(self) -> str:
        return f"{self.lookup}_name"


def refresh_names(conn: sa.Connection, target: sa.Table | sa.Alias, primary_key: str, name_column: str,
                  dependents: list[Dependent], run_id: str) -> dict[str, int]:
    """Set every dependent ``<lookup>_name`` that points to a row of ``target`` written by ``run_id``
    to that row's ``name_column``; returns ``{"table.lookup": rows changed}``."""
    target = target.alias("_hr_target")  # a lookup may point to its own table (parent department)
    changed_keys = sa.select(target.c[primary_key]).where(target.c._run_id == run_id)
    counts: dict[str, int] = {}
    for dep in dependents:
        value, name = dep.table.c[dep.value_column], dep.table.c[dep.name_column]
        current = (sa.select(target.c[name_column]).where(target.c[primary_key] == value)
                   .scalar_subquery())
        stmt = (dep.table.update().where(value.in_(changed_keys), name.is_distinct_from(current))
                .values({dep.name_column: current}))
        counts[f"{dep.table.name}.{dep.lookup}"] = conn.execute(stmt).rowcount
    return counts


def replace_targets(conn: sa.Connection, registry: sa.Table, table: str,
                    targets: Mapping[str, tuple[str, ...]]) -> None:
    """Record the lookup targets of ``table`` (replacing what was recorded)."""
    conn.execute(registry.delete().where(registry.c.table_name == table))
    rows = [{"table_name": table, "lookup": lookup, "target_table": t}
            for lookup, found in targets.items() for t in found]
    if rows:
        conn.execute(registry.insert(), rows)
