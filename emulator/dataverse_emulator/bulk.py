"""``CreateMultiple`` / ``UpdateMultiple`` / ``UpsertMultiple`` bound actions (reference §7.4).

- ``POST <set>/Microsoft.Dynamics.CRM.CreateMultiple {"Targets":[…]}`` → 200
  ``{"@odata.context":"<root>/$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse","Ids":[…]}``;
- ``UpdateMultiple`` (targets carry the primary key) → 204;
- ``UpsertMultiple`` (targets named by ``"@odata.id": "<set>(<key>)"`` or the primary key) → 204, no body.

``@odata.type`` is mandatory on every target. Standard tables are all-or-nothing: the first failing
target rolls back the whole request and the error names its index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .http import Request, Response
from .odata.errors import ODataError
from .payload import PAYLOAD_ERROR, WriteError, not_found, parse_json_object, payload_error
from .schema import TableDef
from .webapi_paths import parse_target
from .webapi_write import Transaction, Writer

if TYPE_CHECKING:
    from .security import Principal
    from .webapi import WebApi
    from .webapi_paths import Target

# UNCONFIRMED: a table whose SdkMessageFilter lacks the message. Best recollection of the platform text
# ("… MessageProcessorCache returned MessageProcessor.Empty."), reported as IsvAborted-style 400.
UNSUPPORTED_MESSAGE = "0x80040265"
UPSERT_KEY = "@odata.id"


def handle_bulk(api: WebApi, req: Request, principal: Principal, target: Target) -> Response:
    table, message = target.table, target.action
    assert table is not None and message is not None  # parse_target resolved both
    if message not in table.bulk_messages:
        return WriteError(
            f"The '{message}' method does not support entities of type '{table.logical_name}'. "
            "MessageProcessorCache returned MessageProcessor.Empty.",
            code=UNSUPPORTED_MESSAGE,
        ).to_response()
    try:
        targets = _targets(parse_json_object(req, table.entity_set_name), table, message)
    except ODataError as exc:
        return exc.to_response()
    writer = Writer(api, principal)
    ids: list[str] = []
    with Transaction(api.store) as tx:
        for index, item in enumerate(targets):
            try:
                ids.append(_apply(api, writer, table, message, item))
            except ODataError as exc:
                tx.rollback()
                # UNCONFIRMED: how Dataverse names the failing target; the index is appended.
                return WriteError(f"{exc.message} (Targets[{index}])", status=exc.status,
                                  code=exc.code).to_response()
    if message == "CreateMultiple":
        payload = {"@odata.context": api.context(req, "Microsoft.Dynamics.CRM.CreateMultipleResponse"), "Ids": ids}
        return Response.json(200, payload, {"OData-Version": "4.0"}, rows=len(ids))
    return Response.empty(204)


def _targets(body: dict[str, Any], table: TableDef, message: str) -> list[dict[str, Any]]:
    for name in body:
        if name != "Targets":
            raise payload_error(
                table.entity_set_name,
                f"The parameter '{name}' in the request payload is not a valid parameter for the operation "
                f"'{message}'.",
            )
    targets = body.get("Targets")
    if not isinstance(targets, list) or not targets:
        raise WriteError(f"'{message}' needs a non-empty 'Targets' array of {table.logical_name} records.",
                         code=PAYLOAD_ERROR)
    for index, item in enumerate(targets):
        if not isinstance(item, dict):
            raise WriteError(f"Targets[{index}] is not a JSON object.", code=PAYLOAD_ERROR)
        if "@odata.type" not in item:
            # UNCONFIRMED text; the requirement itself is documented. [PA-BULK][ML-UPM]
            raise WriteError(
                f"Targets[{index}] has no '@odata.type' annotation. Every target of '{message}' must name its "
                f"type: \"@odata.type\": \"Microsoft.Dynamics.CRM.{table.logical_name}\".",
                code=PAYLOAD_ERROR,
            )
    return targets


def _apply(api: WebApi, writer: Writer, table: TableDef, message: str, item: dict[str, Any]) -> str:
    """Write one target; returns its row id."""
    pk = table.primary_id
    if message == "CreateMultiple":
        return writer.create(table, item)[pk]
    if message == "UpdateMultiple":
        row_id = item.get(pk)
        if not isinstance(row_id, str):
            raise WriteError(f"UpdateMultiple targets must carry the primary key '{pk}'.", code=PAYLOAD_ERROR)
        current = api.store.get(table.logical_name, row_id)
        if current is None:
            raise not_found(table.logical_name, row_id)
        return writer.update(table, current, item)[pk]
    key = _upsert_key(api, table, item)
    current = api.find_row(table, key) if key is not None else None
    if current is None:
        key_values = writer.key_values(table, key) if key is not None else None
        return writer.create(table, item, key_values=key_values)[pk]
    body = item
    if key is not None and key.alt_key:  # key columns in the body are dropped on update [PA-UPSERT]
        wire = {table.wire_name(c) for c in api.alternate_key(table, key.alt_key)}
        body = {k: v for k, v in item.items() if k not in wire}
    return writer.update(table, current, body)[pk]


def _upsert_key(api: WebApi, table: TableDef, item: dict[str, Any]) -> Target | None:
    """The row an UpsertMultiple target names: ``@odata.id`` (relative or absolute), else its primary key."""
    ref = item.get(UPSERT_KEY)
    if ref is None:
        row_id = item.get(table.primary_id)
        if row_id is None:
            return None
        return parse_target(f"{table.entity_set_name}({row_id})", api.entity_sets)
    path = urlsplit(ref).path if isinstance(ref, str) and "://" in ref else ref
    if isinstance(path, str) and "/api/data/" in path:
        path = path.split("/api/data/", 1)[1].split("/", 1)[-1]
    key = parse_target(path.strip("/"), api.entity_sets) if isinstance(path, str) else None
    if key is None or key.kind != "entity" or key.sub or key.entity_set != table.entity_set_name:
        raise WriteError(f"'{UPSERT_KEY}' must address a {table.logical_name} row as "
                         f"'{table.entity_set_name}(<key>)'; got {ref!r}.", code=PAYLOAD_ERROR)
    return key
