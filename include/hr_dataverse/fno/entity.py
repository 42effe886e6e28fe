"""An F&O data entity's shape from ``/data/$metadata`` (CSDL): key properties and property types.

F&O has no GUIDs: a row is identified by its entity key (e.g. dataAreaId + PersonnelNumber + …).
The warehouse keeps each property in a column named in lower case and adds ``fno_key``, the key
values joined with ``|`` (a ``|`` or ``\\`` inside a value is escaped with ``\\``), as primary key.
Property types map to the Dataverse attribute types the warehouse already stores; an enum is kept as
its member name (text: the F&O integer values are not stable between systems). Complex or collection
properties are not landed. Parsed with the standard library's expat (which limits entity expansion).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from .client import FnoError

_EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
EDM_TO_ATTRIBUTE = {
    "Edm.String": "String", "Edm.Int16": "Integer", "Edm.Int32": "Integer", "Edm.Byte": "Integer",
    "Edm.Int64": "BigInt", "Edm.Decimal": "Decimal", "Edm.Double": "Double", "Edm.Single": "Double",
    "Edm.Boolean": "Boolean", "Edm.DateTimeOffset": "DateTime", "Edm.Date": "DateTime", "Edm.Guid": "Uniqueidentifier",
}


@dataclass(frozen=True)
class FnoProperty:
    name: str  # as F&O spells it (PascalCase)
    edm_type: str
    attribute_type: str  # the Dataverse attribute type the warehouse stores it as
    nullable: bool = True

    @property
    def column(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class FnoEntity:
    collection: str
    type_name: str
    keys: tuple[str, ...]
    properties: dict[str, FnoProperty]
    skipped: tuple[str, ...] = ()  # complex / collection / unknown-type properties


def parse_entity(csdl: str, collection: str) -> FnoEntity:
    """The entity behind ``collection``; ``FnoError`` naming the known collections when it is absent."""
    try:
        root = ET.fromstring(csdl)
    except ET.ParseError as exc:
        raise FnoError(f"F&O /data/$metadata is not valid CSDL XML ({exc})") from None
    schemas = list(root.iter(f"{_EDM}Schema"))
    enums = {f"{s.get('Namespace')}.{e.get('Name')}" for s in schemas for e in s.iter(f"{_EDM}EnumType")}
    sets = {es.get("Name"): es.get("EntityType") for es in root.iter(f"{_EDM}EntitySet")}
    if collection not in sets:
        known = ", ".join(sorted(n for n in sets if n)[:40])
        raise FnoError(f"F&O has no data entity collection {collection!r} in /data/$metadata (fno_entity in the "
                       f"catalog; names are case-sensitive). Some it has: {known}")
    full = str(sets[collection])
    types: dict[str, Any] = {f"{s.get('Namespace')}.{t.get('Name')}": t for s in schemas
                             for t in s.iter(f"{_EDM}EntityType")}
    node = types.get(full)
    if node is None:
        raise FnoError(f"F&O /data/$metadata names type {full!r} for {collection!r} but does not define it")
    key_node = node.find(f"{_EDM}Key")
    keys = tuple(ref.get("Name") for ref in key_node.iter(f"{_EDM}PropertyRef")) if key_node is not None else ()
    properties: dict[str, FnoProperty] = {}
    skipped: list[str] = []
    for prop in node.iter(f"{_EDM}Property"):
        name, edm = prop.get("Name") or "", prop.get("Type") or ""
        attribute = EDM_TO_ATTRIBUTE.get(edm) or ("String" if edm in enums else None)
        if attribute is None:
            skipped.append(name)
            continue
        properties[name] = FnoProperty(name, edm, attribute, prop.get("Nullable", "true") != "false")
    return FnoEntity(collection, full, tuple(k for k in keys if k), properties, tuple(skipped))


def natural_key(row: dict[str, Any], keys: tuple[str, ...]) -> str:
    """The key values joined with ``|`` (escaped), e.g. ``usmf|000123|2026|MED-PPO``."""
    parts = []
    for key in keys:
        value = row.get(key)
        if value is None:
            raise FnoError(f"an F&O row has no value for its key property {key!r}")
        parts.append(str(value).replace("\\", "\\\\").replace("|", "\\|"))
    return "|".join(parts)
