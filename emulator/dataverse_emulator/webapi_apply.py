"""``GET <set>?$apply=…``: grouped and aggregated reads (odata/apply.py), with ``$filter`` before and
``$orderby``/``$top`` after the aggregation. Never paged. Secured columns the caller cannot read are
aggregated as null, the way they read. Group values of choice columns get their FormattedValue when
annotations are asked for."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .http import Request, Response
from .odata.apply import check_limit, evaluate, parse_apply
from .odata.errors import ODataError
from .odata.filter import TableResolver, parse_filter
from .odata.options import check_top_limit, parse_top, sort_key
from .webapi_rows import FORMATTED, parse_annotations, wants, wire_value

if TYPE_CHECKING:
    from .security import Principal
    from .webapi import WebApi
    from .webapi_paths import Target

REFUSED_WITH_APPLY = ("$select", "$expand", "$skiptoken", "$count", "fetchXml")


def apply_collection(api: WebApi, req: Request, principal: Principal, target: Target) -> Response:
    table = target.table
    assert table is not None
    query = req.query
    for option in REFUSED_WITH_APPLY:
        if option in query:
            raise ODataError(f"The query parameter '{option}' cannot be combined with $apply in the emulator.")
    resolver = TableResolver(table, api.schema, api.store.find)
    plan = parse_apply(query["$apply"], resolver, query, api.filter_settings)
    pre = parse_filter(query["$filter"], resolver, query, api.filter_settings) if "$filter" in query else None
    hidden = api.security.hidden_columns(principal, table.logical_name)
    rows = [r for r in api.store.iter_rows(table.logical_name)
            if (pre is None or pre.evaluate(r)) and (plan.filter is None or plan.filter.evaluate(r))]
    check_limit(len(rows), api.config.aggregate_record_limit)
    if hidden:
        rows = [{k: v for k, v in r.items() if k not in hidden} for r in rows]

    def to_wire(key: str, value: Any) -> Any:
        return wire_value(table.attributes[key], value)

    value = evaluate(plan, rows, to_wire)
    if "$orderby" in query:
        value = _order(value, query["$orderby"], plan.output_names, table.logical_name)
    if "$top" in query:
        top = parse_top(query["$top"])
        check_top_limit(top, api.config.max_top)
        value = value[:top]
    annotations = parse_annotations(req.prefer.get("odata.include-annotations"))
    if wants(annotations, FORMATTED):
        for item in value:
            for wire, key in zip(plan.group_wire, plan.group_keys, strict=True):
                label = table.option_label(key, item[wire]) if table.attributes[key].options else None
                if label is not None:
                    item[f"{wire}@{FORMATTED}"] = label
    headers: dict[str, str] = {}
    if annotations is not None:
        headers["Preference-Applied"] = f'odata.include-annotations="{req.prefer["odata.include-annotations"]}"'
    context = api.context(req, f"{table.entity_set_name}({','.join(plan.output_names)})")
    return Response.json(200, {"@odata.context": context, "value": value}, headers, rows=len(value))


def _order(value: list[dict[str, Any]], text: str, names: list[str], entity: str) -> list[dict[str, Any]]:
    """``$orderby`` over the aggregated output (group properties and aliases)."""
    keys: list[tuple[str, bool]] = []
    for item in text.split(","):
        words = item.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise ODataError(f"Syntax error in $orderby at '{item}'.")
        if words[0] not in names:
            raise ODataError(f"Could not find a property named '{words[0]}' on type 'Microsoft.Dynamics.CRM.{entity}'.")
        keys.append((words[0], len(words) == 2 and words[1] == "desc"))
    for name, descending in reversed(keys):
        value.sort(key=lambda row, n=name: sort_key(row.get(n)), reverse=descending)
    return value
