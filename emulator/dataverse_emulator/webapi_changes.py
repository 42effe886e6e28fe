"""Change tracking (reference §5): the initial read with ``Prefer: odata.track-changes`` and delta reads
with ``$deltatoken``, both paged statelessly through ``$skiptoken`` cookies marked ``istracking="True"``.

- Initial read: rows in primary-key order; the delta token is pinned on the first page (in the cookie),
  so rows changed while the client pages come again in the next delta instead of being lost.
  ``@odata.deltaLink`` appears on the last page only.
- Delta read: changed rows (version order) then deletions (version order). The cookie pins the upper
  version of the window and the position (phase + last version), so every page comes from one window.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .defects import served_rows
from .http import Request, Response, dataverse_error
from .odata.errors import ODataError
from .odata.options import check_supported, check_track_changes
from .odata.paging import build_delta_link, build_next_link, decode_skiptoken, delta_token_parts
from .webapi_read import (
    ReadOptions,
    context_fragment,
    make_skiptoken,
    parse_read_options,
    preference_applied,
    read_cookie,
    serialize_rows,
)
from .webapi_read import count as plain_count

if TYPE_CHECKING:
    from .schema import TableDef
    from .security import Principal
    from .webapi import WebApi
    from .webapi_paths import Target

TRACK_CHANGES = "odata.track-changes"
# ChangeTrackingNotEnabledForEntity; text documented [PA-ERR], HTTP status UNCONFIRMED (400 chosen).
NOT_ENABLED = "0x80072491"
# UNCONFIRMED wire error for an expired (or unreadable) delta token: ExpiredVersionStamp, documented for
# RetrieveMetadataChanges, is the closest documented code. [PA-ERR][PA-CACHE] Clients resync on any 4xx.
EXPIRED = "0x80044352"
MAX_REMEMBERED_TOKENS = 100_000
# UNCONFIRMED: code for a delta token used on another set or with another $select (the URI-error code).
DELTA_TOKEN_MISMATCH = "0x80060888"
EXPIRED_MESSAGE = "Version stamp associated with the client has expired. Please perform a full sync."


def is_change_tracking_request(req: Request) -> bool:
    """Track-changes preference, a ``$deltatoken``, or a paging cookie from a tracking read (clients
    such as Drasi follow nextLinks without re-sending the preference)."""
    if TRACK_CHANGES in req.prefer or "$deltatoken" in req.query:
        return True
    raw = req.query.get("$skiptoken")
    if raw is None:
        return False
    try:
        return decode_skiptoken(raw).istracking
    except ODataError:
        return False  # the plain read path reports the malformed cookie


def handle(api: WebApi, req: Request, principal: Principal, target: Target) -> Response:
    table = target.table
    assert table is not None
    query = req.query
    if target.kind == "count" and "$deltatoken" not in query:
        return plain_count(api, req, principal, target)
    denied = api.check_read(principal, table, organization_level=True)
    if denied is not None:
        return denied
    if not table.change_tracking:
        return dataverse_error(400, NOT_ENABLED, f"Entity {table.logical_name} isn't enabled for change tracking.")
    check_supported(query)
    check_track_changes(query)
    if "$deltatoken" in query:
        try:
            version, issued = delta_token_parts(query["$deltatoken"])
        except ODataError:
            return _expired()
        if api.store.is_expired(issued):
            return _expired()
        mismatch = _token_mismatch(api, req, table, query["$deltatoken"], check_select=target.kind != "count")
        if mismatch is not None:
            return mismatch
        if target.kind == "count":
            rows, deletes = api.store.changes_since(table.logical_name, version)
            return Response.text(200, str(len(rows) + len(deletes)), content_type="text/plain")
        return _delta(api, req, principal, table, version)
    return _initial(api, req, principal, table)


def _expired() -> Response:
    return dataverse_error(400, EXPIRED, EXPIRED_MESSAGE)


def _select_key(req: Request) -> frozenset[str]:
    return frozenset(n.strip() for n in (req.query.get("$select") or "").split(",") if n.strip())


def _remember_token(api: WebApi, table: TableDef, req: Request, token: str) -> None:
    """Which entity set and ``$select`` a delta token was handed out for (checked when it comes back)."""
    with api.delta_tokens_lock:
        api.delta_tokens.setdefault(token, set()).add((table.entity_set_name, _select_key(req)))
        while len(api.delta_tokens) > MAX_REMEMBERED_TOKENS:  # oldest first; forgotten tokens are served
            del api.delta_tokens[next(iter(api.delta_tokens))]


def _token_mismatch(api: WebApi, req: Request, table: TableDef, token: str, *, check_select: bool = True
                    ) -> Response | None:
    """UNCONFIRMED (setting ``delta_token_mismatch``): a token reused on another entity set or with another
    ``$select`` is refused. Tokens this emulator did not hand out (a restart, another host) are served."""
    if api.config.delta_token_mismatch != "refuse":
        return None
    with api.delta_tokens_lock:
        issued = set(api.delta_tokens.get(token, ()))
    wanted = (table.entity_set_name, _select_key(req))
    if not issued or wanted in issued or (not check_select and any(s == wanted[0] for s, _ in issued)):
        return None
    sets = sorted({s for s, _ in issued})
    if table.entity_set_name not in sets:
        what = f"the entity set '{', '.join(sets)}', not '{table.entity_set_name}'"
    else:
        what = "another $select; a delta link must be used as returned, with its own $select"
    return dataverse_error(400, DELTA_TOKEN_MISMATCH, f"The $deltatoken value was issued for {what}.")


def _options(api: WebApi, req: Request, table: TableDef) -> ReadOptions:
    opts = parse_read_options(api, req, table)  # $select only: the rest was refused above
    if TRACK_CHANGES in req.prefer:
        opts.applied = [TRACK_CHANGES, *opts.applied]
    return opts


def _initial(api: WebApi, req: Request, principal: Principal, table: TableDef) -> Response:
    opts = _options(api, req, table)
    cursor = read_cookie(req, table)
    if cursor is not None and "track" in cursor[1]:
        token = cursor[1]["track"].get("token", "")
    else:
        token = api.store.make_delta_token(api.store.current_version())
    after = cursor[0].last_id if cursor else None
    rows = api.store.page(table.logical_name, after_id=after, limit=opts.page_size + 1,
                          predicate=served_rows(api.store, api.config, table.logical_name), copy=False)
    more = len(rows) > opts.page_size
    rows = rows[: opts.page_size]
    body: dict[str, Any] = {"@odata.context": api.context(req, context_fragment(table, opts.select, []))}
    if opts.count:  # UNCONFIRMED: honoured like a plain read (every page, capped), not refused
        body["@odata.count"] = min(api.store.count(table.logical_name), api.config.count_cap)
    body["value"] = serialize_rows(api, principal, table, rows, opts)
    if more:
        page = cursor[0].pagenumber + 1 if cursor else 2
        skiptoken = make_skiptoken(page, table, rows[-1][table.primary_id], rows[0][table.primary_id],
                                   istracking=True, extras={"track": {"token": token}})
        body["@odata.nextLink"] = build_next_link(req.scheme_host, req.path, req.query_list, skiptoken)
    else:
        body["@odata.deltaLink"] = build_delta_link(req.scheme_host, req.path, req.query.get("$select"), token)
        _remember_token(api, table, req, token)
    return Response.json(200, body, preference_applied({}, opts.applied), rows=len(rows))


def _delta(api: WebApi, req: Request, principal: Principal, table: TableDef, version: int) -> Response:
    opts = _options(api, req, table)
    cursor = read_cookie(req, table)
    phase, last = "rows", version
    until = api.store.current_version()
    if cursor is not None:
        state = cursor[1].get("delta", {})
        try:
            until, phase, last = int(state["until"]), state["phase"], int(state["last"])
        except (KeyError, ValueError):
            raise ODataError("The $skiptoken value is not a valid paging cookie for a delta read.") from None
    # Only what is left to serve: rows after the last one served (none once deletes are being served),
    # uncopied (they are only serialised). A page used to copy every change of the window again.
    rows, deletes = api.store.changes_since(table.logical_name, version, until, copy=False,
                                            rows_after=last if phase == "rows" else until)
    if phase != "rows":
        deletes = [(i, v) for i, v in deletes if v > last]
    changes: list[tuple[str, str, int, dict[str, Any] | None]] = [
        ("rows", r[table.primary_id], r["versionnumber"], r) for r in rows
    ] + [("deletes", i, v, None) for i, v in deletes]
    page, more = changes[: opts.page_size], len(changes) > opts.page_size
    page_rows = [row for _, _, _, row in page if row is not None]
    value = serialize_rows(api, principal, table, page_rows, opts)
    deleted_context = api.context(req, f"{table.entity_set_name}/$deletedEntity")
    value += [{"@odata.context": deleted_context, "id": i, "reason": "deleted"}
              for kind, i, _, _ in page if kind == "deletes"]
    body: dict[str, Any] = {"@odata.context": api.context(req, context_fragment(table, opts.select, []) + "/$delta")}
    if opts.count:  # the number of changes in the window, as GET <set>/$count?$deltatoken= gives [PA-CT]
        body["@odata.count"] = min(len(changes), api.config.count_cap)
    body["value"] = value
    if more:
        kind, last_id, last_version, _ = page[-1]
        skiptoken = make_skiptoken(
            (cursor[0].pagenumber + 1) if cursor else 2, table, last_id, page[0][1], istracking=True,
            extras={"delta": {"until": str(until), "phase": kind, "last": str(last_version)}},
        )
        body["@odata.nextLink"] = build_next_link(req.scheme_host, req.path, req.query_list, skiptoken)
    else:
        token = api.store.make_delta_token(until)
        body["@odata.deltaLink"] = build_delta_link(req.scheme_host, req.path, req.query.get("$select"), token)
        _remember_token(api, table, req, token)
    return Response.json(200, body, preference_applied({}, opts.applied), rows=len(value))

