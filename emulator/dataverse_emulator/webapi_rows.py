"""How a stored row looks on the wire (reference §3): etag first, lookups as ``_x_value``, annotations
(when asked for with ``Prefer: odata.include-annotations``) just before the property they describe."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
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


def selected_attributes(table: TableDef, select: Iterable[str] | None) -> list[Any]:
    """The columns a read serialises: every attribute, or the ``$select``ed ones plus the primary key."""
    if select is None:
        return list(table.attributes.values())
    attrs = [a for a in (table.attribute_for_wire(n) for n in select) if a is not None]
    if table.primary_id not in {a.logical_name for a in attrs}:
        attrs.append(table.attributes[table.primary_id])
    return attrs


class RowSerializer:
    """``serialize_row`` for many rows with the same options. The per-column decisions (wire name,
    value conversion, which annotations) are taken once and compiled into one straight-line function
    per column layout (cached): a row then costs a dict and a few bytecodes per column instead of a
    loop of calls per column, where the emulator spent most of its CPU. The output is what the
    column-by-column rules of ``formatted_value`` and ``wire_value`` give, key for key and in the same
    order (tests/emulator/test_read_golden.py and test_row_serializer.py hold it to that)."""

    def __init__(self, table: TableDef, *, select: Iterable[str] | None, annotations: Annotations,
                 hidden: set[str], resolve_name: NameResolver | None = None) -> None:
        attrs = selected_attributes(table, select)
        formatted = wants(annotations, FORMATTED)
        navigation = wants(annotations, NAVIGATION_PROPERTY)
        lookup_name = wants(annotations, LOOKUP_LOGICAL_NAME)
        layout: list[_Column] = []
        functions: dict[str, Callable[[Any], Any]] = {}
        for i, attr in enumerate(attrs):
            wire = table.wire_name(attr)
            if attr.logical_name in hidden:  # a secured column the caller may not read: null, no annotations
                layout.append((None, wire, "same", None, "", ()))
                continue
            label_key = None
            label_style = ""
            fixed: list[tuple[str, str]] = []
            if annotations is not None:
                if formatted and (attr.attribute_type in _LABELLED or attr.is_lookup):
                    label = _label_function(table, attr, resolve_name)
                    if label is not None:
                        label_key = f"{wire}@{FORMATTED}"
                        label_style = _label_style(attr)
                        functions[f"label{i}"], functions[f"cache{i}"] = label
                if attr.is_lookup and navigation and attr.navigation_property:
                    fixed.append((f"{wire}@{NAVIGATION_PROPERTY}", attr.navigation_property))
                if attr.is_lookup and lookup_name:
                    fixed.append((f"{wire}@{LOOKUP_LOGICAL_NAME}", attr.targets[0]))
            kind = _wire_kind(attr)
            if kind in _CALLS_WIRE:
                functions[f"wire{i}"] = _bind_wire(attr)
            layout.append((attr.logical_name, wire, kind, label_key, label_style, tuple(fixed)))
        self._call = _compiled(tuple(layout))(functions)

    def __call__(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return self._call(row)

    def many(self, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return list(map(self._call, rows))


# One column of a layout: (logical name, None when hidden; wire name; wire kind; FormattedValue key or
# None; label style (_label_style); fixed annotations as (key, value) pairs).
_Column = tuple[str | None, str, str, str | None, str, tuple[tuple[str, str], ...]]
_RowFunction = Callable[[Mapping[str, Any]], dict[str, Any]]


def _wire_kind(attr: AttributeDef) -> str:
    """Which conversion ``wire_value`` applies to a non-null value of the column."""
    kind = attr.attribute_type
    if kind == DATETIME:
        return "date" if attr.date_only else "datetime"
    if kind in _NUMERIC:
        return "number"
    if kind == BOOLEAN:
        return "boolean"
    return "same"


# The JSON value of a non-null stored value ``v`` of column ``i``, per kind: the inline branch covers
# the stored form (text datetimes, floats, bools) exactly as ``wire_value`` does; any other value goes
# through ``wire_value`` itself (``wire{i}``).
_WIRE_EXPRESSIONS = {
    "same": "v",
    "datetime": "v if v.__class__ is str else wire{i}(v)",
    "date": "v[:10] if v.__class__ is str else wire{i}(v)",
    "number": "float(v) if isinstance(v, Decimal) else v",
    "boolean": "v if v.__class__ is bool else wire{i}(v)",
}
_CALLS_WIRE = frozenset({"datetime", "date", "boolean"})

# How column ``i``'s label ``t`` is found for a non-null ``v``: "option" looks an int up in the option
# labels (``cache{i}``), anything else (bool) goes through ``label{i}``; "text" first asks a cache of
# labels by text value (``cache{i}``, filled by ``label{i}``: lookup names per request, date labels
# shared); "call" computes it.
_LABEL_LINES = {
    "option": ["t = cache{i}.get(v) if v.__class__ is int else label{i}(v)"],
    "text": ["t = cache{i}.get(v) if v.__class__ is str else None", "if t is None:", "    t = label{i}(v)"],
    "call": ["t = label{i}(v)"],
}


# FormattedValue of stored date text, by text, for date-only columns (True) and the others (False).
_DATE_LABELS: dict[bool, dict[str, str | None]] = {True: {}, False: {}}
_MAX_DATE_LABELS = 200_000  # about 10 MB each; emptied when full


def _label_style(attr: AttributeDef) -> str:
    if attr.attribute_type in OPTION_TYPES:
        return "option"
    if attr.is_lookup or attr.attribute_type == DATETIME:
        return "text"
    return "call"


@lru_cache(maxsize=512)
def _compiled(layout: tuple[_Column, ...]) -> Callable[[dict[str, Callable[[Any], Any]]], _RowFunction]:
    """The row function of a column layout, generated and compiled once per layout. The returned
    factory binds one request's label and conversion functions (``label{i}``, ``wire{i}``)."""
    lines = ["def serialize(row):", "    get = row.get", """    out = {'@odata.etag': f'W/"{get("versionnumber", 0)}"'}"""]
    names = []
    for i, (name, wire, kind, label_key, label_style, fixed) in enumerate(layout):
        if name is None:
            lines.append(f"    out[{wire!r}] = None")
            continue
        if label_key is None and not fixed and kind == "same":
            lines.append(f"    out[{wire!r}] = get({name!r})")  # null stays null
            continue
        lines += [f"    v = get({name!r})", "    if v is None:", f"        out[{wire!r}] = None", "    else:"]
        if label_key is not None:
            names += [f"label{i}", f"cache{i}"]
            lines += [f"        {line.format(i=i)}" for line in _LABEL_LINES[label_style]]
            lines += ["        if t is not None:", f"            out[{label_key!r}] = t"]
        lines += [f"        out[{key!r}] = {value!r}" for key, value in fixed]
        if kind in _CALLS_WIRE:
            names.append(f"wire{i}")
        lines.append(f"        out[{wire!r}] = {_WIRE_EXPRESSIONS[kind].format(i=i)}")
    lines.append("    return out")
    body = "".join(f"    {line}\n" for line in lines)
    code = f"def factory({''.join(f'{n}, ' for n in names)}Decimal):\n{body}    return serialize\n"
    namespace: dict[str, Any] = {}
    exec(compile(code, f"<row serializer, {len(layout)} columns>", "exec"), namespace)  # noqa: S102 - text built here
    factory = namespace["factory"]
    return lambda functions: factory(**{n: functions[n] for n in names}, Decimal=Decimal)


def _label_function(table: TableDef, attr: AttributeDef, resolve_name: NameResolver | None
                    ) -> tuple[Callable[[Any], str | None], dict[Any, str | None]] | None:
    """``formatted_value`` for one column's non-null values, specialised, with the dict its label
    lines read first (``_LABEL_LINES``); None when the column never has a label."""
    kind = attr.attribute_type
    if kind in OPTION_TYPES:
        options = attr.options
        if options is None:
            return None
        return (lambda value: options.get(int(value))), options  # TableDef.option_label (bool -> 0/1)
    if attr.is_lookup:
        if resolve_name is None:
            return None
        target = attr.targets[0]
        names: dict[Any, str | None] = {}  # this request's: names change with the rows they come from

        def lookup_label(value: Any) -> str | None:
            name = resolve_name(target, value)
            if name is not None and value.__class__ is str:
                names[value] = name
            return name

        return lookup_label, names
    if kind == DATETIME:
        date_only = attr.date_only
        labels = _DATE_LABELS[date_only]  # a function of the text alone: shared by every request

        def datetime_label(value: Any) -> str | None:
            if value.__class__ is not str:  # datetime objects (equal instants can differ in text): not cached
                return formatted_value(table, attr, value, resolve_name)
            # formatted_value of stored text, without its type dispatch
            text = value[:10] if date_only else value
            day = f"{int(text[5:7])}/{int(text[8:10])}/{int(text[:4])}"
            if date_only or len(text) < 16:
                label = day
            else:
                hour, minute = int(text[11:13]), text[14:16]
                label = f"{day} {(hour % 12) or 12}:{minute} {'AM' if hour < 12 else 'PM'}"
            if len(labels) >= _MAX_DATE_LABELS:
                labels.clear()
            labels[value] = label
            return label

        return datetime_label, labels
    if kind == MONEY:
        return (lambda value: f"${float(value):,.2f}"), {}
    if kind == DECIMAL:
        places = attr.precision if attr.precision is not None else 2
        return (lambda value: f"{float(value):,.{places}f}"), {}
    if kind == DOUBLE:
        return (lambda value: f"{float(value):,}"), {}
    if kind in (INTEGER, BIGINT) and attr.logical_name != "versionnumber":
        return (lambda value: f"{int(value):,}"), {}
    return None


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
