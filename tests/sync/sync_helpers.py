"""Sync-test helpers: client settings for the emulator and the warehouse-vs-source comparison.

The expected warehouse contents are computed here straight from the emulator's store and schema
(not through the Web API or the sync code). No pytest imports: ``sync_child.py`` uses this too.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from dataverse_emulator.testing import client_settings
from hr_dataverse.catalog import TableSpec, load_catalog
from hr_dataverse.dataverse import DataverseSettings
from hr_dataverse.warehouse import Warehouse

UNREADABLE = "cdm_workerpersonaldetail"  # the emulator's default app user lacks its read privilege
BOOKKEEPING = ("_synced_at", "_source_version", "_deleted_at", "_run_id")


def settings_for(info: dict[str, Any], **overrides: Any) -> DataverseSettings:
    return client_settings(info, **overrides)


def readable_tables() -> list[TableSpec]:
    """The catalog's Dataverse tables the emulator's app user can read (F&O entities are not Dataverse's)."""
    return [t for t in load_catalog() if t.name != UNREADABLE and not t.fno_entity]


def resolved(app: Any, spec: TableSpec) -> TableSpec:
    """A catalog entry without columns as the sync completes it: every emulated column, lookups named,
    choices labelled (computed from the emulator's schema, not through the metadata code under test)."""
    if not spec.from_metadata:
        return spec
    table = app.schema[spec.name]
    attrs = [a for a in table.attributes.values() if table.wire_name(a) not in spec.exclude_columns]
    return dataclasses.replace(
        spec, columns=tuple(table.wire_name(a) for a in attrs),
        lookups=tuple(a.logical_name for a in attrs if a.is_lookup),
        option_sets=tuple(a.logical_name for a in attrs if a.attribute_type in ("Picklist", "State", "Status",
                                                                                  "Boolean")))


def norm(value: Any) -> Any:
    """One comparable form per value, whichever side (store text, warehouse types) it came from."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).isoformat()
    if isinstance(value, float | Decimal):
        return round(float(value), 6)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _store_value(attr: Any, value: Any) -> Any:
    """A stored emulator value as the warehouse should hold it."""
    if value is None:
        return None
    if attr.attribute_type == "DateTime":
        text = value.isoformat() if isinstance(value, date | datetime) else str(value)
        if attr.date_only:
            return norm(date.fromisoformat(text[:10]))
        return norm(datetime.fromisoformat(text.replace("Z", "+00:00")))
    if attr.attribute_type in ("Lookup", "Uniqueidentifier"):
        return str(uuid.UUID(str(value)))
    return norm(value)


def expected_rows(app: Any, spec: TableSpec) -> dict[str, dict[str, Any]]:
    """Every source row as the warehouse should store it: catalog columns, lookup names, choice labels."""
    spec = resolved(app, spec)
    table = app.schema[spec.name]
    out: dict[str, dict[str, Any]] = {}
    for row in app.store.iter_rows(spec.name):
        values: dict[str, Any] = {}
        for wire in spec.columns:
            attr = table.attribute_for_wire(wire)
            value = row.get(attr.logical_name)
            values[wire] = _store_value(attr, value)
            if attr.is_lookup and attr.logical_name in spec.lookups:
                target = app.schema.get(attr.targets[0])
                related = app.store.get(target.logical_name, value) if target is not None and value else None
                values[f"{attr.logical_name}_name"] = related.get(target.primary_name) if related else None
            if wire in spec.option_sets:
                values[f"{wire}_label"] = None if value is None else attr.options.get(int(value))
        out[str(row[spec.primary_key])] = values
    return out


def warehouse_rows(wh: Warehouse, spec: TableSpec) -> dict[str, dict[str, Any]]:
    """Every warehouse row (live and soft-deleted), all columns normalised, keyed by id."""
    table = wh.table(spec.name)
    with wh.engine.connect() as conn:
        rows = conn.execute(sa.select(table)).mappings().all()
    return {str(r[spec.primary_key]): {k: norm(v) for k, v in r.items()} for r in rows}


def data_columns(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The rows without bookkeeping columns (what two loads of the same source must agree on)."""
    return {k: {c: v for c, v in r.items() if c not in BOOKKEEPING} | {"deleted": r["_deleted_at"] is not None}
            for k, r in rows.items()}


def mismatches(app: Any, wh: Warehouse, spec: TableSpec) -> list[str]:
    """Differences between the warehouse table and the source, row for row (empty = equal)."""
    expected = expected_rows(app, spec)
    actual = warehouse_rows(wh, spec)
    problems = []
    for row_id, want in expected.items():
        got = actual.get(row_id)
        if got is None:
            problems.append(f"{spec.name} {row_id}: missing from the warehouse")
            continue
        if got["_deleted_at"] is not None:
            problems.append(f"{spec.name} {row_id}: live in the source but marked deleted")
        versions = app.store.get(spec.name, row_id)["versionnumber"]
        if got["_source_version"] != versions:
            problems.append(f"{spec.name} {row_id}: _source_version {got['_source_version']} != {versions}")
        problems += [f"{spec.name} {row_id}.{col}: warehouse {got.get(col)!r} != source {value!r}"
                     for col, value in want.items() if got.get(col, "<no column>") != value]
    problems += [f"{spec.name} {row_id}: deleted in the source but live in the warehouse"
                 for row_id, got in actual.items() if row_id not in expected and got["_deleted_at"] is None]
    return problems
