"""Warehouse columns derived from catalog entries and Dataverse metadata.

A warehouse column has the wire name the Web API uses (``_<lookup>_value`` for lookups), a storage
*kind* chosen from the Dataverse AttributeType, and optionally a companion text column holding the
lookup's readable value (``<lookup>_name``) or the choice label (``<column>_label``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..catalog import TableSpec
from .errors import SchemaDriftError, WarehouseError

# Dataverse AttributeType -> storage kind (see schema.py for the SQL type of each kind).
KIND_BY_TYPE = {
    "String": "text", "Memo": "text", "EntityName": "text", "MultiSelectPicklist": "text",
    "Integer": "integer", "Picklist": "integer", "State": "integer", "Status": "integer",
    "BigInt": "bigint",
    "Decimal": "numeric", "Money": "numeric",
    "Double": "double",
    "Boolean": "boolean",
    "DateTime": "timestamp",
    "Lookup": "guid", "Owner": "guid", "Customer": "guid", "Uniqueidentifier": "guid",
}
LOOKUP_TYPES = frozenset({"Lookup", "Owner", "Customer"})
LABELLED_TYPES = frozenset({"Picklist", "State", "Status", "Boolean"})


class AttributeLike(Protocol):
    """What ``hr_dataverse.dataverse.metadata.AttributeInfo`` offers (duck-typed to stay decoupled)."""

    logical_name: str
    attribute_type: str
    options: dict[int, str] | None


class EntityLike(Protocol):
    logical_name: str
    primary_id: str
    attributes: Mapping[str, Any]


@dataclass(frozen=True)
class ColumnSpec:
    """One source column as the warehouse stores it.

    ``date_only`` selects a ``date`` column instead of ``timestamptz`` for DateTime attributes
    with the DateOnly format. ``options`` (value -> label) labels choices when a row lacks the
    FormattedValue annotation.
    """

    name: str
    attribute_type: str
    date_only: bool = False
    companion: str | None = None
    options: Mapping[int, str] | None = field(default=None, compare=False)

    @property
    def kind(self) -> str:
        return storage_kind(self.attribute_type, self.date_only, self.name)

    @property
    def is_lookup(self) -> bool:
        return self.attribute_type in LOOKUP_TYPES


def storage_kind(attribute_type: str, date_only: bool = False, column: str = "?") -> str:
    kind = KIND_BY_TYPE.get(attribute_type)
    if kind is None:
        raise WarehouseError(f"column '{column}': Dataverse attribute type '{attribute_type}' cannot be stored "
                             "in the warehouse; remove the column from the catalog")
    return "date" if kind == "timestamp" and date_only else kind


def lookup_of(wire_name: str) -> str | None:
    """``_x_value`` -> ``x``; None for other names."""
    if wire_name.startswith("_") and wire_name.endswith("_value") and len(wire_name) > len("__value"):
        return wire_name[1:-len("_value")]
    return None


@dataclass(frozen=True)
class ColumnSelection:
    """Columns to select and store; ``missing`` lists optional catalog columns the source lacks."""

    columns: list[ColumnSpec]
    missing: list[str]

    @property
    def select(self) -> list[str]:
        return [c.name for c in self.columns]


def columns_for(spec: TableSpec, entity: EntityLike) -> ColumnSelection:
    """Match a catalog entry with the table's metadata.

    Raises ``SchemaDriftError`` when a required column is gone (or unreadable) and
    ``WarehouseError`` when the catalog contradicts the metadata (primary key, lookup or choice
    listed for a column of another type). Optional columns the source lacks are returned in
    ``missing``: the caller leaves them out of ``$select`` and the warehouse keeps them, null.
    """
    if entity.primary_id != spec.primary_key:
        raise WarehouseError(f"table '{spec.name}': the catalog's primary key '{spec.primary_key}' is not the "
                             f"Dataverse primary id '{entity.primary_id}'")
    columns: list[ColumnSpec] = []
    missing: list[str] = []
    for wire in spec.columns:
        logical = lookup_of(wire) or wire
        attr = entity.attributes.get(logical)
        if attr is None or not getattr(attr, "is_valid_for_read", True):
            if wire in spec.required_columns:
                raise SchemaDriftError(spec.name, wire, "required column is missing from the Dataverse metadata "
                                                        "(or not readable)")
            missing.append(wire)
            continue
        is_lookup = attr.attribute_type in LOOKUP_TYPES
        if is_lookup != (wire != logical):
            expected = f"_{logical}_value" if is_lookup else logical
            raise WarehouseError(f"table '{spec.name}': column '{wire}' is a {attr.attribute_type} column; "
                                 f"list it as '{expected}'")
        companion = None
        if is_lookup and logical in spec.lookups:
            companion = f"{logical}_name"
        elif wire in spec.option_sets:
            if attr.attribute_type not in LABELLED_TYPES:
                raise WarehouseError(f"table '{spec.name}': option set '{wire}' is a {attr.attribute_type} "
                                     "column, not a choice")
            companion = f"{wire}_label"
        storage_kind(attr.attribute_type, column=f"{spec.name}.{wire}")
        columns.append(ColumnSpec(
            name=wire,
            attribute_type=attr.attribute_type,
            # AttributeInfo has no DateTime format yet; honour a ``date_only`` flag when metadata offers one.
            date_only=bool(getattr(attr, "date_only", False)),
            companion=companion,
            options=attr.options,
        ))
    return ColumnSelection(columns, missing)
