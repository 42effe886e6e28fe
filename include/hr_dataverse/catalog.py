"""Entity catalog: which Dataverse tables to sync and how (``catalog.yaml`` next to this module).

``load_catalog(path)`` reads the file at ``path`` (the deployment resolves ``HR_DATAVERSE_CATALOG``),
else the packaged default. Every problem is reported as ``<file>: table '<name>': <problem>`` in one
``CatalogError`` listing all problems, so a bad entry never surfaces as a stack trace.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from os import PathLike
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CATALOG = Path(__file__).with_name("catalog.yaml")

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # Dataverse logical names are lower case
_WIRE = re.compile(r"^_?[a-z][a-z0-9_]*$")
_LOOKUP_WIRE = re.compile(r"^_([a-z][a-z0-9_]*)_value$")
_FNO_ENTITY = re.compile(r"^[A-Z][A-Za-z0-9_]*$")  # F&O public collection names are PascalCase
_FNO_PROPERTY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_FIELDS = {"name", "entity_set", "primary_key", "columns", "required_columns", "lookups", "option_sets",
           "required", "partition_by_key", "category", "exclude_columns", "fno_entity", "fno_keys"}
MAPPING_REQUIRED = "mapping"  # ``required: mapping``: required only while the URS mapping is enabled
FNO_KEY_COLUMN = "fno_key"  # warehouse primary key of an F&O entity: its natural key values joined
_MAX_NAME = 50  # leaves room for a table prefix inside PostgreSQL's 63-character identifiers

Report = Callable[[str], None]


class Category(StrEnum):
    """HR area of a table, as the set-up guide groups them (what the trigger form offers)."""

    WORKER = "worker"
    ORGANIZATION = "organization"
    SKILLS = "skills"
    COMPENSATION = "compensation"
    BENEFITS = "benefits"
    LEAVE = "leave_and_absence"
    PAYROLL = "payroll"
    OTHER = "other"


class CatalogError(ValueError):
    """The catalog file is missing, not YAML, or has invalid entries (``problems`` lists them all)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class TableSpec:
    """One catalog entry. Column names are wire names (lookups as ``_<lookup>_value``).

    An entry without ``columns`` takes every readable column from the table's metadata at sync time
    (``hr_dataverse.catalog_metadata.resolve_spec`` fills columns, required columns, lookups, option
    sets and ``references``); ``exclude_columns`` leaves columns out either way. An entry with
    ``fno_entity`` is read from finance and operations OData (``hr_dataverse.fno``), keyed by
    ``fno_keys`` (the entity's natural key; from ``$metadata`` when empty).
    """

    name: str
    primary_key: str
    columns: tuple[str, ...]
    required_columns: tuple[str, ...] = ()
    lookups: tuple[str, ...] = ()  # lookup logical names to resolve into ``<lookup>_name``
    option_sets: tuple[str, ...] = ()  # columns to label into ``<column>_label``
    required: bool = True
    partition_by_key: bool = False
    entity_set: str | None = None
    required_for_mapping: bool = False  # catalog ``required: mapping``: required only while the URS mapping runs
    category: Category = Category.OTHER
    exclude_columns: tuple[str, ...] = ()
    references: tuple[tuple[str, str], ...] = ()  # (lookup wire column, target table) from metadata
    fno_entity: str | None = None
    fno_keys: tuple[str, ...] = ()

    @property
    def from_metadata(self) -> bool:
        """True when the columns come from metadata (the entry lists none)."""
        return not self.columns

    @staticmethod
    def lookup_wire_name(lookup: str) -> str:
        return f"_{lookup}_value"

    @property
    def select(self) -> str:
        """The ``$select`` value for this table."""
        return ",".join(self.columns)


@dataclass(frozen=True)
class Catalog:
    tables: tuple[TableSpec, ...]
    source: Path

    def names(self) -> list[str]:
        return [t.name for t in self.tables]

    def categories(self) -> list[str]:
        """Categories with at least one table, in the order of ``Category``."""
        present = {t.category for t in self.tables}
        return [c.value for c in Category if c in present]

    def in_categories(self, categories: Iterable[str]) -> list[str]:
        """Table names of the given categories, in catalog order; an unknown category is a ``CatalogError``."""
        wanted = set(categories)
        unknown = sorted(wanted - {c.value for c in Category})
        if unknown:
            raise CatalogError([f"{self.source.name}: unknown categor{'y' if len(unknown) == 1 else 'ies'} "
                                f"{', '.join(unknown)}; known: {', '.join(c.value for c in Category)}"])
        return [t.name for t in self.tables if t.category.value in wanted]

    def get(self, name: str) -> TableSpec:
        for table in self.tables:
            if table.name == name:
                return table
        raise CatalogError([f"{self.source.name}: unknown table '{name}'; the catalog has: "
                            f"{', '.join(self.names())}"])

    def __contains__(self, name: object) -> bool:
        return any(t.name == name for t in self.tables)

    def __iter__(self) -> Iterator[TableSpec]:
        return iter(self.tables)

    def with_mapping(self, enabled: bool) -> Catalog:
        """This catalog with ``required: mapping`` tables required only when the URS mapping is
        ``enabled`` (optional otherwise: a tenant without them still loads the rest)."""
        return Catalog(tables=tuple(replace(t, required=enabled) if t.required_for_mapping else t
                                    for t in self.tables), source=self.source)


def load_catalog(path: str | PathLike[str] | None = None) -> Catalog:
    """Read and validate a catalog file (default: the packaged one); raises ``CatalogError`` naming every
    bad entry and field."""
    source = Path(path or DEFAULT_CATALOG)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError([f"{source}: cannot read the catalog ({exc.strerror or exc})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise CatalogError([f"{source.name}: not valid YAML{where}: {getattr(exc, 'problem', exc)}"]) from None
    return parse_catalog(data, source)


def parse_catalog(data: Any, source: Path) -> Catalog:
    """Validate already-parsed YAML (``{"tables": [...]}``)."""
    label = source.name
    if not isinstance(data, dict) or not isinstance(data.get("tables"), list) or not data["tables"]:
        raise CatalogError([f"{label}: expected a mapping with a non-empty 'tables' list"])
    unknown_top = sorted(set(data) - {"tables"})
    problems = [f"{label}: unknown top-level key(s) {', '.join(map(str, unknown_top))}"] if unknown_top else []
    tables: list[TableSpec] = []
    seen: set[str] = set()
    for index, entry in enumerate(data["tables"]):
        spec, entry_problems = _parse_table(entry, index, label)
        problems += entry_problems
        if spec is None:
            continue
        if spec.name in seen:
            problems.append(f"{label}: table '{spec.name}': listed twice")
        seen.add(spec.name)
        tables.append(spec)
    if problems:
        raise CatalogError(problems)
    return Catalog(tables=tuple(tables), source=source)


def _parse_table(entry: Any, index: int, label: str) -> tuple[TableSpec | None, list[str]]:
    if not isinstance(entry, dict):
        return None, [f"{label}: table #{index + 1}: expected a mapping, got {type(entry).__name__}"]
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > _MAX_NAME:
        return None, [f"{label}: table #{index + 1}: 'name' must be a lower-case Dataverse logical name "
                      f"of at most {_MAX_NAME} characters, got {name!r}"]
    problems: list[str] = []

    def bad(problem: str) -> None:
        problems.append(f"{label}: table '{name}': {problem}")

    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        bad(f"unknown field(s) {', '.join(map(str, unknown))} (allowed: {', '.join(sorted(_FIELDS))})")
    fno_entity = entry.get("fno_entity")
    if fno_entity is not None and (not isinstance(fno_entity, str) or not _FNO_ENTITY.match(fno_entity)):
        bad(f"'fno_entity' must be an F&O public collection name such as BenefitsPlanEmployeesV2, got {fno_entity!r}")
        fno_entity = None
    wire = _FNO_PROPERTY if fno_entity else _WIRE
    columns = _names(entry, "columns", wire, bad)
    if "columns" in entry and entry["columns"] in (None, []):
        bad("column list is empty (leave 'columns' out to take every readable column from metadata)")
    exclude = _names(entry, "exclude_columns", wire, bad)
    for col in exclude:
        if col in columns:
            bad(f"column '{col}' is both listed and excluded")
    fno_keys = _names(entry, "fno_keys", _FNO_PROPERTY, bad)
    if fno_entity is None and fno_keys:
        bad("'fno_keys' needs 'fno_entity'")
    primary_key = entry.get("primary_key", FNO_KEY_COLUMN if fno_entity else f"{name}id")
    if fno_entity is not None and primary_key != FNO_KEY_COLUMN:
        bad(f"an F&O entity is keyed by '{FNO_KEY_COLUMN}' (its natural key values); leave 'primary_key' out")
    elif not isinstance(primary_key, str) or not _NAME.match(primary_key):
        bad(f"'primary_key' must be a column logical name, got {primary_key!r}")
    elif columns and fno_entity is None and primary_key not in columns:
        bad(f"primary key '{primary_key}' is not in columns")
    required_columns = _names(entry, "required_columns", wire, bad)
    for col in required_columns:
        if columns and col not in columns:
            bad(f"required column '{col}' is not in columns")
    lookups = tuple(_lookup_name(x) for x in _names(entry, "lookups", _WIRE, bad))
    for lookup in lookups:
        if columns and TableSpec.lookup_wire_name(lookup) not in columns:
            bad(f"lookup '{lookup}' needs '{TableSpec.lookup_wire_name(lookup)}' in columns")
    option_sets = _names(entry, "option_sets", _NAME, bad)
    for col in option_sets:
        if columns and col not in columns:
            bad(f"option set '{col}' is not in columns")
    if fno_entity is not None and (lookups or option_sets or entry.get("entity_set") or entry.get("partition_by_key")):
        bad("an F&O entity has no lookups, option sets, entity_set or partition_by_key (those are Dataverse's)")
    derived = [f"{x}_name" for x in lookups] + [f"{x}_label" for x in option_sets]
    for col in derived:
        if col in columns:
            bad(f"column '{col}' clashes with the derived column of the same name")
    for_mapping = entry.get("required") == MAPPING_REQUIRED
    required = True if for_mapping else _flag(entry, "required", True, bad)
    partition = _flag(entry, "partition_by_key", False, bad)
    entity_set = entry.get("entity_set")
    if entity_set is not None and (not isinstance(entity_set, str) or not _NAME.match(entity_set)):
        bad(f"'entity_set' must be an entity set name or left out, got {entity_set!r}")
    category = entry.get("category", Category.OTHER.value)
    if category not in {c.value for c in Category}:
        bad(f"'category' must be one of {', '.join(c.value for c in Category)}, got {category!r}")
        category = Category.OTHER.value
    if problems:
        return None, problems
    return TableSpec(name=name, primary_key=primary_key, columns=columns, required_columns=required_columns,
                     lookups=lookups, option_sets=option_sets, required=required,
                     partition_by_key=partition, entity_set=entity_set, required_for_mapping=for_mapping,
                     category=Category(category), exclude_columns=exclude, fno_entity=fno_entity,
                     fno_keys=fno_keys), []


def _names(entry: dict[str, Any], key: str, pattern: re.Pattern[str], bad: Report) -> tuple[str, ...]:
    value = entry.get(key, [])
    if value is None:
        value = []
    if not isinstance(value, list):
        bad(f"'{key}' must be a list, got {type(value).__name__}")
        return ()
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or not pattern.match(item):
            bad(f"'{key}' has an invalid name {item!r}")
        elif item in out:
            bad(f"'{key}' lists '{item}' twice")
        else:
            out.append(item)
    return tuple(out)


def _lookup_name(value: str) -> str:
    """Lookups may be given by logical name or by wire name (``_x_value``); keep the logical name."""
    match = _LOOKUP_WIRE.match(value)
    return match.group(1) if match else value


def _flag(entry: dict[str, Any], key: str, default: bool, bad: Report) -> bool:
    value = entry.get(key, default)
    if not isinstance(value, bool):
        choices = f"true, false or '{MAPPING_REQUIRED}'" if key == "required" else "true or false"
        bad(f"'{key}' must be {choices}, got {value!r}")
        return default
    return value
