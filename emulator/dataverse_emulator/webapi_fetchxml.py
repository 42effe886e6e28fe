"""``GET <set>?fetchXml=<fetch>…</fetch>``: the simple FetchXML queries HR integrations send — one
``<entity>`` with ``<attribute>``/``<all-attributes>``, ``<order>``, nested ``<filter>``/``<condition>``,
``top`` or ``count``+``page`` paging with the paging cookie, and ``aggregate="true"`` queries.
``<link-entity>``, ``distinct`` and operators outside ``OPERATORS`` are refused (501), not ignored.

Paging: a page holds ``count`` rows (default 5000). With ``Prefer: odata.include-annotations`` naming them,
the response carries ``@Microsoft.Dynamics.CRM.morerecords`` and, when more rows exist,
``@Microsoft.Dynamics.CRM.fetchxmlpagingcookie`` — ``<cookie pagenumber="2" pagingcookie="…" istracking="False" />``
whose ``pagingcookie`` is the inner cookie URL-encoded twice, as Dataverse sends it. The client puts the
decoded inner cookie into ``paging-cookie`` and raises ``page``; without a cookie, ``page`` alone pages
by position.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .guid_order import sql_guid_key
from .http import Request, Response
from .odata.apply import Aggregate, ApplyPlan, check_limit, evaluate
from .odata.errors import ODataError
from .odata.options import OrderBy, sort_rows
from .schema import (
    BIGINT,
    BOOLEAN,
    DATETIME,
    DECIMAL,
    DOUBLE,
    INTEGER,
    LOOKUP,
    MONEY,
    PICKLIST,
    STATE,
    STATUS,
    UNIQUEIDENTIFIER,
    AttributeDef,
    TableDef,
)
from .webapi_rows import RowSerializer, memoized, parse_annotations, wants, wire_value

if TYPE_CHECKING:
    from .security import Principal
    from .webapi import WebApi
    from .webapi_paths import Target

PAGING_COOKIE = "Microsoft.Dynamics.CRM.fetchxmlpagingcookie"
MORE_RECORDS = "Microsoft.Dynamics.CRM.morerecords"
# Dataverse's QueryBuilderNoAttribute (seen in public issue logs).
NO_ATTRIBUTE = "0x80041103"
NOT_IMPLEMENTED = 501
OPERATORS = ("eq", "ne", "neq", "gt", "ge", "lt", "le", "like", "not-like", "begins-with", "not-begin-with",
             "ends-with", "not-end-with", "in", "not-in", "between", "not-between", "null", "not-null",
             "on", "on-or-after", "on-or-before", "last-x-days")
FETCH_AGGREGATES = {"count": "$count", "countcolumn": "countcolumn", "sum": "sum", "avg": "average",
                    "min": "min", "max": "max"}
_NUMERIC = {INTEGER, BIGINT, DECIMAL, DOUBLE, MONEY, PICKLIST, STATE, STATUS}
_INNER_COOKIE = re.compile(r'<cookie\s+page="(\d+)"\s*>\s*<(\w+)\s+last="\{?([0-9A-Fa-f-]{36})\}?"')


def _not_implemented(what: str) -> ODataError:
    return ODataError(f"The emulator does not implement {what} in fetchXml.", status=NOT_IMPLEMENTED)


def _no_attribute(table: TableDef, name: str) -> ODataError:
    return ODataError(f"'{table.logical_name}' entity doesn't contain attribute with Name = '{name}' and "
                      "NameMapping = 'Logical'.", code=NO_ATTRIBUTE)


def fetchxml_collection(api: WebApi, req: Request, principal: Principal, target: Target) -> Response:
    table = target.table
    assert table is not None
    try:
        fetch = ET.fromstring(req.query["fetchXml"])
    except ET.ParseError as exc:
        raise ODataError(f"The fetchXml parameter is not valid XML: {exc}.") from None
    entity = _entity(fetch, table)
    clock_now = api.app.clock.now()
    predicate = _filters(entity, table, clock_now)
    rows = [r for r in api.store.iter_rows(table.logical_name) if predicate(r)]
    hidden = api.security.hidden_columns(principal, table.logical_name)
    if hidden:
        rows = [{k: v for k, v in r.items() if k not in hidden} for r in rows]
    annotations = parse_annotations(req.prefer.get("odata.include-annotations"))
    headers: dict[str, str] = {}
    if annotations is not None:
        headers["Preference-Applied"] = f'odata.include-annotations="{req.prefer["odata.include-annotations"]}"'
    if fetch.get("aggregate", "false").lower() == "true":
        check_limit(len(rows), api.config.aggregate_record_limit)
        plan = _aggregate_plan(entity, table)
        value = evaluate(plan, rows, lambda key, v: wire_value(table.attributes[key], v))
        context = api.context(req, f"{table.entity_set_name}({','.join(plan.output_names)})")
        return Response.json(200, {"@odata.context": context, "value": value}, headers, rows=len(value))

    select = _select(entity, table)
    orders = _orders(entity, table)
    if orders:
        rows = sort_rows(rows, orders, table.primary_id)
    top, size, page = _paging(fetch)
    more = False
    if top is not None:
        rows = rows[:top]
    else:
        start = _resume(fetch, table, rows, page, size, ordered=bool(orders))
        more = len(rows) > start + size
        rows = rows[start:start + size]
    serialize = RowSerializer(table, select=select, annotations=annotations, hidden=hidden,
                              resolve_name=memoized(api.primary_name))
    items = [serialize(r) for r in rows]
    body: dict[str, Any] = {"@odata.context": api.context(req, table.entity_set_name + (f"({','.join(select)})" if select else ""))}
    if more and rows and wants(annotations, PAGING_COOKIE):
        body[f"@{PAGING_COOKIE}"] = _cookie(table, page, rows[-1][table.primary_id], rows[0][table.primary_id])
    if wants(annotations, MORE_RECORDS):
        body[f"@{MORE_RECORDS}"] = more
    body["value"] = items
    return Response.json(200, body, headers, rows=len(items))


def _entity(fetch: ET.Element, table: TableDef) -> ET.Element:
    if fetch.tag != "fetch":
        raise ODataError(f"The fetchXml root element must be <fetch>, not <{fetch.tag}>.")
    if fetch.get("distinct", "false").lower() == "true":
        raise _not_implemented("distinct=\"true\"")
    entities = fetch.findall("entity")
    if len(entities) != 1:
        raise ODataError("The fetchXml must contain exactly one <entity> element.")
    entity = entities[0]
    if entity.get("name") != table.logical_name:
        # UNCONFIRMED wording; the entity in the fetchXml must be the one the entity set holds.
        raise ODataError(f"The entity '{entity.get('name')}' in the fetchXml does not match the entity set "
                         f"'{table.entity_set_name}' ('{table.logical_name}').")
    if entity.find(".//link-entity") is not None:
        raise _not_implemented("<link-entity>")
    return entity


def _attr(table: TableDef, name: str | None) -> AttributeDef:
    attr = table.attributes.get(name or "")
    if attr is None:
        raise _no_attribute(table, name or "")
    return attr


def _select(entity: ET.Element, table: TableDef) -> list[str] | None:
    """Wire names of the ``<attribute>`` elements; ``<all-attributes>`` = every column. UNCONFIRMED: with
    neither, only the primary key comes back."""
    if entity.find("all-attributes") is not None:
        return None
    names = []
    for element in entity.findall("attribute"):
        if element.get("alias") or element.get("aggregate"):
            raise ODataError("Attribute aliases and aggregates need aggregate=\"true\" on <fetch>.")
        wire = table.wire_name(_attr(table, element.get("name")))
        if wire not in names:
            names.append(wire)
    return names or [table.primary_id]


def _orders(entity: ET.Element, table: TableDef) -> list[OrderBy]:
    return [OrderBy(_attr(table, o.get("attribute")).logical_name, o.get("descending", "false").lower() == "true")
            for o in entity.findall("order")]


def _paging(fetch: ET.Element) -> tuple[int | None, int, int]:
    def number(name: str) -> int | None:
        raw = fetch.get(name)
        if raw is None:
            return None
        if not raw.isdigit() or int(raw) < 1:
            raise ODataError(f"The fetch attribute '{name}' must be a positive integer, got '{raw}'.")
        return int(raw)

    top, count, page = number("top"), number("count"), number("page")
    if top is not None and (count is not None or page is not None):
        # Dataverse refuses top together with paging (wording UNCONFIRMED).
        raise ODataError("The fetch attribute 'top' cannot be used together with 'count' or 'page'.")
    if top is not None and top > 5000:
        raise ODataError("The fetch attribute 'top' cannot be greater than 5000.")
    return top, min(count or 5000, 5000), page or 1


def _resume(fetch: ET.Element, table: TableDef, rows: list[dict[str, Any]], page: int, size: int, *,
            ordered: bool) -> int:
    """Index of the first row of ``page``: after the cookie's last key (primary-key order only), else by
    position."""
    cookie = fetch.get("paging-cookie")
    if cookie and not ordered and page > 1:
        m = _INNER_COOKIE.search(cookie)
        if m is None or m.group(2) != table.primary_id:
            raise ODataError("The paging-cookie of the fetchXml is not valid for this entity.")
        last = sql_guid_key(m.group(3).lower())
        return next((i for i, r in enumerate(rows) if sql_guid_key(r[table.primary_id]) > last), len(rows))
    return (page - 1) * size


def _lower_escapes(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(text, safe="-_."))


def _cookie(table: TableDef, page: int, last_id: str, first_id: str) -> str:
    inner = (f'<cookie page="{page}"><{table.primary_id} last="{{{last_id.upper()}}}" '
             f'first="{{{first_id.upper()}}}" /></cookie>')
    return f'<cookie pagenumber="{page + 1}" pagingcookie="{_lower_escapes(_lower_escapes(inner))}" istracking="False" />'


# --- filters ---------------------------------------------------------------------------------------

Row = dict[str, Any]


def _filters(entity: ET.Element, table: TableDef, now: datetime) -> Callable[[Row], bool]:
    tests = [_filter(f, table, now) for f in entity.findall("filter")]
    return lambda row: all(t(row) for t in tests)


def _filter(element: ET.Element, table: TableDef, now: datetime) -> Callable[[Row], bool]:
    kind = element.get("type", "and").lower()
    if kind not in ("and", "or"):
        raise ODataError(f"The filter type '{kind}' is not valid; use 'and' or 'or'.")
    tests = []
    for child in element:
        if child.tag == "condition":
            tests.append(_condition(child, table, now))
        elif child.tag == "filter":
            tests.append(_filter(child, table, now))
        else:
            raise ODataError(f"The element <{child.tag}> is not valid inside <filter>.")
    if kind == "and":
        return lambda row: all(t(row) for t in tests)
    return lambda row: any(t(row) for t in tests)


def _typed(attr: AttributeDef, raw: str) -> Any:
    """A condition value as comparable Python (strings case-folded, GUIDs bare lower case)."""
    kind = attr.attribute_type
    try:
        if kind in _NUMERIC:
            return float(raw)
        if kind == BOOLEAN:
            return raw.strip().lower() in ("1", "true")
        if kind in (LOOKUP, UNIQUEIDENTIFIER):
            return raw.strip().strip("{}").lower()
        if kind == DATETIME:
            return _as_datetime(raw)
    except ValueError:
        raise ODataError(f"The value '{raw}' is not valid for attribute '{attr.logical_name}' of type {kind}.") from None
    return raw.lower()


def _as_datetime(value: Any) -> datetime:
    text = str(value).strip()
    if len(text) == 10:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _row_value(attr: AttributeDef, value: Any) -> Any:
    if value is None:
        return None
    kind = attr.attribute_type
    if kind in _NUMERIC:
        return float(value)
    if kind == BOOLEAN:
        return bool(value)
    if kind == DATETIME:
        return _as_datetime(value)
    return str(value).lower()


def _like(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.lower().split("%")) + "$", re.S)


def _condition(element: ET.Element, table: TableDef, now: datetime) -> Callable[[Row], bool]:
    if element.get("entityname"):
        raise _not_implemented("conditions on linked entities")
    attr = _attr(table, element.get("attribute"))
    op = element.get("operator", "")
    if op not in OPERATORS:
        raise _not_implemented(f"the condition operator '{op}'")
    key = attr.logical_name
    values = [v.text or "" for v in element.findall("value")]
    if element.get("value") is not None:
        values.insert(0, element.get("value") or "")

    def get(row: Row) -> Any:
        return _row_value(attr, row.get(key))

    if op in ("null", "not-null"):
        return (lambda row: get(row) is None) if op == "null" else (lambda row: get(row) is not None)
    if not values:
        raise ODataError(f"The condition operator '{op}' on '{key}' needs a value.")
    if op in ("on", "on-or-after", "on-or-before", "last-x-days"):
        if attr.attribute_type != DATETIME:
            raise ODataError(f"The condition operator '{op}' needs a date-time attribute, not '{key}'.")
        return _date_condition(op, key, values[0], now)
    if op in ("like", "not-like", "begins-with", "not-begin-with", "ends-with", "not-end-with"):
        text = values[0]
        pattern = _like({"begins-with": f"{text}%", "not-begin-with": f"{text}%", "ends-with": f"%{text}",
                         "not-end-with": f"%{text}"}.get(op, text))
        negate = op.startswith("not-")
        return lambda row: (v := row.get(key)) is not None and bool(pattern.match(str(v).lower())) != negate
    typed = [_typed(attr, v) for v in values]
    if op in ("in", "not-in"):
        wanted = set(typed)
        return lambda row: (v := get(row)) is not None and (v in wanted) == (op == "in")
    if op in ("between", "not-between"):
        if len(typed) != 2:
            raise ODataError(f"The condition operator '{op}' needs exactly two values.")
        lo, hi = typed
        return lambda row: (v := get(row)) is not None and (lo <= v <= hi) == (op == "between")
    value = typed[0]
    compare = {"eq": lambda a: a == value, "ne": lambda a: a != value, "neq": lambda a: a != value,
               "gt": lambda a: a > value, "ge": lambda a: a >= value, "lt": lambda a: a < value,
               "le": lambda a: a <= value}[op]
    return lambda row: (v := get(row)) is not None and compare(v)


def _date_condition(op: str, key: str, raw: str, now: datetime) -> Callable[[Row], bool]:
    """Day-granular date operators in UTC (the emulator's users sit in UTC)."""
    if op == "last-x-days":
        if not raw.strip().isdigit():
            raise ODataError(f"The condition operator 'last-x-days' needs a whole number of days, got '{raw}'.")
        start = datetime.combine(now.date() - timedelta(days=int(raw)), datetime.min.time(), UTC)
        return lambda row: (v := row.get(key)) is not None and start <= _as_datetime(v) <= now
    try:
        day = date.fromisoformat(raw.strip()[:10])
    except ValueError:
        raise ODataError(f"The value '{raw}' is not a valid date for operator '{op}'.") from None

    def on_day(row: Row) -> date | None:
        v = row.get(key)
        return None if v is None else _as_datetime(v).date()

    tests = {"on": lambda d: d == day, "on-or-after": lambda d: d >= day, "on-or-before": lambda d: d <= day}
    test = tests[op]
    return lambda row: (d := on_day(row)) is not None and test(d)


# --- aggregates ------------------------------------------------------------------------------------


def _aggregate_plan(entity: ET.Element, table: TableDef) -> ApplyPlan:
    plan = ApplyPlan()
    if entity.find("all-attributes") is not None or entity.find("order") is not None:
        raise _not_implemented("<all-attributes> or <order> in an aggregate query")
    for element in entity.findall("attribute"):
        attr = _attr(table, element.get("name"))
        alias = element.get("alias")
        if not alias:
            raise ODataError(f"The attribute '{attr.logical_name}' of an aggregate query needs an alias.")
        if element.get("groupby", "").lower() == "true":
            if element.get("dategrouping"):
                raise _not_implemented("dategrouping")
            plan.group_wire.append(alias)
            plan.group_keys.append(attr.logical_name)
            continue
        method = FETCH_AGGREGATES.get(element.get("aggregate", ""))
        if method is None:
            raise ODataError(f"The aggregate '{element.get('aggregate')}' of attribute '{attr.logical_name}' is "
                             f"not valid; use one of {', '.join(FETCH_AGGREGATES)}.")
        if method == "countcolumn" and element.get("distinct", "").lower() == "true":
            method = "countdistinct"
        plan.aggregates.append(Aggregate(alias, method, None if method == "$count" else attr.logical_name))
    if not plan.aggregates and not plan.group_wire:
        raise ODataError("An aggregate query needs at least one attribute with aggregate= or groupby=.")
    return plan

