"""Web API writes: POST create, PATCH update/upsert, DELETE (reference §7.1-7.2).

- ``POST <set>`` → 204 + ``OData-EntityId``; ``Prefer: return=representation`` → 201 + the row.
- ``PATCH <set>(<guid>)`` or ``<set>(<alternate key>)``: upsert without ``If-Match`` (204 either way;
  with return=representation 201 created / 200 updated + ``ETag``); ``If-Match: *`` = update only
  (404 when absent); ``If-None-Match: *`` = create only (412); ``If-Match: W/"<v>"`` = optimistic
  concurrency (412 0x80060882 on mismatch).
- ``DELETE <set>(<guid>)`` → 204 with the URS cascade rules (hr-urs-data-model §3): Cascade, Restrict
  (405 0x80040227) and RemoveLink, all through the store so change tracking sees every effect.

Every write goes through ``Writer`` (also used by ``bulk.py``), which checks privileges (403
0x80040220), binds the body (``payload.Binder``) and applies the URS business rules.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .http import Request, Response, dataverse_error
from .odata.errors import ODataError
from .odata.filter import TableResolver
from .odata.options import parse_select
from .payload import (
    PLUGIN_ERROR,
    Binder,
    WriteError,
    check_cleared_required,
    check_required,
    parse_json_object,
)
from .schema import AttributeDef, TableDef
from .store import DuplicateRow
from .webapi_paths import Target, split_outside
from .webapi_rows import entity_url, etag, parse_annotations, serialize_row

if TYPE_CHECKING:
    from .security import Principal
    from .store import Store
    from .webapi import WebApi

CONCURRENCY_MISMATCH = "0x80060882"
DUPLICATE_RECORD = "0x80040237"
CANNOT_DELETE_DUE_TO_ASSOCIATION = "0x80040227"  # documented with HTTP 405 [PA-HDR][PA-ERR]
# UNCONFIRMED: Dataverse's answer for a method a resource does not support (OData's 405 wording).
METHOD_NOT_ALLOWED = "0x80060888"

# (referencing table, lookup) -> what deleting the referenced row does [hr-urs-data-model §3].
# Any other relationship behaves as Dataverse's default Referential one: the lookup is cleared.
CASCADE = {
    ("bookableresourcecharacteristic", "resource"): "Cascade",
    ("bookableresourcecharacteristic", "characteristic"): "Restrict",
    ("bookableresourcecharacteristic", "ratingvalue"): "RemoveLink",
    ("ratingvalue", "ratingmodel"): "Cascade",
}


def handle_write(api: WebApi, req: Request, principal: Principal, target: Target) -> Response:
    """POST/PATCH/PUT/DELETE on a Web API resource (``$batch`` is ``batch.handle_batch``)."""
    try:
        if target.kind == "bound_action" and req.method == "POST":
            from .bulk import handle_bulk

            return handle_bulk(api, req, principal, target)
        if target.kind == "collection" and req.method == "POST" and target.table is not None:
            return _create(api, req, principal, target.table)
        if target.kind == "entity" and target.sub is None and target.table is not None:
            if req.method == "PATCH":
                return _patch(api, req, principal, target.table, target)
            if req.method == "DELETE":
                return _delete(api, req, principal, target.table, target)
    except ODataError as exc:
        return exc.to_response()
    segment = target.sub or target.entity_set or target.kind
    return dataverse_error(
        405, METHOD_NOT_ALLOWED, f"The HTTP method '{req.method}' is not supported for the segment '{segment}'."
    )


# --- handlers ------------------------------------------------------------------------------------


def _create(api: WebApi, req: Request, principal: Principal, table: TableDef) -> Response:
    body = parse_json_object(req, table.entity_set_name)
    select = _select(req, table)  # a bad $select fails before anything is written
    row = Writer(api, principal).create(table, body)
    if _wants_representation(req):
        return representation(api, req, principal, table, row, 201, select)
    return Response.empty(204, {"OData-EntityId": entity_url(api.root(req), table, row[table.primary_id])})


def _patch(api: WebApi, req: Request, principal: Principal, table: TableDef, target: Target) -> Response:
    body = parse_json_object(req, table.entity_set_name)
    select = _select(req, table)
    writer = Writer(api, principal)
    if_match = (req.headers.get("If-Match") or "").strip()
    if_none_match = (req.headers.get("If-None-Match") or "").strip()
    with api.store.lock:  # find-then-write must not race another upsert of the same key
        current = api.find_row(table, target)
        if current is None:
            if if_match:
                return api.row_not_found(table, target)
            key_values = writer.key_values(table, target)
            row = writer.create(table, body, key_values=key_values)
            status = 201
        else:
            if if_none_match == "*":
                return dataverse_error(412, DUPLICATE_RECORD, "A record with matching key values already exists.")
            _check_version(if_match, current)
            if target.alt_key:  # key columns in the body are dropped on update [PA-UPSERT]
                body = _without_keys(table, body, api.alternate_key(table, target.alt_key))
            row = writer.update(table, current, body)
            status = 200
    if _wants_representation(req):
        resp = representation(api, req, principal, table, row, status, select)
        resp.headers.set("ETag", etag(row))
        return resp
    return Response.empty(204, {"OData-EntityId": _entity_id(api, req, table, row, target)})


def _delete(api: WebApi, req: Request, principal: Principal, table: TableDef, target: Target) -> Response:
    with api.store.lock:
        current = api.find_row(table, target)
        if current is None:
            return api.row_not_found(table, target)
        _check_version((req.headers.get("If-Match") or "").strip(), current)
        Writer(api, principal).delete(table, current[table.primary_id])
    return Response.empty(204)


# --- the shared write path -----------------------------------------------------------------------


class Writer:
    """Privilege checks, body binding, business rules and cascades for one caller."""

    def __init__(self, api: WebApi, principal: Principal) -> None:
        self.api = api
        self.store = api.store
        self.principal = principal
        self.binder = Binder(api, principal)

    def require(self, table: TableDef, action: str) -> None:
        denied = self.api.security.check_privilege(
            self.principal, table.logical_name, action, object_type_code=table.object_type_code
        )
        if denied is not None:
            raise WriteError.from_response(denied)

    def create(self, table: TableDef, body: dict[str, Any], *, key_values: dict[str, Any] | None = None
               ) -> dict[str, Any]:
        """Insert a row from a JSON body; ``key_values`` (URL key columns) lose to body values. [PA-UPSERT]"""
        self.require(table, "create")
        values = self.binder.bind(table, body, creating=True)
        row = {**(key_values or {}), **values}
        check_required(table, row)
        self._business_rules(table, row, None)
        try:
            Transaction.before_write(self.store, table.logical_name)
            row_id = self.store.insert(table.logical_name, row)
        except DuplicateRow:
            raise WriteError(
                "A record with matching key values already exists.", status=412, code=DUPLICATE_RECORD
            ) from None
        return self._stored(table, row_id)

    def update(self, table: TableDef, current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        self.require(table, "write")
        changes = self.binder.bind(table, body, creating=False)
        check_cleared_required(table, changes)
        merged = {**current, **changes}
        self._business_rules(table, merged, current)
        row_id = current[table.primary_id]
        Transaction.before_write(self.store, table.logical_name)
        self.store.update(table.logical_name, row_id, changes)
        return self._stored(table, row_id)

    def delete(self, table: TableDef, row_id: str) -> None:
        """Delete with cascades: Restrict anywhere refuses the whole delete before anything changes."""
        self.require(table, "delete")
        deletes, unlinks, restricted = self._plan_delete(table, row_id)
        if restricted:
            raise WriteError(
                "The object you tried to delete is associated with another object and cannot be deleted.",
                status=405, code=CANNOT_DELETE_DUE_TO_ASSOCIATION,
            )
        doomed = set(deletes)
        for child, child_id, column in unlinks:
            if (child, child_id) not in doomed:
                Transaction.before_write(self.store, child)
                self.store.update(child, child_id, {column: None})
        for name, doomed_id in deletes:
            Transaction.before_write(self.store, name)
            self.store.delete(name, doomed_id)

    def key_values(self, table: TableDef, target: Target) -> dict[str, Any]:
        """Columns a PATCH URL names: the primary key, or the alternate-key columns as stored values."""
        if target.key is not None:
            return {table.primary_id: target.key}
        values: dict[str, Any] = {}
        for name, value in self.api.alternate_key(table, target.alt_key or {}).items():
            attr = table.attributes[name]
            values[name] = value if attr.is_lookup else self.binder.coerce(table, attr, value)
        return values

    # --- internals ------------------------------------------------------------------------------

    def _stored(self, table: TableDef, row_id: str) -> dict[str, Any]:
        row = self.store.get(table.logical_name, row_id)
        assert row is not None  # just written under the store lock
        return row

    def _business_rules(self, table: TableDef, row: dict[str, Any], current: dict[str, Any] | None) -> None:
        """URS rules the Scheduling solution enforces (hr-urs-data-model §3.3-3.4). UNCONFIRMED texts."""
        if table.logical_name == "ratingmodel":
            low, high = row.get("minratingvalue"), row.get("maxratingvalue")
            if low is not None and high is not None and low > high:
                raise WriteError(
                    f"The minimum rating value ({low}) must not be greater than the maximum rating value ({high}).",
                    code=PLUGIN_ERROR,
                )
        if table.logical_name != "ratingvalue" or row.get("value") is None or row.get("ratingmodel") is None:
            return
        model = self.store.get("ratingmodel", row["ratingmodel"])
        if model is None:
            return  # the bind already proved it exists; a concurrent delete is the store's 404 later
        value, low, high = row["value"], model.get("minratingvalue"), model.get("maxratingvalue")
        if (low is not None and value < low) or (high is not None and value > high):
            raise WriteError(
                f"The value {value} is outside the range of rating model '{model.get('name')}' ({low} to {high}).",
                code=PLUGIN_ERROR,
            )
        own_id = current.get("ratingvalueid") if current else None
        for other in self.store.find("ratingvalue", "ratingmodel", row["ratingmodel"]):
            if other.get("value") == value and other["ratingvalueid"] != own_id:
                raise WriteError(
                    f"A rating value with value {value} already exists for rating model '{model.get('name')}'.",
                    code=PLUGIN_ERROR,
                )

    def _plan_delete(self, table: TableDef, row_id: str
                     ) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]], list[tuple[str, str]]]:
        """(rows to delete, children first; lookups to clear; rows whose Restrict blocks the delete)."""
        referencing = _referencing(self.api.schema)
        deletes: list[tuple[str, str]] = []
        unlinks: list[tuple[str, str, str]] = []
        restricted: list[tuple[str, str]] = []
        seen: set[tuple[str, str]] = set()

        def visit(name: str, rid: str) -> None:
            seen.add((name, rid))
            for child, attr in referencing.get(name, ()):
                behaviour = CASCADE.get((child.logical_name, attr.logical_name), "RemoveLink")
                for row in self.store.find(child.logical_name, attr.logical_name, rid):
                    key = (child.logical_name, row[child.primary_id])
                    if behaviour == "Cascade":
                        if key not in seen:
                            visit(*key)
                    elif behaviour == "Restrict":
                        restricted.append(key)
                    else:
                        unlinks.append((*key, attr.logical_name))
            deletes.append((name, rid))

        visit(table.logical_name, row_id)
        return deletes, unlinks, [r for r in restricted if r not in seen]


def _referencing(schema: dict[str, TableDef]) -> dict[str, list[tuple[TableDef, AttributeDef]]]:
    """Target table -> [(referencing table, lookup)] (a few dozen tables: cheap to rebuild per delete)."""
    out: dict[str, list[tuple[TableDef, AttributeDef]]] = {}
    for table in schema.values():
        for attr in table.lookups():
            for target in attr.targets:
                out.setdefault(target, []).append((table, attr))
    return out


class Transaction:
    """Writes inside commit together or not at all (change sets, ``*Multiple``).

    The store lock is held throughout, so no other thread writes meanwhile. Each table is captured the
    first time a ``Writer`` is about to change it (copy on first write: a change set touching one small
    URS table does not copy a million HR rows); ``rollback()`` (or an exception) puts the captured tables
    and the version counter back, so a rolled-back write leaves no trace in rows or change log.

    """

    _active = threading.local()

    def __init__(self, store: Store) -> None:
        self.store = store
        self.rolled_back = False
        self._saved: dict[str, tuple[Any, ...]] = {}  # table -> Store.snapshot()

    def __enter__(self) -> Transaction:
        self.store.lock.acquire()
        self._version = self.store.current_version()
        self._stack().append(self)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        try:
            if exc_type is not None and not self.rolled_back:
                self.rollback()
        finally:
            self._stack().remove(self)
            self.store.lock.release()

    @classmethod
    def _stack(cls) -> list[Transaction]:
        if not hasattr(cls._active, "stack"):
            cls._active.stack = []
        return cls._active.stack

    @classmethod
    def before_write(cls, store: Store, table: str) -> None:
        """Called by ``Writer`` before it changes ``table``: every open transaction on this thread
        (a bulk action inside a change set nests two) captures the table once."""
        for tx in cls._stack():
            if tx.store is store and table not in tx._saved:
                tx._saved[table] = store.snapshot(table)

    def rollback(self) -> None:
        self.store.restore(list(self._saved.values()), self._version)
        self._saved = {}
        self.rolled_back = True


# --- responses -----------------------------------------------------------------------------------


def representation(api: WebApi, req: Request, principal: Principal, table: TableDef, row: dict[str, Any],
                   status: int, select: list[str] | None) -> Response:
    """The row as ``return=representation`` returns it: ``@odata.context …/$entity`` then the row."""
    fragment = f"{table.entity_set_name}({','.join(select)})/$entity" if select else f"{table.entity_set_name}/$entity"
    annotations_pref = req.prefer.get("odata.include-annotations")
    body = {"@odata.context": api.context(req, fragment)}
    body.update(serialize_row(
        table, row, select=select, annotations=parse_annotations(annotations_pref),
        hidden=api.security.hidden_columns(principal, table.logical_name), schema=api.schema,
        resolve_name=api.primary_name,
    ))
    applied = ["return=representation"]
    if annotations_pref is not None:
        applied.append(f'odata.include-annotations="{annotations_pref}"')
    return Response.json(status, body, {"Preference-Applied": ",".join(applied), "OData-Version": "4.0"}, rows=1)


def _wants_representation(req: Request) -> bool:
    return req.prefer.get("return") == "representation"


def _select(req: Request, table: TableDef) -> list[str] | None:
    text = req.query.get("$select")
    if text is None:
        return None
    return parse_select(text, TableResolver(table)) or None


def _check_version(if_match: str, current: dict[str, Any]) -> None:
    """``If-Match: W/"<versionnumber>"`` must name the current version. [PA-COND]"""
    if not if_match or if_match == "*":
        return
    wanted = if_match.removeprefix("W/").strip('"')
    if wanted != str(current.get("versionnumber")):
        raise WriteError(
            "The version of the existing record doesn't match the RowVersion property provided.",
            status=412, code=CONCURRENCY_MISMATCH,
        )


def _without_keys(table: TableDef, body: dict[str, Any], key_columns: dict[str, Any]) -> dict[str, Any]:
    wire = {table.wire_name(name) for name in key_columns}
    return {k: v for k, v in body.items() if k not in wire}


def _entity_id(api: WebApi, req: Request, table: TableDef, row: dict[str, Any], target: Target) -> str:
    """``OData-EntityId``: the canonical GUID URL, or the alternate-key URL as the client wrote it. [PA-UPSERT]"""
    if not target.alt_key:
        return entity_url(api.root(req), table, row[table.primary_id])
    version = api.version_of(req) or api.config.api_version
    rest = req.path[len("/api/data/") + len(version):].strip("/")
    return f"{api.root(req)}/{split_outside(rest, '/')[0]}"
