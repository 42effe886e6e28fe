"""Service document, ``$metadata`` (CSDL) and ``EntityDefinitions`` (reference §2, §5.1, §8).

EntityDefinitions are plain nested dicts queried with the shared ``$filter`` engine (DictResolver);
they are never paged. MetadataIds are stable per seed and table/column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import quoteattr

from .config import stable_uuid
from .http import Request, Response
from .odata.errors import ODataError, unknown_property
from .odata.filter import DictResolver, collection_navigation_name, parse_filter
from .odata.options import check_supported
from .schema import (
    BIGINT,
    BOOLEAN,
    DATETIME,
    DECIMAL,
    DOUBLE,
    EDM_TYPES,
    INTEGER,
    LOOKUP,
    MEMO,
    MONEY,
    OPTION_TYPES,
    PICKLIST,
    STATE,
    STATUS,
    STRING,
    UNIQUEIDENTIFIER,
    URS_TABLES,
    AttributeDef,
    TableDef,
)
from .webapi_paths import ACTION_NAMESPACE, not_found_segment, split_outside

if TYPE_CHECKING:
    from .webapi import WebApi
    from .webapi_paths import Target

LANGUAGE = 1033
XML = "application/xml"
# UNCONFIRMED: the Web API answer for EntityDefinitions(LogicalName='unknown'). The SDK reports a
# missing table as ErrorCode 0x80041102 "The entity with a name = 'x' with namemapping = 'Logical' was
# not found in the MetadataCache." (observed in public issue logs); the emulator returns that text as 404.
ENTITY_NOT_FOUND = "0x80041102"

# Derived AttributeMetadata type per AttributeType (the @odata.type and the cast segment name).
METADATA_TYPES = {
    STRING: "StringAttributeMetadata", MEMO: "MemoAttributeMetadata", INTEGER: "IntegerAttributeMetadata",
    BIGINT: "BigIntAttributeMetadata", DECIMAL: "DecimalAttributeMetadata", DOUBLE: "DoubleAttributeMetadata",
    MONEY: "MoneyAttributeMetadata", BOOLEAN: "BooleanAttributeMetadata", DATETIME: "DateTimeAttributeMetadata",
    LOOKUP: "LookupAttributeMetadata", PICKLIST: "PicklistAttributeMetadata", STATE: "StateAttributeMetadata",
    STATUS: "StatusAttributeMetadata", UNIQUEIDENTIFIER: "UniqueIdentifierAttributeMetadata",
}
# Every documented derived AttributeMetadata type the emulator answers a cast for, with the AttributeTypes it
# covers (types the emulated tables do not use answer with an empty collection). [PA-META]
CAST_TYPES: dict[str, frozenset[str]] = {
    "StringAttributeMetadata": frozenset({STRING}), "MemoAttributeMetadata": frozenset({MEMO}),
    "IntegerAttributeMetadata": frozenset({INTEGER}), "BigIntAttributeMetadata": frozenset({BIGINT}),
    "DecimalAttributeMetadata": frozenset({DECIMAL}), "DoubleAttributeMetadata": frozenset({DOUBLE}),
    "MoneyAttributeMetadata": frozenset({MONEY}), "BooleanAttributeMetadata": frozenset({BOOLEAN}),
    "DateTimeAttributeMetadata": frozenset({DATETIME}), "LookupAttributeMetadata": frozenset({LOOKUP}),
    "PicklistAttributeMetadata": frozenset({PICKLIST}), "StateAttributeMetadata": frozenset({STATE}),
    "StatusAttributeMetadata": frozenset({STATUS}), "UniqueIdentifierAttributeMetadata": frozenset({UNIQUEIDENTIFIER}),
    "MultiSelectPicklistAttributeMetadata": frozenset(), "EntityNameAttributeMetadata": frozenset(),
    "ImageAttributeMetadata": frozenset(), "FileAttributeMetadata": frozenset(),
    "ManagedPropertyAttributeMetadata": frozenset(),
    "EnumAttributeMetadata": frozenset({PICKLIST, STATE, STATUS}),
}
_NUMERIC = {"MinValue": DECIMAL, "MaxValue": DECIMAL}
# Properties each derived type adds to AttributeMetadata (selectable, filterable with their types).
DERIVED_COLUMNS: dict[str, dict[str, str]] = {
    "StringAttributeMetadata": {"MaxLength": INTEGER, "Format": "Enum", "FormatName/Value": STRING,
                                "DatabaseLength": INTEGER},
    "MemoAttributeMetadata": {"MaxLength": INTEGER, "Format": "Enum"},
    "IntegerAttributeMetadata": {**_NUMERIC, "Format": "Enum"},
    "BigIntAttributeMetadata": dict(_NUMERIC),
    "DecimalAttributeMetadata": {**_NUMERIC, "Precision": INTEGER},
    "DoubleAttributeMetadata": {**_NUMERIC, "Precision": INTEGER},
    "MoneyAttributeMetadata": {**_NUMERIC, "Precision": INTEGER, "PrecisionSource": INTEGER},
    "BooleanAttributeMetadata": {"DefaultValue": BOOLEAN},
    "DateTimeAttributeMetadata": {"Format": "Enum", "DateTimeBehavior/Value": STRING,
                                  "CanChangeDateTimeBehavior/Value": BOOLEAN, "MinSupportedValue": STRING,
                                  "MaxSupportedValue": STRING},
    "LookupAttributeMetadata": {"Format": "Enum"},
    "PicklistAttributeMetadata": {"DefaultFormValue": INTEGER},
    "StateAttributeMetadata": {"DefaultFormValue": INTEGER},
    "StatusAttributeMetadata": {"DefaultFormValue": INTEGER},
    "MultiSelectPicklistAttributeMetadata": {"DefaultFormValue": INTEGER},
    "EnumAttributeMetadata": {"DefaultFormValue": INTEGER},
    "UniqueIdentifierAttributeMetadata": {}, "EntityNameAttributeMetadata": {}, "ImageAttributeMetadata": {},
    "FileAttributeMetadata": {"MaxSizeInKB": INTEGER}, "ManagedPropertyAttributeMetadata": {},
}
# Complex or collection properties that can be selected but not filtered on directly.
DERIVED_EXTRA = {
    "StringAttributeMetadata": ("FormatName",), "DateTimeAttributeMetadata": ("DateTimeBehavior", "CanChangeDateTimeBehavior"),
    "LookupAttributeMetadata": ("Targets",),
}
OPTION_NAVIGATION = {"OptionSet", "GlobalOptionSet"}
DATE_MIN, DATE_MAX = "1753-01-01T00:00:00Z", "9999-12-30T23:59:59Z"

ENTITY_COLUMNS = {  # filterable EntityMetadata properties -> type for the filter engine
    "MetadataId": UNIQUEIDENTIFIER, "LogicalName": STRING, "SchemaName": STRING, "EntitySetName": STRING,
    "LogicalCollectionName": STRING, "PrimaryIdAttribute": STRING, "PrimaryNameAttribute": STRING,
    "ObjectTypeCode": INTEGER, "ChangeTrackingEnabled": BOOLEAN, "IsCustomEntity": BOOLEAN,
    "CanChangeTrackingBeEnabled/Value": BOOLEAN, "TableType": STRING, "OwnershipType": "Enum",
    "IsActivity": BOOLEAN, "IsValidForAdvancedFind": BOOLEAN,
}
ENTITY_PROPERTIES = (*[c for c in ENTITY_COLUMNS if "/" not in c], "CanChangeTrackingBeEnabled", "DisplayName",
                     "Privileges", "PrimaryImageAttribute")
# SecurityPrivilegeMetadata.PrivilegeType per table ownership; user-owned tables add Assign and Share.
PRIVILEGE_TYPES = ("Create", "Read", "Write", "Delete", "Append", "AppendTo")
# Lenient (UNCONFIRMED): MaxLength/Targets/Format live on derived types in Dataverse; the emulator lets
# them be selected on the base Attributes collection too (absent keys come back null).
ATTRIBUTE_COLUMNS = {
    "MetadataId": UNIQUEIDENTIFIER, "LogicalName": STRING, "SchemaName": STRING, "EntityLogicalName": STRING,
    "AttributeType": "Enum", "AttributeTypeName/Value": STRING, "IsPrimaryId": BOOLEAN, "IsPrimaryName": BOOLEAN,
    "IsValidForRead": BOOLEAN, "IsValidForCreate": BOOLEAN, "IsValidForUpdate": BOOLEAN, "IsSecured": BOOLEAN,
    "IsCustomAttribute": BOOLEAN, "RequiredLevel/Value": STRING, "MaxLength": INTEGER,
}
ATTRIBUTE_PROPERTIES = (
    *[c for c in ATTRIBUTE_COLUMNS if "/" not in c], "AttributeTypeName", "RequiredLevel", "DisplayName",
    "Targets", "Format", "Precision", "MinValue", "MaxValue", "AttributeOf", "IsLogical",
)


# Derived-type properties the base Attributes collection also lets through (the lenient part above).
LENIENT_BASE_PROPERTIES = ("MaxLength", "Targets", "Format", "Precision", "MinValue", "MaxValue")


def _label(text: str) -> dict[str, Any]:
    localized = {"Label": text, "LanguageCode": LANGUAGE, "IsManaged": True}
    return {"LocalizedLabels": [localized], "UserLocalizedLabel": localized}


def _managed(value: Any, name: str) -> dict[str, Any]:
    return {"Value": value, "CanBeChanged": False, "ManagedPropertyLogicalName": name}


# --- service document and CSDL ----------------------------------------------------------------------


def service_document(api: WebApi, req: Request) -> Response:
    sets = [{"name": t.entity_set_name, "kind": "EntitySet", "url": t.entity_set_name} for t in api.schema.values()]
    sets.append({"name": "EntityDefinitions", "kind": "EntitySet", "url": "EntityDefinitions"})
    return Response.json(200, {"@odata.context": f"{api.root(req)}/$metadata", "value": sets})


def csdl(api: WebApi, req: Request) -> Response:
    """CSDL XML; ``?annotations=true`` adds the ChangeTracking capability and Core.Computed. [PA-SVC]"""
    annotations = req.query.get("annotations", "").lower() == "true"
    types, sets = [], []
    for table in api.schema.values():
        types.append(_entity_type(api, table, annotations))
        sets.append(_entity_set(api, table, annotations))
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">'
        "<edmx:DataServices>"
        '<Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">'
        '<EntityType Name="crmbaseentity" Abstract="true"/>'
        + "".join(types)
        + '<EntityContainer Name="System">'
        + "".join(sets)
        + "</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>"
    )
    resp = Response.text(200, xml, content_type=XML)
    resp.headers.set("OData-Version", "4.0")
    return resp


def _edm_type(attr: AttributeDef) -> str:
    return "Edm.Date" if attr.date_only else EDM_TYPES[attr.attribute_type]


def _entity_type(api: WebApi, table: TableDef, annotations: bool) -> str:
    parts = [f"<EntityType Name={quoteattr(table.logical_name)} BaseType=\"mscrm.crmbaseentity\">",
             f"<Key><PropertyRef Name={quoteattr(table.primary_id)}/></Key>"]
    for attr in table.attributes.values():
        name = quoteattr(table.wire_name(attr))
        computed = annotations and (attr.read_only or attr.is_lookup)
        body = '<Annotation Term="Org.OData.Core.V1.Computed" Bool="true"/>' if computed else ""
        close = f">{body}</Property>" if body else "/>"
        parts.append(f"<Property Name={name} Type=\"{_edm_type(attr)}\"{close}")
    for attr in table.lookups():
        # Only targets the emulator holds, so every NavigationProperty type resolves within the document.
        if attr.navigation_property and attr.targets[0] in api.schema:
            parts.append(
                f"<NavigationProperty Name={quoteattr(attr.navigation_property)} "
                f"Type=\"mscrm.{attr.targets[0]}\"><ReferentialConstraint "
                f"Property={quoteattr(table.wire_name(attr))} "
                f"ReferencedProperty={quoteattr(api.schema[attr.targets[0]].primary_id)}/></NavigationProperty>"
            )
    for source in api.schema.values():  # one-to-many: collection navigation properties (any/all)
        for attr in source.lookups():
            if attr.targets and attr.targets[0] == table.logical_name and attr.navigation_property:
                name = collection_navigation_name(table.logical_name, source.logical_name, attr.logical_name)
                parts.append(f"<NavigationProperty Name={quoteattr(name)} Type=\"Collection(mscrm.{source.logical_name})\" "
                             f"Partner={quoteattr(attr.navigation_property)}/>")
    parts.append("</EntityType>")
    return "".join(parts)


def _entity_set(api: WebApi, table: TableDef, annotations: bool) -> str:
    parts = [f"<EntitySet Name={quoteattr(table.entity_set_name)} EntityType=\"Microsoft.Dynamics.CRM.{table.logical_name}\">"]
    for attr in table.lookups():
        target = api.schema.get(attr.targets[0])
        if attr.navigation_property and target is not None:
            parts.append(f"<NavigationPropertyBinding Path={quoteattr(attr.navigation_property)} "
                         f"Target={quoteattr(target.entity_set_name)}/>")
    if annotations:
        supported = "true" if table.change_tracking else "false"
        parts.append('<Annotation Term="Org.OData.Capabilities.V1.ChangeTracking"><Record>'
                     f'<PropertyValue Property="Supported" Bool="{supported}"/></Record></Annotation>')
    parts.append("</EntitySet>")
    return "".join(parts)


# --- EntityDefinitions ----------------------------------------------------------------------------


def entity_metadata(api: WebApi, table: TableDef) -> dict[str, Any]:
    return {
        "MetadataId": stable_uuid(api.config.seed, f"entity-metadata:{table.logical_name}"),
        "LogicalName": table.logical_name,
        "SchemaName": table.logical_name,
        "EntitySetName": table.entity_set_name,
        "LogicalCollectionName": table.entity_set_name,
        "PrimaryIdAttribute": table.primary_id,
        "PrimaryNameAttribute": table.primary_name,
        "PrimaryImageAttribute": None,  # no emulated table has an image column
        "ObjectTypeCode": table.object_type_code,
        "ChangeTrackingEnabled": table.change_tracking,
        "CanChangeTrackingBeEnabled": _managed(table.can_enable_change_tracking, "canchangetrackingbeenabled"),
        "DisplayName": _label(table.display_name or table.logical_name),
        "IsCustomEntity": table.logical_name not in URS_TABLES,  # URS tables are system tables
        "TableType": "Virtual" if table.is_virtual else "Standard",
        "OwnershipType": "OrganizationOwned" if table.is_virtual else "UserOwned",
        "IsActivity": False,
        "IsValidForAdvancedFind": True,
        "Privileges": _privileges(api, table),
    }


def _privileges(api: WebApi, table: TableDef) -> list[dict[str, Any]]:
    """``SecurityPrivilegeMetadata`` of a table: ``prv<Type><SchemaName>`` per privilege type, with the
    ids the privilege functions and the 403 messages use."""
    types = PRIVILEGE_TYPES if table.is_virtual else (*PRIVILEGE_TYPES, "Assign", "Share")
    out = []
    for kind in types:
        name = f"prv{kind}{table.logical_name}"
        out.append({"CanBeBasic": not table.is_virtual, "CanBeLocal": not table.is_virtual,
                    "CanBeDeep": not table.is_virtual, "CanBeGlobal": True, "CanBeEntityReference": False,
                    "CanBeParentEntityReference": False, "CanBeRecordFilter": False, "Name": name,
                    "PrivilegeId": stable_uuid(api.config.seed, f"privilege:{name}"), "PrivilegeType": kind})
    return out


def attribute_metadata(api: WebApi, table: TableDef, attr: AttributeDef) -> dict[str, Any]:
    kind = attr.attribute_type
    required = "SystemRequired" if attr.is_primary_id else ("ApplicationRequired" if attr.required else "None")
    meta: dict[str, Any] = {
        "@odata.type": f"#{ACTION_NAMESPACE}{METADATA_TYPES[kind]}",
        "MetadataId": stable_uuid(api.config.seed, f"attribute-metadata:{table.logical_name}.{attr.logical_name}"),
        "LogicalName": attr.logical_name,
        "SchemaName": attr.logical_name,
        "EntityLogicalName": table.logical_name,
        "AttributeType": kind,
        "AttributeTypeName": {"Value": f"{kind}Type"},
        "IsPrimaryId": attr.is_primary_id,
        "IsPrimaryName": attr.is_primary_name,
        "IsValidForRead": True,
        "IsValidForCreate": not attr.read_only,
        "IsValidForUpdate": not attr.read_only and not attr.is_primary_id,
        "IsSecured": attr.secured,
        "IsCustomAttribute": attr.logical_name.startswith(("cdm_", api.config.hr_virtual_prefix)),
        "RequiredLevel": _managed(required, "canmodifyrequirementlevelsettings"),
        "DisplayName": _label(attr.logical_name),
        "AttributeOf": None,  # the emulator models no companion (name/yomi) attributes
        "IsLogical": False,
    }
    if kind in (STRING, MEMO):
        meta["MaxLength"] = attr.max_length
        meta["Format"] = "Text" if kind == STRING else "TextArea"
    if kind == LOOKUP:
        meta["Targets"] = list(attr.targets)
    if kind == STRING:
        meta["FormatName"] = {"Value": "Text"}
        meta["DatabaseLength"] = (attr.max_length or 0) * 2
    if kind == DATETIME:
        # UNCONFIRMED: HR date-only columns (birth dates, valid-from dates) are taken as behaviour
        # DateOnly; every other date-time column as UserLocal (Dataverse's default).
        meta["Format"] = "DateOnly" if attr.date_only else "DateAndTime"
        meta["DateTimeBehavior"] = {"Value": "DateOnly" if attr.date_only else "UserLocal"}
        meta["CanChangeDateTimeBehavior"] = _managed(not attr.read_only, "canchangedatetimebehavior")
        meta["MinSupportedValue"], meta["MaxSupportedValue"] = DATE_MIN, DATE_MAX
    if kind in (INTEGER, BIGINT, DECIMAL, DOUBLE, MONEY):
        meta["MinValue"], meta["MaxValue"] = attr.min_value, attr.max_value
        if attr.precision is not None:
            meta["Precision"] = attr.precision
    if kind == INTEGER:
        meta["Format"] = "None"
    if kind == MONEY:
        meta["PrecisionSource"] = 2
    if kind == LOOKUP:
        meta["Format"] = "None"
    if kind == BOOLEAN:
        meta["DefaultValue"] = False
    if kind in (PICKLIST, STATE, STATUS):
        meta["DefaultFormValue"] = -1 if kind == PICKLIST else next(iter(attr.options or {0: ""}))
    return meta


def option_set(api: WebApi, table: TableDef, attr: AttributeDef) -> dict[str, Any]:
    """Local option set of a choice column. Booleans use TrueOption/FalseOption (BooleanOptionSetMetadata)."""
    options = attr.options or {}
    base = {
        "MetadataId": stable_uuid(api.config.seed, f"optionset:{table.logical_name}.{attr.logical_name}"),
        "Name": f"{table.logical_name}_{attr.logical_name}",
        "IsGlobal": False,
        "OptionSetType": attr.attribute_type if attr.attribute_type != BOOLEAN else "Boolean",
    }
    if attr.attribute_type == BOOLEAN:
        base["TrueOption"] = {"Value": 1, "Label": _label(options.get(1, "Yes"))}
        base["FalseOption"] = {"Value": 0, "Label": _label(options.get(0, "No"))}
        return base
    base["Options"] = [_option(attr, value, label) for value, label in options.items()]
    return base


def _option(attr: AttributeDef, value: int, label: str) -> dict[str, Any]:
    """OptionMetadata; StatusOptionMetadata adds its State, StateOptionMetadata its DefaultStatus. The
    emulated tables pair status 1 with state 0 and status 2 with state 1 (Dataverse's defaults)."""
    option: dict[str, Any] = {"Value": value, "Label": _label(label), "Description": _label(""), "Color": None,
                              "IsManaged": attr.attribute_type != PICKLIST}
    if attr.attribute_type == STATUS:
        option["@odata.type"] = f"#{ACTION_NAMESPACE}StatusOptionMetadata"
        option["State"] = 0 if value == 1 else 1
    if attr.attribute_type == STATE:
        option["@odata.type"] = f"#{ACTION_NAMESPACE}StateOptionMetadata"
        option["DefaultStatus"] = value + 1
        option["InvariantName"] = label
    return option


def entity_definitions(api: WebApi, req: Request, target: Target) -> Response:
    query = req.query
    _refuse_unsupported(query)
    tables = list(api.schema.values())
    if target.key is not None or target.alt_key is not None:
        table = _find_table(api, target)
        if target.sub:
            if target.sub in RELATED_METADATA:
                return _related_metadata(api, req, table, target.sub, query)
            return _attributes(api, req, table, target.sub, query)
        select = _select(query.get("$select"), ENTITY_PROPERTIES, "EntityMetadata")
        expand = _expand(query.get("$expand"), {"Attributes"}, "EntityMetadata")
        body = _project_entity(api, table, select, expand)
        fragment = f"EntityDefinitions({','.join(select)})/$entity" if select else "EntityDefinitions/$entity"
        return Response.json(200, {"@odata.context": api.context(req, fragment), **body})
    if target.sub:
        raise not_found_segment(target.sub.split("/", 1)[0])
    select = _select(query.get("$select"), ENTITY_PROPERTIES, "EntityMetadata")
    expand = _expand(query.get("$expand"), {"Attributes"}, "EntityMetadata")
    rows = [entity_metadata(api, t) for t in tables]
    if "$filter" in query:
        expr = parse_filter(query["$filter"], DictResolver(ENTITY_COLUMNS, "EntityMetadata"), query)
        keep = {row["LogicalName"] for row in rows if expr.evaluate(_flat(row))}
        tables = [t for t in tables if t.logical_name in keep]
    value = [_project_entity(api, t, select, expand) for t in tables]
    fragment = f"EntityDefinitions({','.join(select)})" if select else "EntityDefinitions"
    return Response.json(200, {"@odata.context": api.context(req, fragment), "value": value})


def _refuse_unsupported(query: dict[str, str]) -> None:
    for option in ("$top", "$skip", "$orderby", "$count", "$search", "$format", "$apply", "$compute", "$levels"):
        if option in query:
            # UNCONFIRMED wording; metadata queries support only $select/$filter/$expand. [PA-META]
            raise ODataError(f"The query parameter '{option}' is not supported for metadata queries.")
    check_supported(query, known=("$select", "$filter", "$expand"))


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    """Expose ``A/Value`` paths as keys for the filter engine (it reads ``row[key]``)."""
    flat = dict(row)
    for key, value in row.items():
        if isinstance(value, dict) and "Value" in value:
            flat[f"{key}/Value"] = value["Value"]
    return flat


def _find_table(api: WebApi, target: Target) -> TableDef:
    if target.alt_key is not None:
        name = target.alt_key["LogicalName"]
        table = api.schema.get(name)
        if table is None:
            raise ODataError(
                f"The entity with a name = '{name}' with namemapping = 'Logical' was not found in the MetadataCache.",
                status=404, code=ENTITY_NOT_FOUND,
            )
        return table
    for table in api.schema.values():
        if entity_metadata(api, table)["MetadataId"] == target.key:
            return table
    raise ODataError(f"Could not find an entity with id {target.key}.", status=404, code=ENTITY_NOT_FOUND)


def _select(text: str | None, allowed: tuple[str, ...], entity: str) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in allowed:
            raise unknown_property(name, entity)
    return names


def _expand(text: str | None, allowed: set[str], entity: str) -> dict[str, dict[str, str]]:
    """``A($select=x,y;$filter=…),B`` -> {A: {"$select": "x,y", "$filter": "…"}, B: {}}."""
    out: dict[str, dict[str, str]] = {}
    if not text:
        return out
    for item in split_outside(text, ","):
        item = item.strip()
        name, _, rest = item.partition("(")
        if name not in allowed:
            raise unknown_property(name, entity)
        options: dict[str, str] = {}
        if rest:
            if not rest.endswith(")"):
                raise ODataError(f"Syntax error in $expand at '{item}'.")
            for option in split_outside(rest[:-1], ";"):
                key, eq, value = option.partition("=")
                if not eq or key.strip() not in ("$select", "$filter"):
                    raise ODataError(f"The query option '{key.strip()}' is not supported inside $expand of '{name}'.")
                options[key.strip()] = value.strip()
        out[name] = options
    return out


def _project(row: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    """Selected properties plus MetadataId (always included) and @odata.type (when present)."""
    if select is None:
        return row
    keep = {"@odata.type", "MetadataId", *select}
    out = {k: v for k, v in row.items() if k in keep}
    for name in select:
        out.setdefault(name, None)
    return out


def _project_entity(api: WebApi, table: TableDef, select: list[str] | None, expand: dict[str, dict[str, str]]
                    ) -> dict[str, Any]:
    body = _project(entity_metadata(api, table), select)
    if "Attributes" in expand:
        options = expand["Attributes"]
        body["Attributes"] = _attribute_rows(api, table, list(table.attributes.values()), options, {})
    return body


def _attribute_rows(api: WebApi, table: TableDef, attrs: list[AttributeDef], options: dict[str, str],
                    expand: dict[str, dict[str, str]], cast: str | None = None) -> list[dict[str, Any]]:
    """Attribute metadata rows. ``cast`` (a derived type name) adds that type's properties to what can be
    selected and filtered; without one, the lenient base set applies (``ATTRIBUTE_PROPERTIES``)."""
    columns = dict(ATTRIBUTE_COLUMNS)
    allowed: tuple[str, ...] = ATTRIBUTE_PROPERTIES
    entity = "AttributeMetadata"
    if cast is not None:
        derived = DERIVED_COLUMNS[cast]
        columns.update(derived)
        base = tuple(p for p in ATTRIBUTE_PROPERTIES if p not in LENIENT_BASE_PROPERTIES)
        allowed = (*base, *(c for c in derived if "/" not in c), *DERIVED_EXTRA.get(cast, ()))
        entity = cast
    select = _select(options.get("$select"), allowed, entity)
    rows = [(attr, attribute_metadata(api, table, attr)) for attr in attrs]
    if "$filter" in options:
        expr = parse_filter(options["$filter"], DictResolver(columns, entity), options)
        rows = [(a, r) for a, r in rows if expr.evaluate(_flat(r))]
    out = []
    for attr, row in rows:
        projected = _project(row, select)
        for name, nested in expand.items():  # OptionSet / GlobalOptionSet (local option sets only)
            value = option_set(api, table, attr) if name == "OptionSet" else None
            if value is not None and "$select" in nested:
                keep = _select(nested["$select"], tuple(value), "OptionSetMetadata") or []
                value = {k: v for k, v in value.items() if k in keep or k == "MetadataId"}
            projected[name] = value
        out.append(projected)
    return out


def _attributes(api: WebApi, req: Request, table: TableDef, sub: str, query: dict[str, str]) -> Response:
    """``Attributes``, ``Attributes(LogicalName='x')`` and ``Attributes/Microsoft.Dynamics.CRM.<Type>``."""
    segments = split_outside(sub, "/")
    head, cast = segments[0], segments[1:]
    name, _, key = head.partition("(")
    if name != "Attributes" or len(cast) > 1:
        raise not_found_segment(name if name != "Attributes" else cast[-1])
    attrs = list(table.attributes.values())
    kind_name = "AttributeMetadata"
    cast_name: str | None = None
    if cast:
        if not cast[0].startswith(ACTION_NAMESPACE) or cast[0][len(ACTION_NAMESPACE):] not in CAST_TYPES:
            raise not_found_segment(cast[0])
        cast_name = kind_name = cast[0][len(ACTION_NAMESPACE):]
        attrs = [a for a in attrs if a.attribute_type in CAST_TYPES[cast_name]]
    options_cast = cast_name is not None and bool(CAST_TYPES[cast_name] & OPTION_TYPES)
    expand = _expand(query.get("$expand"), OPTION_NAVIGATION if options_cast else set(), kind_name)
    options = {k: v for k, v in query.items() if k in ("$select", "$filter") or k.startswith("@")}
    context_path = f"EntityDefinitions('{table.logical_name}')/Attributes" + (f"/{cast[0]}" if cast else "")
    select = query.get("$select")
    if key:
        logical = key.rstrip(")").partition("=")[2].strip().strip("'")
        match = [a for a in attrs if a.logical_name == logical]
        if not match:
            raise ODataError(f"Could not find attribute with LogicalName = '{logical}'.", status=404,
                             code=ENTITY_NOT_FOUND)
        row = _attribute_rows(api, table, match, options, expand, cast_name)[0]
        return Response.json(200, {"@odata.context": api.context(req, f"{context_path}/$entity"), **row})
    value = _attribute_rows(api, table, attrs, options, expand, cast_name)
    fragment = f"{context_path}({select})" if select else context_path
    return Response.json(200, {"@odata.context": api.context(req, fragment), "value": value})


# --- keys and relationships -------------------------------------------------------------------------

RELATED_METADATA = ("Keys", "OneToManyRelationships", "ManyToOneRelationships")
KEY_COLUMNS = {"MetadataId": UNIQUEIDENTIFIER, "LogicalName": STRING, "SchemaName": STRING,
               "EntityLogicalName": STRING, "EntityKeyIndexStatus": "Enum"}
RELATIONSHIP_COLUMNS = {
    "MetadataId": UNIQUEIDENTIFIER, "SchemaName": STRING, "ReferencedAttribute": STRING, "ReferencedEntity": STRING,
    "ReferencingAttribute": STRING, "ReferencingEntity": STRING, "ReferencedEntityNavigationPropertyName": STRING,
    "ReferencingEntityNavigationPropertyName": STRING, "RelationshipType": "Enum", "IsCustomRelationship": BOOLEAN,
}


def key_metadata(api: WebApi, table: TableDef) -> list[dict[str, Any]]:
    """EntityKeyMetadata of the table's alternate keys. UNCONFIRMED: key names (``<table>_key<n>``)."""
    out = []
    for n, columns in enumerate(table.alternate_keys, start=1):
        name = f"{table.logical_name}_key{n}"
        out.append({
            "MetadataId": stable_uuid(api.config.seed, f"key-metadata:{name}"), "LogicalName": name,
            "SchemaName": name, "EntityLogicalName": table.logical_name, "KeyAttributes": list(columns),
            "EntityKeyIndexStatus": "Active", "DisplayName": _label(name),
        })
    return out


def relationship_metadata(api: WebApi, referencing: TableDef, attr: AttributeDef) -> dict[str, Any]:
    """OneToManyRelationshipMetadata of one lookup (the same record serves the ManyToOne view). The schema
    name is also the referenced side's collection navigation property (UNCONFIRMED naming, see filter.py)."""
    referenced = attr.targets[0]
    target = api.schema.get(referenced)
    name = collection_navigation_name(referenced, referencing.logical_name, attr.logical_name)
    return {
        "@odata.type": f"#{ACTION_NAMESPACE}OneToManyRelationshipMetadata",
        "MetadataId": stable_uuid(api.config.seed, f"relationship:{name}"), "SchemaName": name,
        "ReferencedAttribute": target.primary_id if target is not None else f"{referenced}id",
        "ReferencedEntity": referenced, "ReferencingAttribute": attr.logical_name,
        "ReferencingEntity": referencing.logical_name, "ReferencedEntityNavigationPropertyName": name,
        "ReferencingEntityNavigationPropertyName": attr.navigation_property,
        "RelationshipType": "OneToManyRelationship",
        "IsCustomRelationship": attr.logical_name.startswith(("cdm_", api.config.hr_virtual_prefix)),
    }


def _related_metadata(api: WebApi, req: Request, table: TableDef, sub: str, query: dict[str, str]) -> Response:
    """``EntityDefinitions(…)/Keys``, ``/OneToManyRelationships`` and ``/ManyToOneRelationships`` with
    ``$select``/``$filter``."""
    if "$expand" in query:
        raise ODataError(f"The query parameter '$expand' is not supported on {sub}.")
    if sub == "Keys":
        rows, columns, entity = key_metadata(api, table), KEY_COLUMNS, "EntityKeyMetadata"
        allowed = (*KEY_COLUMNS, "KeyAttributes", "DisplayName")
    else:
        if sub == "ManyToOneRelationships":
            pairs = [(table, a) for a in table.lookups() if a.targets and a.navigation_property]
        else:
            pairs = [(s, a) for s in api.schema.values() for a in s.lookups()
                     if a.targets and a.targets[0] == table.logical_name and a.navigation_property]
        rows = [relationship_metadata(api, s, a) for s, a in pairs]
        columns, entity = RELATIONSHIP_COLUMNS, "OneToManyRelationshipMetadata"
        allowed = tuple(RELATIONSHIP_COLUMNS)
    select = _select(query.get("$select"), allowed, entity)
    if "$filter" in query:
        expr = parse_filter(query["$filter"], DictResolver(columns, entity), query)
        rows = [r for r in rows if expr.evaluate(r)]
    value = [_project(r, select) for r in rows]
    path = f"EntityDefinitions('{table.logical_name}')/{sub}"
    fragment = f"{path}({','.join(select)})" if select else path
    return Response.json(200, {"@odata.context": api.context(req, fragment), "value": value})
