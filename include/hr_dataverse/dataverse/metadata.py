"""Table metadata (entity set name, keys, change tracking, columns, choice labels) and row counts."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import DataverseError
from .odata import check_name, string_literal

if TYPE_CHECKING:
    from .transport import DataverseClient

_ENTITY_SELECT = (
    "LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute,ChangeTrackingEnabled,"
    "CanChangeTrackingBeEnabled,ObjectTypeCode"
)
# AttributeOf / IsLogical / RequiredLevel let a catalog entry without columns pick what to land.
_ATTRIBUTE_SELECT = "LogicalName,AttributeType,IsValidForRead,AttributeTypeName,AttributeOf,IsLogical,RequiredLevel"
# Attribute types with an option set, and the metadata cast that exposes it.
_OPTION_CASTS = {
    "Picklist": ("PicklistAttributeMetadata", "OptionSet,GlobalOptionSet"),
    "State": ("StateAttributeMetadata", "OptionSet"),
    "Status": ("StatusAttributeMetadata", "OptionSet"),
}
_LOOKUP_TYPES = {"Lookup", "Customer", "Owner"}


@dataclass(frozen=True)
class AttributeInfo:
    logical_name: str
    attribute_type: str
    is_valid_for_read: bool
    options: Mapping[int, str] | None = None  # choice value → label (Picklist/State/Status)
    targets: tuple[str, ...] | None = None  # target tables of a lookup
    type_name: str | None = None  # AttributeTypeName.Value, e.g. MultiSelectPicklistType for a Virtual type
    attribute_of: str | None = None  # set on companion attributes (a lookup's name, yomi names)
    is_logical: bool = False  # stored outside the table's own base table
    required_level: str = "None"  # RequiredLevel.Value: None, Recommended, ApplicationRequired, SystemRequired


@dataclass(frozen=True)
class EntityInfo:
    logical_name: str
    entity_set_name: str  # what Web API URLs use; never LogicalCollectionName
    primary_id: str
    primary_name: str | None
    change_tracking_enabled: bool
    can_change_tracking_be_enabled: bool
    object_type_code: int | None
    attributes: dict[str, AttributeInfo]


def _entity_path(logical_name: str) -> str:
    return f"EntityDefinitions(LogicalName={string_literal(check_name(logical_name, 'table'))})"


def get_entity(client: DataverseClient, logical_name: str, *, option_columns: Iterable[str] | None = None,
               lookup_targets: bool = True, lazy_options: bool = False) -> EntityInfo:
    """Metadata of one table by logical name; raises ``NotFound`` when the table does not exist.

    Option labels and lookup targets take one more request per attribute type: ``option_columns``
    (None = all) limits the labels to the types of those columns, ``lookup_targets=False`` skips the
    targets. ``lazy_options`` defers the label requests until a label is first looked up
    (``LazyOptionLabels``): the sync, which runs every few minutes per table and reads labels from
    the rows' FormattedValue annotations, then asks for them only when a row lacks one.
    """
    path = _entity_path(logical_name)
    payload = _single(client.request(
        "GET", path, params={"$select": _ENTITY_SELECT, "$expand": f"Attributes($select={_ATTRIBUTE_SELECT})"},
    ).data)
    return entity_from_payload(client, payload, option_columns=option_columns, lookup_targets=lookup_targets,
                               lazy_options=lazy_options)


def get_entities(client: DataverseClient, logical_names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The raw ``EntityDefinitions`` payloads (with their attributes) of several tables, in one request.

    A metadata query is never paged (reference §8), so one ``$filter`` of ``LogicalName eq`` terms
    joined by ``or`` answers for every table at once; a table the answer lacks (unknown, or not
    readable by the caller) is simply missing from the result. Build each with ``entity_from_payload``.
    ``or`` in a metadata ``$filter`` is plain OData, not shown in Microsoft's metadata examples
    (UNCONFIRMED); ``RunMetadata`` falls back to one request per table if it is refused.
    """
    names = sorted({check_name(n, "table") for n in logical_names})
    if not names:
        return {}
    where = " or ".join(f"LogicalName eq {string_literal(n)}" for n in names)
    rows = client.request("GET", "EntityDefinitions", params={
        "$select": _ENTITY_SELECT, "$filter": where, "$expand": f"Attributes($select={_ATTRIBUTE_SELECT})",
    }).data.get("value", [])
    return {row["LogicalName"]: row for row in rows if isinstance(row, dict) and "EntitySetName" in row}


def entity_from_payload(client: DataverseClient, payload: dict[str, Any], *, option_columns: Iterable[str] | None = None,
                        lookup_targets: bool = True, lazy_options: bool = False) -> EntityInfo:
    """``EntityInfo`` from one table's ``EntityDefinitions`` payload; option labels and lookup targets
    as ``get_entity`` says (they are further requests on the table's own metadata path)."""
    path = _entity_path(payload["LogicalName"])
    raw_attrs = payload.get("Attributes") or []
    types = {a["LogicalName"]: a.get("AttributeType") or "" for a in raw_attrs}
    wanted_types = set(types.values()) if option_columns is None else {types.get(c) for c in option_columns}
    options: dict[str, Mapping[int, str]] = {}
    for attr_type, (cast, expand) in _OPTION_CASTS.items():
        if attr_type in wanted_types:
            fetch = _OptionFetch(client, f"{path}/Attributes/Microsoft.Dynamics.CRM.{cast}", expand)
            if lazy_options:
                options.update({name: LazyOptionLabels(fetch, name) for name, t in types.items() if t == attr_type})
            else:
                options.update(fetch.labels())
    targets: dict[str, tuple[str, ...]] = {}
    if lookup_targets and _LOOKUP_TYPES & set(types.values()):
        rows = client.request("GET", f"{path}/Attributes/Microsoft.Dynamics.CRM.LookupAttributeMetadata",
                              params={"$select": "LogicalName,Targets"}).data.get("value", [])
        targets = {row["LogicalName"]: tuple(row.get("Targets") or ()) for row in rows}
    attributes = {
        a["LogicalName"]: AttributeInfo(
            logical_name=a["LogicalName"],
            attribute_type=types[a["LogicalName"]],
            is_valid_for_read=bool(a.get("IsValidForRead", True)),
            options=options.get(a["LogicalName"]),
            targets=targets.get(a["LogicalName"]),
            type_name=(a.get("AttributeTypeName") or {}).get("Value"),
            attribute_of=a.get("AttributeOf"),
            is_logical=bool(a.get("IsLogical")),
            required_level=str((a.get("RequiredLevel") or {}).get("Value") or "None"),
        )
        for a in raw_attrs
    }
    return EntityInfo(
        logical_name=payload["LogicalName"],
        entity_set_name=payload["EntitySetName"],
        primary_id=payload["PrimaryIdAttribute"],
        primary_name=payload.get("PrimaryNameAttribute"),
        change_tracking_enabled=bool(payload.get("ChangeTrackingEnabled")),
        can_change_tracking_be_enabled=_managed_bool(payload.get("CanChangeTrackingBeEnabled")),
        object_type_code=payload.get("ObjectTypeCode"),
        attributes=attributes,
    )


class _OptionFetch:
    """The option sets of one attribute type of one table: one request, made once, when first needed."""

    def __init__(self, client: DataverseClient, path: str, expand: str) -> None:
        self._client, self._path, self._expand = client, path, expand
        self._lock = threading.Lock()
        self._labels: dict[str, dict[int, str]] | None = None

    def labels(self) -> dict[str, dict[int, str]]:
        with self._lock:  # the sync's partition threads share one table's columns
            if self._labels is None:
                rows = self._client.request("GET", self._path, params={"$select": "LogicalName", "$expand": self._expand},
                                            ).data.get("value", [])
                self._labels = {row["LogicalName"]: _options(row.get("OptionSet") or row.get("GlobalOptionSet"))
                                for row in rows}
            return self._labels


class LazyOptionLabels(Mapping[int, str]):
    """One choice column's value → label map, fetched with its attribute type's labels on first use.

    A failing fetch raises its ``DataverseError`` where the label was wanted (and again on the next
    lookup): a label is never silently left out.
    """

    def __init__(self, fetch: _OptionFetch, column: str) -> None:
        self._fetch, self._column = fetch, column

    def _map(self) -> dict[int, str]:
        return self._fetch.labels().get(self._column, {})

    def __getitem__(self, value: int) -> str:
        return self._map()[value]

    def __iter__(self) -> Iterator[int]:
        return iter(self._map())

    def __len__(self) -> int:
        return len(self._map())

    def __repr__(self) -> str:
        return f"LazyOptionLabels({self._column!r})"


def _single(payload: Any) -> dict[str, Any]:
    """Keyed retrieval returns one object; tolerate the ``{"value":[obj]}`` form one doc shows."""
    if isinstance(payload, dict) and isinstance(payload.get("value"), list) and len(payload["value"]) == 1:
        payload = payload["value"][0]
    if not isinstance(payload, dict) or "EntitySetName" not in payload:
        raise DataverseError("unexpected EntityDefinitions answer: no EntitySetName")
    return payload


def _managed_bool(value: Any) -> bool:
    """``CanChangeTrackingBeEnabled`` is a BooleanManagedProperty ``{"Value": bool, …}``."""
    return bool(value.get("Value")) if isinstance(value, dict) else bool(value)


def _options(option_set: Any) -> dict[int, str]:
    out: dict[int, str] = {}
    for opt in (option_set or {}).get("Options") or []:
        label = opt.get("Label") or {}
        localized = (label.get("UserLocalizedLabel") or {}).get("Label")
        if localized is None and label.get("LocalizedLabels"):
            localized = label["LocalizedLabels"][0].get("Label")
        out[int(opt["Value"])] = localized if localized is not None else str(opt["Value"])
    return out


def total_record_count(client: DataverseClient, logical_names: Iterable[str]) -> dict[str, int]:
    """Snapshot row counts (up to 24 h old, unfiltered) via ``RetrieveTotalRecordCount``."""
    names = [check_name(n, "table") for n in logical_names]
    if not names:
        return {}
    data = client.request("GET", "RetrieveTotalRecordCount(EntityNames=@p1)",
                          params={"@p1": json.dumps(names, separators=(",", ":"))}).data
    collection = (data or {}).get("EntityRecordCountCollection") or {}
    return {k: int(v) for k, v in zip(collection.get("Keys") or [], collection.get("Values") or [], strict=True)}


def count(client: DataverseClient, entity_set: str) -> int:
    """``<set>/$count``: exact up to 5000 (Dataverse caps the number there)."""
    resp = client.request("GET", f"{check_name(entity_set, 'entity set')}/$count", expect_json=False)
    text = resp.text.strip()
    if not text.isdigit():
        raise DataverseError(f"unexpected $count answer {text[:40]!r}", status=resp.status, url=resp.url)
    return int(text)


def lookup_targets(client: DataverseClient, logical_name: str) -> dict[str, tuple[str, ...]]:
    """Lookup column → the tables it can point to (``LookupAttributeMetadata.Targets``), one request."""
    rows = client.request("GET", f"{_entity_path(logical_name)}/Attributes/Microsoft.Dynamics.CRM.LookupAttributeMetadata",
                          params={"$select": "LogicalName,Targets"}).data.get("value", [])
    return {row["LogicalName"]: tuple(row.get("Targets") or ()) for row in rows}
