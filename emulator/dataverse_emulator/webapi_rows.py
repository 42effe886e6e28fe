"""How a stored row looks on the wire (reference §3): etag first, lookups as ``_x_value``, annotations
(when asked for with ``Prefer: odata.include-annotations``) just before the property they describe."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .schema import (
    BIGINT,
    BOOLEAN,
    DATETIME,
    DECIMAL,
    DOUBLE,
    INTEGER,
    MONEY,
    OPTION_TYPES,
    AttributeDef,
    TableDef,
    format_date,
    format_datetime,
)

FORMATTED = "OData.Community.Display.V1.FormattedValue"
LOOKUP_LOGICAL_NAME = "Microsoft.Dynamics.CRM.lookuplogicalname"
NAVIGATION_PROPERTY = "Microsoft.Dynamics.CRM.associatednavigationproperty"

Annotations = set[str] | str | None  # a set of terms/patterns, "*" for all, None for none
# (target logical name, target id) -> the target row's primary name, for lookup FormattedValues.
NameResolver = Callable[[str, str], str | None]


def memoized(resolve: NameResolver) -> NameResolver:
    """``resolve`` remembering its answers: for one response, where many rows name the same targets."""
    names: dict[tuple[str, str], str | None] = {}

    def lookup(table: str, row_id: str) -> str | None:
        key = (table, row_id)
        if key not in names:
            names[key] = resolve(table, row_id)
        return names[key]

    return lookup


def parse_annotations(preference: str | None) -> Annotations:
    """The value of ``odata.include-annotations``: ``*``, or a comma list of terms / ``Ns.*`` patterns."""
    if preference is None:
        return None
    terms = {t.strip() for t in preference.split(",") if t.strip()}
    return "*" if terms == {"*"} else terms  # "*,-term" keeps its exclusions


def wants(annotations: Annotations, term: str) -> bool:
    """Whether ``term`` is asked for; ``-term`` excludes, ``Namespace.*`` matches a namespace."""
    if annotations is None:
        return False
    if annotations == "*":
        return True
    if f"-{term}" in annotations:
        return False
    return "*" in annotations or term in annotations or any(p.endswith(".*") and term.startswith(p[:-1]) for p in annotations)


def etag(row: Mapping[str, Any]) -> str:
    return f'W/"{row.get("versionnumber", 0)}"'


def entity_url(base: str, table: TableDef, row_id: str) -> str:
    """Canonical row URL. ``base`` is the service root, e.g. ``https://host/api/data/v9.2``."""
    return f"{base.rstrip('/')}/{table.entity_set_name}({row_id})"


def wire_value(attr: AttributeDef, value: Any) -> Any:
    """A stored value as JSON: datetimes ``YYYY-MM-DDTHH:MM:SSZ``, date-only ``YYYY-MM-DD``, decimals
    as numbers, choices as integers."""
    if value is None:
        return None
    if attr.attribute_type == DATETIME:
        if isinstance(value, datetime):
            return format_date(value) if attr.date_only else format_datetime(value)
        if isinstance(value, date):
            return format_date(value)
        return value[:10] if attr.date_only else value
    if isinstance(value, Decimal):
        return float(value)
    if attr.attribute_type == BOOLEAN:
        return bool(value)
    return value


def formatted_value(table: TableDef, attr: AttributeDef, value: Any, resolve_name: NameResolver | None) -> str | None:
    """``OData.Community.Display.V1.FormattedValue`` as an en-US user in UTC would see it."""
    if value is None:
        return None
    kind = attr.attribute_type
    if kind in OPTION_TYPES:
        return table.option_label(attr.logical_name, value)
    if attr.is_lookup:
        return resolve_name(attr.targets[0], value) if resolve_name else None
    if kind == DATETIME:
        text = wire_value(attr, value)  # YYYY-MM-DD[THH:MM:SSZ]: sliced, strptime costs 10x more
        day = f"{int(text[5:7])}/{int(text[8:10])}/{int(text[:4])}"
        if attr.date_only or len(text) < 16:
            return day
        hour, minute = int(text[11:13]), text[14:16]
        return f"{day} {(hour % 12) or 12}:{minute} {'AM' if hour < 12 else 'PM'}"
    if kind == MONEY:
        return f"${float(value):,.2f}"
    if kind == DECIMAL:
        return f"{float(value):,.{attr.precision if attr.precision is not None else 2}f}"
    if kind == DOUBLE:
        return f"{float(value):,}"
    if kind in (INTEGER, BIGINT) and attr.logical_name != "versionnumber":
        return f"{int(value):,}"
    return None


# Attribute types that may carry a FormattedValue (see formatted_value); others never do.
_LABELLED = frozenset({*OPTION_TYPES, DATETIME, MONEY, DECIMAL, DOUBLE, INTEGER, BIGINT})
_NUMERIC = frozenset({DECIMAL, MONEY, DOUBLE})


class RowSerializer:
    """``serialize_row`` for many rows with the same options: the per-column decisions (wire name,
    value conversion, which annotations) are taken once, so a 5,000-row page costs a dict per row."""

    def __init__(self, table: TableDef, *, select: Iterable[str] | None, annotations: Annotations,
                 hidden: set[str], resolve_name: NameResolver | None = None) -> None:
        if select is None:
            attrs = list(table.attributes.values())
        else:
            attrs = [a for a in (table.attribute_for_wire(n) for n in select) if a is not None]
            if table.primary_id not in {a.logical_name for a in attrs}:
                attrs.append(table.attributes[table.primary_id])
        formatted = wants(annotations, FORMATTED)
        navigation = wants(annotations, NAVIGATION_PROPERTY)
        lookup_name = wants(annotations, LOOKUP_LOGICAL_NAME)
        # Per column: (logical name or None when hidden, wire name, to-wire function or None,
        # (label key, label function) or None, fixed annotations as (key, value) pairs).
        self._steps: list[tuple[str | None, str, Callable[[Any], Any] | None,
                                tuple[str, Callable[[Any], Any]] | None, tuple[tuple[str, str], ...]]] = []
        for attr in attrs:
            wire = table.wire_name(attr)
            label = None
            fixed: list[tuple[str, str]] = []
            if annotations is not None:
                if formatted and (attr.attribute_type in _LABELLED or attr.is_lookup):
                    label = (f"{wire}@{FORMATTED}", _bind_label(table, attr, resolve_name))
                if attr.is_lookup and navigation and attr.navigation_property:
                    fixed.append((f"{wire}@{NAVIGATION_PROPERTY}", attr.navigation_property))
                if attr.is_lookup and lookup_name:
                    fixed.append((f"{wire}@{LOOKUP_LOGICAL_NAME}", attr.targets[0]))
            kind = attr.attribute_type
            to_wire = _bind_wire(attr) if kind in _NUMERIC or kind in (DATETIME, BOOLEAN) else None
            name = None if attr.logical_name in hidden else attr.logical_name
            self._steps.append((name, wire, to_wire, label, tuple(fixed)))

    def __call__(self, row: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"@odata.etag": f'W/"{row.get("versionnumber", 0)}"'}
        for name, wire, to_wire, label, fixed in self._steps:
            value = row.get(name) if name is not None else None
            if value is None:
                out[wire] = None
                continue
            if label is not None:
                text = label[1](value)
                if text is not None:
                    out[label[0]] = text
            for key, annotation in fixed:
                out[key] = annotation
            out[wire] = to_wire(value) if to_wire is not None else value
        return out


def _bind_label(table: TableDef, attr: AttributeDef, resolve_name: NameResolver | None) -> Callable[[Any], Any]:
    return lambda value: formatted_value(table, attr, value, resolve_name)


def _bind_wire(attr: AttributeDef) -> Callable[[Any], Any]:
    return lambda value: wire_value(attr, value)


def serialize_row(
    table: TableDef,
    row: Mapping[str, Any],
    *,
    select: Iterable[str] | None,
    annotations: Annotations,
    hidden: set[str],
    schema: Mapping[str, TableDef],
    resolve_name: NameResolver | None = None,
) -> dict[str, Any]:
    """One row as Dataverse returns it. ``select`` holds wire names (``_x_value`` for lookups; None =
    every column); the primary key is always included; ``hidden`` secured columns come back null.
    ``schema`` is accepted for a uniform call signature (lookup targets live on the AttributeDef)."""
    return RowSerializer(table, select=select, annotations=annotations, hidden=hidden, resolve_name=resolve_name)(row)
