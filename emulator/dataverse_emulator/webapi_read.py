"""Entity-set reads: collections (query options, paging, counts), single rows, ``$count``, WhoAmI and
RetrieveTotalRecordCount (reference §2.1, §3, §4).

Paging is stateless. Without ``$orderby`` rows come in primary-key order and the ``$skiptoken`` cookie
holds the last key returned, like Dataverse's. With ``$orderby`` the cookie also holds the last row's
sort values (one extra element per sort column, value as JSON) so the next page resumes after that
position even if the row changed meanwhile; Dataverse writes raw values there, the token is opaque.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote_plus
from xml.sax.saxutils import escape, unescape

from .defects import both, served_rows
from .http import Request, Response
from .odata.errors import ODataError
from .odata.filter import Expr, TableResolver, parse_filter
from .odata.key_range import key_seek
from .odata.options import (
    ExpandSpec,
    OrderBy,
    check_supported,
    check_top_limit,
    parse_count,
    parse_expand,
    parse_orderby,
    parse_select,
    parse_top,
    sort_key,
    sort_rows,
)
from .odata.paging import PagingCookie, build_next_link, decode_skiptoken, encode_skiptoken
from .schema import TableDef
from .webapi_metadata import ENTITY_NOT_FOUND
from .webapi_paths import collection_parameter, not_found_segment
from .webapi_rows import Annotations, RowSerializer, memoized, parse_annotations, serialize_row, wants

if TYPE_CHECKING:
    from .security import Principal
    from .webapi import WebApi
    from .webapi_paths import Target

TOTAL_COUNT = "Microsoft.Dynamics.CRM.totalrecordcount"
TOTAL_COUNT_EXCEEDED = "Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"
_PAGING_COOKIE = re.compile(r'pagingcookie="([^"]*)"')
_COOKIE_ELEMENT = re.compile(r"<([A-Za-z_]\w*)\s+([^<>]*?)/>")
_COOKIE_ATTR = re.compile(r'([A-Za-z_][\w-]*)\s*=\s*"([^"]*)"')


# --- request options ------------------------------------------------------------------------------


@dataclass
class ReadOptions:
    """The parsed query of an entity-set read."""

    select: list[str] | None = None  # wire names; None = every column
    filter: Expr | None = None
    orderby: list[OrderBy] = field(default_factory=list)
    top: int | None = None
    count: bool = False
    expand: list[ExpandSpec] = field(default_factory=list)
    annotations: Annotations = None
    page_size: int = 5000
    applied: list[str] = field(default_factory=list)  # Preference-Applied values, in request order


def parse_read_options(api: WebApi, req: Request, table: TableDef) -> ReadOptions:
    """Query options and preferences of a read; raises ODataError for what Dataverse refuses."""
    query = req.query
    check_supported(query)
    resolver = TableResolver(table, api.schema, api.store.find)
    opts = ReadOptions()
    if "$select" in query:
        opts.select = parse_select(query["$select"], resolver) or None
    if "$filter" in query:
        opts.filter = parse_filter(query["$filter"], resolver, query, api.filter_settings)
    if "$orderby" in query:
        opts.orderby = parse_orderby(query["$orderby"], resolver, query)
    if "$top" in query:
        opts.top = parse_top(query["$top"])
        check_top_limit(opts.top, api.config.max_top)
    if "$count" in query:
        opts.count = parse_count(query["$count"])
    if "$expand" in query:
        opts.expand = parse_expand(query["$expand"], resolver)
    apply_preferences(api, req, opts)
    return opts


def apply_preferences(api: WebApi, req: Request, opts: ReadOptions) -> None:
    """``odata.maxpagesize`` (default and ceiling ``config.max_page_size``; a larger or malformed value
    is ignored, as documented, and not echoed) and ``odata.include-annotations``."""
    opts.page_size = api.config.max_page_size
    for name, value in req.prefer.items():
        if name == "odata.maxpagesize":
            if value is not None and value.isdigit() and 0 < int(value) <= api.config.max_page_size:
                opts.page_size = int(value)
                opts.applied.append(f"odata.maxpagesize={value}")
        elif name == "odata.include-annotations" and value:
            opts.annotations = parse_annotations(value)
            opts.applied.append(f'odata.include-annotations="{value}"')


def preference_applied(headers: dict[str, str], applied: list[str]) -> dict[str, str]:
    """One ``Preference-Applied`` header listing every applied preference, comma-separated."""
    if applied:
        headers["Preference-Applied"] = ",".join(applied)
    return headers


def context_fragment(table: TableDef, select: list[str] | None, expand: list[ExpandSpec]) -> str:
    """``cdm_workers(cdm_workernumber,cdm_fullname)``; expansions as ``nav(select)``."""
    items = list(select or [])
    items += [f"{e.nav_property}({','.join(e.select)})" for e in expand]
    return f"{table.entity_set_name}({','.join(items)})" if items else table.entity_set_name


# --- paging cookie extras ---------------------------------------------------------------------------


def make_skiptoken(page: int, table: TableDef, last_id: str, first_id: str, *, istracking: bool = False,
                   extras: dict[str, dict[str, str]] | None = None) -> str:
    """Dataverse's ``$skiptoken`` cookie, with ``extras`` as additional elements before the
    primary-key element of the inner cookie (sort values, pinned versions)."""
    token = encode_skiptoken(page, table.primary_id, last_id, first_id, istracking=istracking)
    if not extras:
        return token
    m = _PAGING_COOKIE.search(token)
    assert m is not None  # encode_skiptoken always writes the attribute
    inner = unquote_plus(m.group(1))
    xml = "".join(
        f"<{name} " + " ".join(f'{k}="{_xml_attr(v)}"' for k, v in attrs.items()) + " />"
        for name, attrs in extras.items()
    )
    head, sep, tail = inner.partition(">")
    encoded = re.sub(r"%[0-9A-F]{2}", lambda e: e.group(0).lower(), quote(head + sep + xml + tail, safe="-_."))
    return token[: m.start(1)] + encoded + token[m.end(1):]


def _xml_attr(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def cookie_extras(token: str) -> dict[str, dict[str, str]]:
    """The extra elements of a decoded ``$skiptoken`` (everything but the primary-key element)."""
    m = _PAGING_COOKIE.search(token)
    if m is None:
        return {}
    elements = _COOKIE_ELEMENT.findall(unquote_plus(m.group(1)))[:-1]
    return {name: {k: unescape(v, {"&quot;": '"'}) for k, v in _COOKIE_ATTR.findall(attrs)}
            for name, attrs in elements}


def read_cookie(req: Request, table: TableDef) -> tuple[PagingCookie, dict[str, dict[str, str]]] | None:
    """The request's ``$skiptoken`` decoded, or None. A cookie for another table is refused."""
    raw = req.query.get("$skiptoken")
    if raw is None:
        return None
    cookie = decode_skiptoken(raw)
    if cookie.primary_key != table.primary_id:
        raise ODataError(f"The $skiptoken value is not a valid paging cookie for {table.entity_set_name}.")
    return cookie, cookie_extras(raw)


# --- handlers -------------------------------------------------------------------------------------


def whoami(api: WebApi, req: Request, principal: Principal) -> Response:
    return Response.json(200, {
        "@odata.context": api.context(req, "Microsoft.Dynamics.CRM.WhoAmIResponse"),
        "BusinessUnitId": principal.business_unit_id,
        "UserId": principal.user_id,
        "OrganizationId": principal.organization_id,
    })


def retrieve_total_record_count(api: WebApi, req: Request, principal: Principal, target: Target) -> Response:
    """``RetrieveTotalRecordCount(EntityNames=['a','b'])`` or ``(EntityNames=@p1)&@p1=[…]``. [PA-COUNT]
    The counts come from a snapshot (up to 24 h old on Dataverse; ``WebApi.record_count``)."""
    names = collection_parameter(req.query, target.params.get("EntityNames"), "EntityNames",
                                 "RetrieveTotalRecordCount")
    counts = []
    for name in names:
        table = api.schema.get(name) if isinstance(name, str) else None
        if table is None:
            raise ODataError(
                f"The entity with a name = '{name}' with namemapping = 'Logical' was not found in the MetadataCache.",
                status=404, code=ENTITY_NOT_FOUND,
            )
        denied = api.check_read(principal, table)
        if denied is not None:
            return denied
        counts.append(api.record_count(table.logical_name))
    return Response.json(200, {
        "@odata.context": api.context(req, "Microsoft.Dynamics.CRM.RetrieveTotalRecordCountResponse"),
        "EntityRecordCountCollection": {"Count": len(names), "IsReadOnly": False, "Keys": names, "Values": counts},
    })


def _readable(handler: Callable[..., Response]) -> Callable[[WebApi, Request, Principal, Target], Response]:
    """A handler of the target's table, called with it once the principal may read it (else the refusal)."""

    @wraps(handler)
    def checked(api: WebApi, req: Request, principal: Principal, target: Target) -> Response:
        table = target.table
        assert table is not None
        denied = api.check_read(principal, table)
        return denied if denied is not None else handler(api, req, principal, target, table)

    return checked


@_readable
def collection(api: WebApi, req: Request, principal: Principal, target: Target, table: TableDef) -> Response:
    if "$apply" in req.query:
        from .webapi_apply import apply_collection

        check_supported(req.query)
        return apply_collection(api, req, principal, target)
    if "fetchXml" in req.query:
        from .webapi_fetchxml import fetchxml_collection

        check_supported(req.query, known=())
        return fetchxml_collection(api, req, principal, target)
    opts = parse_read_options(api, req, table)
    denied = _check_expand_privileges(api, principal, opts.expand)
    if denied is not None:
        return denied
    cursor = read_cookie(req, table)
    page_size = opts.page_size
    if opts.top is not None and "odata.maxpagesize" not in req.prefer:
        page_size = min(opts.top, page_size)  # $top caps the result: one page, never a nextLink
    predicate = opts.filter.evaluate if opts.filter else None
    served = served_rows(api.store, api.config, table.logical_name)  # counts below ignore it on purpose
    if opts.orderby:
        rows, more = _ordered_page(api, table, opts.orderby, both(predicate, served), cursor, page_size)
    else:
        after = cursor[0].last_id if cursor else None
        seek = key_seek(opts.filter.text, table.primary_id) if opts.filter else None
        # A pure key range is answered by the seek alone: no row needs the compiled filter.
        rows = api.store.page(table.logical_name, after_id=after, limit=page_size + 1,
                              predicate=served if seek else both(predicate, served),
                              key_range=(seek.lowest, seek.highest) if seek else (None, None),
                              exclusive=(seek.lowest_exclusive, seek.highest_exclusive) if seek else (False, False),
                              copy=False)
        more = len(rows) > page_size
        rows = rows[:page_size]
    if opts.top is not None and "odata.maxpagesize" not in req.prefer:
        more = False
    body: dict[str, Any] = {"@odata.context": api.context(req, context_fragment(table, opts.select, opts.expand))}
    if opts.count or wants(opts.annotations, TOTAL_COUNT) or wants(opts.annotations, TOTAL_COUNT_EXCEEDED):
        total = _count(api, table, predicate) if opts.count else -1
        capped = min(total, api.config.count_cap)
        if opts.count:
            body["@odata.count"] = capped
        if wants(opts.annotations, TOTAL_COUNT):
            body[f"@{TOTAL_COUNT}"] = capped
        if wants(opts.annotations, TOTAL_COUNT_EXCEEDED):
            body[f"@{TOTAL_COUNT_EXCEEDED}"] = total > api.config.count_cap
    body["value"] = serialize_rows(api, principal, table, rows, opts)
    if more and rows:
        page = cursor[0].pagenumber + 1 if cursor else 2
        extras = _sort_extras(opts.orderby, rows[-1]) if opts.orderby else None
        token = make_skiptoken(page, table, rows[-1][table.primary_id], rows[0][table.primary_id], extras=extras)
        body["@odata.nextLink"] = build_next_link(req.scheme_host, req.path, req.query_list, token)
    headers = preference_applied({}, opts.applied)
    return Response.json(200, body, headers, rows=len(rows))


def serialize_rows(api: WebApi, principal: Principal, table: TableDef, rows: list[dict[str, Any]],
                   opts: ReadOptions) -> list[dict[str, Any]]:
    hidden = api.security.hidden_columns(principal, table.logical_name)
    hidden_by_target = {e.target: api.security.hidden_columns(principal, e.target) for e in opts.expand}
    serialize = RowSerializer(table, select=opts.select, annotations=opts.annotations, hidden=hidden,
                              resolve_name=memoized(api.primary_name))
    if not opts.expand:
        return serialize.many(rows)
    out = []
    for row in rows:
        item = serialize(row)
        for spec in opts.expand:
            item[spec.nav_property] = _expanded(api, spec, row, opts.annotations, hidden_by_target[spec.target])
        out.append(item)
    return out


def _expanded(api: WebApi, spec: ExpandSpec, row: dict[str, Any], annotations: Annotations,
              hidden: set[str]) -> dict[str, Any] | None:
    target = api.schema.get(spec.target)
    target_id = row.get(spec.lookup)
    related = api.store.get(spec.target, target_id) if target is not None and target_id else None
    if related is None:
        return None
    return serialize_row(target, related, select=spec.select or None, annotations=annotations, hidden=hidden,
                         schema=api.schema, resolve_name=api.primary_name)


def _check_expand_privileges(api: WebApi, principal: Principal, expand: list[ExpandSpec]) -> Response | None:
    for spec in expand:
        target = api.schema.get(spec.target)
        denied = api.check_read(principal, target) if target is not None else None
        if denied is not None:
            return denied
    return None


def _count(api: WebApi, table: TableDef, predicate: Any) -> int:
    if predicate is None:
        return api.store.count(table.logical_name)
    return sum(1 for row in api.store.iter_rows(table.logical_name) if predicate(row))


def _sort_extras(orderby: list[OrderBy], row: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {o.key: {"last": json.dumps(row.get(o.key))} for o in orderby}


def _ordered_page(api: WebApi, table: TableDef, orderby: list[OrderBy], predicate: Any,
                  cursor: tuple[PagingCookie, dict[str, dict[str, str]]] | None, page_size: int
                  ) -> tuple[list[dict[str, Any]], bool]:
    """One page of rows sorted by ``orderby`` then primary key, resuming after the cookie's position."""
    rows = [r for r in api.store.iter_rows(table.logical_name) if predicate is None or predicate(r)]
    rows = sort_rows(rows, orderby, table.primary_id)
    if cursor is not None:
        cookie, extras = cursor
        try:
            last = [json.loads(extras[o.key]["last"]) for o in orderby]
        except (KeyError, ValueError):
            raise ODataError("The $skiptoken value does not match the $orderby of the request.") from None
        position = [*zip(orderby, last, strict=True), (OrderBy(table.primary_id, False), cookie.last_id)]
        rows = [r for r in rows if _after(r, position)]
    page = [dict(r) for r in rows[: page_size]]
    return page, len(rows) > page_size


def _after(row: dict[str, Any], position: list[tuple[OrderBy, Any]]) -> bool:
    """Whether ``row`` sorts strictly after the cursor position."""
    for order, value in position:
        a, b = sort_key(row.get(order.key)), sort_key(value)
        if a != b:
            return (a > b) != order.descending
    return False


@_readable
def entity(api: WebApi, req: Request, principal: Principal, target: Target, table: TableDef) -> Response:
    """One row by GUID or alternate key, optionally one property of it (``/<property>``)."""
    query = req.query
    check_supported(query)
    for option in ("$filter", "$orderby", "$top", "$count", "$skiptoken", "$deltatoken", "$apply", "fetchXml"):
        if option in query:
            # UNCONFIRMED wording: these options do not apply to a single entity.
            raise ODataError(f"The query parameter '{option}' is not allowed on a single record.")
    resolver = TableResolver(table, api.schema, api.store.find)
    opts = ReadOptions()
    if "$select" in query:
        opts.select = parse_select(query["$select"], resolver) or None
    if "$expand" in query:
        opts.expand = parse_expand(query["$expand"], resolver)
    apply_preferences(api, req, opts)
    denied = _check_expand_privileges(api, principal, opts.expand)
    if denied is not None:
        return denied
    row = api.find_row(table, target)
    if row is None:
        return api.row_not_found(table, target)
    if target.sub:
        return _property(api, req, principal, table, row, target.sub)
    item = serialize_rows(api, principal, table, [row], opts)[0]
    # Conditional GET (never with $expand or annotations). [PA-COND]
    if not opts.expand and opts.annotations is None and req.headers.get("If-None-Match") == item["@odata.etag"]:
        return Response.empty(304, {"ETag": item["@odata.etag"]})
    body = {"@odata.context": api.context(req, context_fragment(table, opts.select, opts.expand) + "/$entity"),
            **item}
    return Response.json(200, body, preference_applied({"ETag": item["@odata.etag"]}, opts.applied), rows=1)


def _property(api: WebApi, req: Request, principal: Principal, table: TableDef, row: dict[str, Any],
              sub: str) -> Response:
    attr = table.attribute_for_wire(sub)
    if attr is None:
        raise not_found_segment(sub.split("/", 1)[0])
    item = serialize_row(table, row, select=[sub], annotations=None,
                         hidden=api.security.hidden_columns(principal, table.logical_name), schema=api.schema)
    context = api.context(req, f"{table.entity_set_name}({row[table.primary_id]})/{sub}")
    return Response.json(200, {"@odata.context": context, "value": item[sub]}, rows=1)


@_readable
def count(api: WebApi, req: Request, principal: Principal, target: Target, table: TableDef) -> Response:
    """``<set>/$count``: a bare number as text/plain, capped like ``@odata.count``. [PA-COUNT]"""
    query = req.query
    check_supported(query, known=("$filter", "$deltatoken"))
    predicate = None
    if "$filter" in query:
        predicate = parse_filter(query["$filter"], TableResolver(table, api.schema, api.store.find), query, api.filter_settings).evaluate
    total = min(_count(api, table, predicate), api.config.count_cap)
    return Response.text(200, str(total), content_type="text/plain")
