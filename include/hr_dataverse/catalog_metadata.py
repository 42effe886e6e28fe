"""Catalog entries completed from Dataverse metadata: a name is enough to land a table.

``resolve_spec(spec, entity)`` turns a catalog entry without ``columns`` into a full one, from the
table's ``EntityDefinitions`` attributes (read at every sync, so new columns follow the source
through the usual drift handling):

* **columns**: every attribute that is readable (``IsValidForRead``) and worth landing. Left out:
  - *virtual* attributes (AttributeType ``Virtual``, ``ManagedProperty``, ``CalendarRules``,
    ``PartyList``, ``EntityName``, files and images): no stored value a ``$select`` returns, or a
    type the warehouse cannot hold; multi-select choices (Virtual with AttributeTypeName
    ``MultiSelectPicklistType``) are kept, as text;
  - *logical* attributes (``IsLogical``) and companions of another attribute (``AttributeOf`` set:
    a lookup's ``…name``/``…yominame``, ``…idtype``): the warehouse already stores the readable
    value next to the lookup as ``<lookup>_name``;
  - *internal* bookkeeping of the platform (``INTERNAL_COLUMNS``: import sequence, overridden
    created-on, time-zone rule versions);
  - whatever the entry lists in ``exclude_columns`` (e.g. sensitive columns).
* **required_columns**: the primary key plus attributes whose ``RequiredLevel`` is
  ``SystemRequired`` or ``ApplicationRequired`` (the sync blocks when one disappears; the quality
  checks expect them filled);
* **lookups** and **option_sets**: every lookup (its readable value lands as ``<lookup>_name``) and
  every choice/two-option column (its label lands as ``<column>_label``);
* **references**: ``(lookup wire column, target table)`` for single-target lookups; the quality
  checks test that they resolve when the target table is in the catalog.

An entry that lists ``columns`` keeps its lists; only ``exclude_columns`` applies to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol

from .catalog import TableSpec

INTERNAL_COLUMNS = frozenset({"importsequencenumber", "overriddencreatedon", "timezoneruleversionnumber",
                              "utcconversiontimezonecode"})
# Types a warehouse column can hold (hr_dataverse.warehouse.columns.KIND_BY_TYPE); the rest are virtual.
STORABLE_TYPES = frozenset({"String", "Memo", "EntityName", "Integer", "Picklist", "State", "Status", "BigInt",
                            "Decimal", "Money", "Double", "Boolean", "DateTime", "Lookup", "Owner", "Customer",
                            "Uniqueidentifier"})
NOT_LANDED_TYPES = frozenset({"EntityName"})  # the target-table name beside a polymorphic lookup
LOOKUP_TYPES = frozenset({"Lookup", "Owner", "Customer"})
CHOICE_TYPES = frozenset({"Picklist", "State", "Status", "Boolean"})
REQUIRED_LEVELS = frozenset({"SystemRequired", "ApplicationRequired"})
MULTI_SELECT = "MultiSelectPicklistType"


class _Attribute(Protocol):
    logical_name: str
    attribute_type: str


class _Entity(Protocol):
    primary_id: str
    attributes: Mapping[str, Any]


def landed(attr: Any) -> bool:
    """True when a metadata-driven entry lands this attribute (see the module docstring)."""
    if not getattr(attr, "is_valid_for_read", True) or attr.logical_name in INTERNAL_COLUMNS:
        return False
    if getattr(attr, "attribute_of", None) or getattr(attr, "is_logical", False):
        return False
    kind = attr.attribute_type
    if kind == "Virtual":
        return getattr(attr, "type_name", None) == MULTI_SELECT
    return kind in STORABLE_TYPES and kind not in NOT_LANDED_TYPES


def wire_name(attr: Any) -> str:
    return f"_{attr.logical_name}_value" if attr.attribute_type in LOOKUP_TYPES else attr.logical_name


def resolve_spec(spec: TableSpec, entity: _Entity) -> TableSpec:
    """``spec`` with its column lists taken from ``entity`` (unchanged apart from exclusions when the
    entry lists its own columns)."""
    excluded = set(spec.exclude_columns)
    if not spec.from_metadata:
        if not excluded:
            return spec
        keep = tuple(c for c in spec.columns if c not in excluded)
        return replace(spec, columns=keep, required_columns=tuple(c for c in spec.required_columns if c in keep),
                       option_sets=tuple(c for c in spec.option_sets if c in keep),
                       lookups=tuple(x for x in spec.lookups if f"_{x}_value" in keep))
    attrs = sorted((a for a in entity.attributes.values() if landed(a)),
                   key=lambda a: (a.logical_name != entity.primary_id, a.logical_name))
    attrs = [a for a in attrs if a.logical_name not in excluded and wire_name(a) not in excluded]
    if attrs and entity.primary_id in excluded:
        attrs = [a for a in attrs if a.logical_name != entity.primary_id]  # columns_for names the problem
    columns = tuple(wire_name(a) for a in attrs)
    required = tuple(wire_name(a) for a in attrs if a.logical_name == entity.primary_id
                     or getattr(a, "required_level", "None") in REQUIRED_LEVELS)
    lookups = tuple(a.logical_name for a in attrs if a.attribute_type in LOOKUP_TYPES)
    option_sets = tuple(a.logical_name for a in attrs if a.attribute_type in CHOICE_TYPES)
    references = tuple((wire_name(a), a.targets[0]) for a in attrs
                       if a.attribute_type in LOOKUP_TYPES and len(getattr(a, "targets", None) or ()) == 1)
    return replace(spec, columns=columns, required_columns=required, lookups=lookups, option_sets=option_sets,
                   references=references)
