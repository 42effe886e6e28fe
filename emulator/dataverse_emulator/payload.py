"""Validation and binding of a JSON entity body (create/update/upsert, bulk targets) to column values.

What Dataverse refuses, this refuses, with Dataverse's status, code and message shape:
- body problems the OData reader finds (malformed JSON, unknown property, wrong navigation-property
  case, bad literal types) are 400 ``0x80048d19`` "Error identified in Payload provided by the user for
  Entity :'<set>' … ----> InnerException : Microsoft.OData.ODataException: <OData text>" [OBS-bind];
  the emulator omits the .NET stack trace real responses append;
- platform validation (string length, number/option ranges) is 400 ``0x80044331`` "A validation error
  occurred.  …" (the length text is documented; the range texts follow observed messages);
- ``@odata.bind`` targets must exist: 404 ``0x80040217`` "<entity> With Id = <guid> Does Not Exist".

Codes and texts marked UNCONFIRMED are documented best guesses.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from .http import BadJsonBody, Request, Response
from .odata.errors import ODataError
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
    STRING,
    UNIQUEIDENTIFIER,
    AttributeDef,
    TableDef,
    format_datetime,
)
from .webapi_paths import parse_target

if TYPE_CHECKING:
    from .security import Principal
    from .webapi import WebApi

PAYLOAD_ERROR = "0x80048d19"
VALIDATION_ERROR = "0x80044331"
ROW_NOT_FOUND = "0x80040217"
# UNCONFIRMED: Dataverse only enforces SystemRequired columns itself; the emulator enforces every
# required column on create with InvalidArgument (0x80040203) so a client that forgets one fails fast.
REQUIRED_MISSING = "0x80040203"
# UNCONFIRMED: code for writing a column that is never valid for create/update.
READ_ONLY = "0x80040203"
# UNCONFIRMED: URS rules (rating value inside its model's range, unique per model) are enforced by
# Scheduling plug-ins; plug-in failures surface as IsvAborted 0x80040265 with the plug-in's text.
PLUGIN_ERROR = "0x80040265"
HELP_LINK = "https://go.microsoft.com/fwlink/?linkid=2195293"
NAMESPACE = "Microsoft.Dynamics.CRM."
# Instance annotations a client may echo back from a read; they carry no column value.
IGNORED_ANNOTATIONS = frozenset({"@odata.context", "@odata.etag", "@odata.id", "@odata.editLink"})
SYSTEM_READ_ONLY = frozenset({"createdon", "modifiedon", "versionnumber"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})$")


class WriteError(ODataError):
    """A refused write; ``to_response()`` gives Dataverse's error JSON."""

    @classmethod
    def from_response(cls, resp: Response) -> WriteError:
        """Wrap an error response another module built (e.g. security's 403)."""
        error = resp.json_payload()["error"]
        return cls(str(error["message"]), status=resp.status, code=str(error["code"]))


def payload_error(entity_set: str, inner: str, *, exception: str = "Microsoft.OData.ODataException",
                  status: int = 400) -> WriteError:
    """The 0x80048d19 wrapper Dataverse puts around OData reader failures. [OBS-bind]"""
    return WriteError(
        f"Error identified in Payload provided by the user for Entity :'{entity_set}', For more information "
        f"on this error please follow this help link {HELP_LINK}  ---->  InnerException : {exception}: {inner}",
        status=status, code=PAYLOAD_ERROR,
    )


def validation_error(text: str) -> WriteError:
    return WriteError(f"A validation error occurred.  {text}", code=VALIDATION_ERROR)


def not_found(table_logical_name: str, row_id: str) -> WriteError:
    return WriteError(f"{table_logical_name} With Id = {row_id} Does Not Exist", status=404, code=ROW_NOT_FOUND)


def parse_json_object(req: Request, entity_set: str) -> dict[str, Any]:
    """The request body as a JSON object; malformed JSON or a non-object is the OData reader's 400."""
    try:
        body = req.json_body()
    except BadJsonBody:
        raise payload_error(entity_set, "Invalid JSON. A token was not recognized in the JSON content.") from None
    return require_object(body, entity_set)


def require_object(body: Any, entity_set: str) -> dict[str, Any]:
    if isinstance(body, dict):
        return body
    node = "StartArray" if isinstance(body, list) else "PrimitiveValue"
    raise payload_error(
        entity_set,
        f"An unexpected '{node}' node was found when reading from the JSON reader. A 'StartObject' node was expected.",
    )


class Binder:
    """Turns a JSON entity body into ``{logical name: stored value}`` for one table.

    ``principal`` is needed for the Append/AppendTo checks behind ``@odata.bind`` (403 0x80040220).
    """

    def __init__(self, api: WebApi, principal: Principal) -> None:
        self.api = api
        self.principal = principal

    def bind(self, table: TableDef, body: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
        """Validate every member of ``body`` (``@odata.type`` must name the table; ``@odata.id``, the
        UpsertMultiple key, and other echoed instance annotations carry no value)."""
        entity_set = table.entity_set_name
        values: dict[str, Any] = {}
        for key, value in body.items():
            if key in IGNORED_ANNOTATIONS:
                continue
            if key == "@odata.type":
                self._check_type(table, value)
                continue
            name, at, annotation = key.partition("@")
            if not name:
                self._check_instance_annotation(entity_set, annotation)
                continue
            if at:
                if annotation == "odata.bind":
                    attr, target = self._bind(table, name, value)
                    values[attr.logical_name] = target
                elif (table.attribute_for_wire(name) is None and table.attribute_for_navigation(name) is None
                      and name not in body):
                    raise payload_error(entity_set, _undeclared(name))
                continue  # other property annotations (e.g. FormattedValue echoed back) carry no value
            values.update(self._property(table, name, value, creating=creating))
        return values

    # --- members --------------------------------------------------------------------------------

    def _check_type(self, table: TableDef, value: Any) -> None:
        expected = f"{NAMESPACE}{table.logical_name}"
        if not isinstance(value, str) or value.lstrip("#") != expected:
            raise payload_error(
                table.entity_set_name,
                f"A resource with type '{str(value).lstrip('#')}' was found, but it is not assignable to the "
                f"expected type '{expected}'. The type specified in the resource must be equal to either the "
                "expected type or a derived type.",
            )

    @staticmethod
    def _check_instance_annotation(entity_set: str, annotation: str) -> None:
        """Instance annotations need a dotted name (observed on 9.2.24112+: issue
        Capgemini/powerapps-specflow-bindings#185); well-formed ones are ignored."""
        if "." not in annotation[1:-1]:
            raise payload_error(
                entity_set,
                f"'{annotation}' is an invalid instance annotation name. An instance annotation name must "
                "contain a period that is not at the start or end of the name.",
                exception="System.ArgumentException",
            )

    def _property(self, table: TableDef, name: str, value: Any, *, creating: bool) -> dict[str, Any]:
        entity_set = table.entity_set_name
        attr = table.attribute_for_wire(name)
        if attr is None:
            if table.attribute_for_navigation(name) is not None:
                # UNCONFIRMED wording; Dataverse supports deep insert, the emulator does not.
                raise WriteError(
                    f"Deep insert through navigation property '{name}' is not supported by the emulator; "
                    f"use '{name}@odata.bind'.", status=501, code="0x80060888",
                )
            raise payload_error(
                entity_set,
                f"The property '{name}' does not exist on type '{NAMESPACE}{table.logical_name}'. Make sure to "
                "only use property names that are defined by the type or mark the type as open type.",
            )
        if attr.attribute_type == LOOKUP:
            # Observed text for writing `_x_value` directly (UNCONFIRMED exception type).
            raise payload_error(
                entity_set,
                "CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.",
                exception="Microsoft.Crm.CrmException",
            )
        if attr.read_only or attr.logical_name in SYSTEM_READ_ONLY:
            raise WriteError(
                f"The attribute '{attr.logical_name}' of entity '{table.logical_name}' is read-only and cannot be "
                f"set on {'create' if creating else 'update'}.", code=READ_ONLY,
            )
        if attr.is_primary_id and not creating:
            return {}  # Dataverse ignores the key in an update body (the URL names the row)
        return {attr.logical_name: self.coerce(table, attr, value)}

    def _bind(self, table: TableDef, nav: str, value: Any) -> tuple[AttributeDef, str]:
        entity_set = table.entity_set_name
        attr = table.attribute_for_navigation(nav)
        if attr is None:  # navigation names are case-sensitive [OBS-bind]
            raise payload_error(entity_set, _undeclared(nav))
        if value is None:
            raise payload_error(
                entity_set,
                "The 'odata.bind' instance or property annotation has a null value. In OData, the 'odata.bind' "
                "instance or property annotation must have a non-null string value.",
            )
        if not isinstance(value, str):
            raise payload_error(
                entity_set,
                f"The 'odata.bind' property annotation for the property '{nav}' has an invalid value. It must be "
                "a string containing a URI.",
            )
        target_table, target_logical, row_id = self._resolve_reference(entity_set, attr, value)
        denied = self.api.security.check_privilege(
            self.principal, table.logical_name, "append", object_type_code=table.object_type_code
        ) or (target_table is not None and self.api.security.check_privilege(
            self.principal, target_logical, "appendto", object_type_code=target_table.object_type_code
        ))
        if denied:
            raise WriteError.from_response(denied)
        return attr, row_id

    def _resolve_reference(self, entity_set: str, attr: AttributeDef, uri: str
                           ) -> tuple[TableDef | None, str, str]:
        """``/set(guid)``, ``set(key='v')`` or an absolute URL -> (table, logical name, existing row id)."""
        path = unquote(urlsplit(uri).path if "://" in uri else uri)
        marker = "/api/data/"
        if marker in path:
            path = path.split(marker, 1)[1].split("/", 1)[-1]
        try:
            target = parse_target(path.strip("/"))
        except ODataError:
            target = None
        if target is None or target.kind != "entity" or target.sub or not target.entity_set:
            raise payload_error(
                entity_set, f"The URI '{uri}' in the 'odata.bind' annotation is not a valid entity reference."
            )
        table = self.api.table_for_set(target.entity_set)
        if table is None:
            # A lookup to a table the emulator does not hold (systemuser, contact, account): only the
            # caller's own systemuser row exists; any other id is a missing row, as in a real org.
            logical = next((t for t in attr.targets if f"{t}s" == target.entity_set), None)
            if logical is None:
                raise payload_error(entity_set, f"Resource not found for the segment '{target.entity_set}'.")
            if logical == "systemuser" and target.key == self.principal.user_id:
                return None, logical, target.key
            raise not_found(logical, target.key or _alt_text(target.alt_key))
        if table.logical_name not in attr.targets:
            raise payload_error(
                entity_set,
                f"A resource with type '{NAMESPACE}{table.logical_name}' was found, but it is not assignable to "
                f"the expected type '{NAMESPACE}{attr.targets[0]}'. The type specified in the resource must be "
                "equal to either the expected type or a derived type.",
            )
        target.table = table
        row = self.api.find_row(table, target)
        if row is None:
            raise not_found(table.logical_name, target.key or _alt_text(target.alt_key))
        return table, table.logical_name, row[table.primary_id]

    # --- values ---------------------------------------------------------------------------------

    def coerce(self, table: TableDef, attr: AttributeDef, value: Any) -> Any:
        """A JSON value as the row stores it, or the error Dataverse gives for it (None stays None)."""
        if value is None:
            return None
        kind = attr.attribute_type
        entity_set = table.entity_set_name
        if kind in (STRING, MEMO):
            if not isinstance(value, str):
                raise _convert(entity_set, value, EDM_TYPES[STRING])
            if attr.max_length is not None and len(value) > attr.max_length:
                raise validation_error(
                    f"The length of the '{attr.logical_name}' attribute of the '{table.logical_name}' entity "
                    f"exceeded the maximum allowed length of '{attr.max_length}'."
                )
            return value
        if kind in OPTION_TYPES and kind != BOOLEAN:
            if isinstance(value, bool) or not isinstance(value, int):
                raise _convert(entity_set, value, EDM_TYPES[kind])
            if attr.options is not None and value not in attr.options:
                # UNCONFIRMED code; text as observed for out-of-range choices.
                raise validation_error(
                    f"The value {value} of '{attr.logical_name}' on record of type '{table.logical_name}' is "
                    f"outside the valid range. Accepted Values: {','.join(str(v) for v in attr.options)}"
                )
            return value
        if kind in (INTEGER, BIGINT):
            if isinstance(value, bool) or not isinstance(value, int):
                raise _convert(entity_set, value, EDM_TYPES[kind])
            return self._in_range(table, attr, value)
        if kind in (DECIMAL, DOUBLE, MONEY):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _convert(entity_set, value, EDM_TYPES[kind])
            return self._in_range(table, attr, float(value))
        if kind == BOOLEAN:
            if not isinstance(value, bool):
                raise _convert(entity_set, value, EDM_TYPES[BOOLEAN])
            return value
        if kind == DATETIME:
            return _datetime(entity_set, attr, value)
        if kind == UNIQUEIDENTIFIER and isinstance(value, str):
            try:
                return str(uuid.UUID(value))
            except ValueError:
                pass
        raise _convert(entity_set, value, kind if kind == LOOKUP else EDM_TYPES.get(kind, kind))

    @staticmethod
    def _in_range(table: TableDef, attr: AttributeDef, value: int | float) -> int | float:
        low, high = attr.min_value, attr.max_value
        if (low is not None and value < low) or (high is not None and value > high):
            # UNCONFIRMED: text follows observed Dataverse range messages for whole numbers.
            raise validation_error(
                f"The value {value} of '{attr.logical_name}' on record of type '{table.logical_name}' is outside "
                f"the valid range. Minimum Value: {low}, Maximum value: {high}"
            )
        return value


def check_required(table: TableDef, row: Mapping[str, Any]) -> None:
    """On create: every required column (other than system-filled ones) needs a value."""
    for attr in table.attributes.values():
        if (not attr.required or attr.is_primary_id or attr.read_only
                or attr.logical_name in ("statecode", "statuscode")):
            continue
        if row.get(attr.logical_name) is None:
            shown = attr.navigation_property if attr.is_lookup else attr.logical_name
            raise WriteError(
                f"A value for the required attribute '{attr.logical_name}' of entity '{table.logical_name}' was "
                f"not provided." + (f" Set it with '{shown}@odata.bind'." if attr.is_lookup else ""),
                code=REQUIRED_MISSING,
            )


def check_cleared_required(table: TableDef, changes: Mapping[str, Any]) -> None:
    """On update: a required column cannot be set to null."""
    for name, value in changes.items():
        attr = table.attributes.get(name)
        if value is None and attr is not None and attr.required:
            raise WriteError(
                f"The required attribute '{name}' of entity '{table.logical_name}' cannot be set to null.",
                code=REQUIRED_MISSING,
            )


def _undeclared(name: str) -> str:
    return (
        f"An undeclared property '{name}' which only has property annotations in the payload but no property "
        "value was found in the payload. In OData, only declared navigation properties and declared named "
        "streams can be represented as properties without values."
    )


def _convert(entity_set: str, value: Any, edm: str) -> WriteError:
    literal = str(value).lower() if isinstance(value, bool) else value
    return payload_error(entity_set, f"Cannot convert the literal '{literal}' to the expected type '{edm}'.")


def _datetime(entity_set: str, attr: AttributeDef, value: Any) -> str:
    """Date-only columns are Edm.Date ("YYYY-MM-DD"); others Edm.DateTimeOffset, stored as UTC ``…Z``."""
    edm = "Edm.Date" if attr.date_only else "Edm.DateTimeOffset"
    if not isinstance(value, str):
        raise _convert(entity_set, value, edm)
    try:
        if attr.date_only:
            if not _DATE.match(value):
                raise ValueError(value)
            return datetime.strptime(value, "%Y-%m-%d").strftime("%Y-%m-%d")
        if _DATE.match(value):
            return f"{value}T00:00:00Z"
        if not _DATETIME.match(value):
            raise ValueError(value)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return format_datetime(parsed.astimezone(UTC))
    except ValueError:
        raise _convert(entity_set, value, edm) from None


def _alt_text(alt_key: Mapping[str, Any] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in (alt_key or {}).items())
