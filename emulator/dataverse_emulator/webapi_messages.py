"""``GET sdkmessagefilters``: which tables support which SDK messages, the documented way to test for
``CreateMultiple``/``UpdateMultiple``/``UpsertMultiple`` support (reference §7.4):

    sdkmessagefilters?$select=sdkmessagefilterid&$expand=sdkmessageid($select=name)
        &$filter=sdkmessageid/name eq 'CreateMultiple' and primaryobjecttypecode eq 'cdm_worker'

Read-only, never paged; one row per emulated table and bulk message it accepts (``TableDef.bulk_messages``).
``$select``, ``$filter`` (also on ``sdkmessageid/name``, with parameter aliases) and
``$expand=sdkmessageid($select=name)`` are served; other options are refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import stable_uuid
from .http import Request, Response
from .odata.errors import ODataError, unknown_property
from .odata.filter import DictResolver, parse_filter
from .odata.options import check_supported
from .schema import STRING, UNIQUEIDENTIFIER

if TYPE_CHECKING:
    from .webapi import WebApi

ENTITY = "sdkmessagefilter"
COLUMNS = {"sdkmessagefilterid": UNIQUEIDENTIFIER, "primaryobjecttypecode": STRING, "sdkmessageid/name": STRING,
           "_sdkmessageid_value": UNIQUEIDENTIFIER}


def _rows(api: WebApi) -> list[dict[str, Any]]:
    rows = []
    for table in api.schema.values():
        for message in sorted(table.bulk_messages):
            rows.append({
                "sdkmessagefilterid": stable_uuid(api.config.seed, f"sdkmessagefilter:{table.logical_name}.{message}"),
                "primaryobjecttypecode": table.logical_name,
                "_sdkmessageid_value": stable_uuid(api.config.seed, f"sdkmessage:{message}"),
                "sdkmessageid": {"sdkmessageid": stable_uuid(api.config.seed, f"sdkmessage:{message}"), "name": message},
            })
    return rows


def sdk_message_filters(api: WebApi, req: Request) -> Response:
    query = req.query
    check_supported(query, known=("$select", "$filter", "$expand"))
    rows = _rows(api)
    if "$filter" in query:
        expr = parse_filter(query["$filter"], DictResolver(COLUMNS, ENTITY), query)
        rows = [r for r in rows if expr.evaluate({**r, "sdkmessageid/name": r["sdkmessageid"]["name"]})]
    select = [n.strip() for n in query.get("$select", "").split(",") if n.strip()]
    for name in select:
        if name not in COLUMNS or "/" in name:
            raise unknown_property(name, ENTITY)
    expand = query.get("$expand")
    expand_select: list[str] | None = None
    if expand is not None:
        head, _, nested = expand.partition("(")
        if head.strip() != "sdkmessageid":
            raise unknown_property(head.strip(), ENTITY)
        if nested:
            key, _, value = nested.rstrip(")").partition("=")
            if key.strip() != "$select":
                raise ODataError(f"The query option '{key.strip()}' is not supported inside $expand of sdkmessageid.")
            expand_select = [v.strip() for v in value.split(",") if v.strip()]
            for name in expand_select:
                if name not in ("name", "sdkmessageid"):
                    raise unknown_property(name, "sdkmessage")
    value = []
    for row in rows:
        item: dict[str, Any] = {"@odata.etag": 'W/"1"'}
        for name in select or ["sdkmessagefilterid", "primaryobjecttypecode", "_sdkmessageid_value"]:
            item[name] = row[name]
        item["sdkmessagefilterid"] = row["sdkmessagefilterid"]
        if expand is not None:
            message = row["sdkmessageid"]
            item["sdkmessageid"] = {"@odata.etag": 'W/"1"', **{k: message[k] for k in (expand_select or message)},
                                    "sdkmessageid": message["sdkmessageid"]}
        value.append(item)
    fragment = "sdkmessagefilters" + (f"({','.join(select)})" if select else "")
    return Response.json(200, {"@odata.context": api.context(req, fragment), "value": value}, rows=len(value))
