"""Quality rules a catalog entry took from metadata, kept in the warehouse (``_hr_table_rules``).

A catalog entry without ``columns`` gets its required columns, choices and lookup targets from
Dataverse (or F&O) metadata at sync time (``hr_dataverse.catalog_metadata``). The sync stores
them here, one JSON row per table, so the data-quality run — which reads only the warehouse —
checks the rows against the rules they were loaded under. Written only when they change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .engine import writing
from .schema import TIMESTAMP

if TYPE_CHECKING:
    from ..catalog import TableSpec
    from .warehouse import Warehouse

RULES_TABLE = "_hr_table_rules"


@dataclass(frozen=True)
class TableRules:
    """``required``: columns to be filled; ``option_sets``: choice columns (labelled); ``references``:
    (lookup wire column, target table); ``keys``: column sets that identify a row (F&O natural key)."""

    required: tuple[str, ...] = ()
    option_sets: tuple[str, ...] = ()
    references: tuple[tuple[str, str], ...] = ()
    keys: tuple[tuple[str, ...], ...] = field(default=())

    @classmethod
    def of(cls, spec: TableSpec, keys: tuple[tuple[str, ...], ...] = ()) -> TableRules:
        return cls(spec.required_columns, spec.option_sets, spec.references, keys)

    def to_json(self) -> str:
        return json.dumps({"required": list(self.required), "option_sets": list(self.option_sets),
                           "references": [list(r) for r in self.references], "keys": [list(k) for k in self.keys]},
                          sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TableRules:
        body = json.loads(text)
        return cls(tuple(body.get("required") or ()), tuple(body.get("option_sets") or ()),
                   tuple((str(a), str(b)) for a, b in body.get("references") or ()),
                   tuple(tuple(k) for k in body.get("keys") or ()))


def _table(warehouse: Warehouse) -> sa.Table:
    return sa.Table(warehouse.table_name(RULES_TABLE), sa.MetaData(schema=warehouse.schema),
                    sa.Column("table_name", sa.Text, primary_key=True),
                    sa.Column("rules", sa.Text, nullable=False),
                    sa.Column("updated_at", TIMESTAMP, nullable=False))


def save_table_rules(warehouse: Warehouse, table: str, rules: TableRules) -> bool:
    """Store ``rules`` for ``table`` unless they are already stored; True when written."""
    target = _table(warehouse)
    text = rules.to_json()
    with writing(warehouse.engine) as conn:
        target.create(conn, checkfirst=True)
        if conn.scalar(sa.select(target.c.rules).where(target.c.table_name == table)) == text:
            return False
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(target).values(table_name=table, rules=text, updated_at=datetime.now(UTC))
        conn.execute(stmt.on_conflict_do_update(index_elements=["table_name"],
                                                set_={"rules": stmt.excluded.rules, "updated_at": stmt.excluded.updated_at}))
    return True


def load_table_rules(warehouse: Warehouse) -> dict[str, TableRules]:
    """Every stored table's rules ({} before the first metadata-driven load)."""
    target = _table(warehouse)
    if not sa.inspect(warehouse.engine).has_table(target.name, schema=warehouse.schema):
        return {}
    with warehouse.engine.connect() as conn:
        return {name: TableRules.from_json(text) for name, text in conn.execute(
            sa.select(target.c.table_name, target.c.rules))}
