"""Response shaping the client asks for with headers, applied after a handler answered:

- ``Accept: application/json;odata.metadata=none|minimal|full`` (OData JSON format §3.1). ``none`` drops
  control information (``@odata.context``, ``@odata.etag``, ``@odata.type``) but keeps paging, delta and
  count members; ``full`` adds ``@odata.type``, ``@odata.id`` and ``@odata.editLink`` to every row of an
  entity set. The Content-Type echoes the level. Any other value is refused with 406.
- Error annotations: with ``Prefer: odata.include-annotations`` naming them (or ``*``), an error body
  carries ``@Microsoft.PowerApps.CDS.ErrorDetails.OperationStatus``, ``…SubErrorCode``, ``…HelpLink``
  and ``…InnerError.Message`` next to ``code`` and ``message``. [PA-HDR] Their values for emulated errors
  are UNCONFIRMED (TraceText, which only plug-ins write, is never sent).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .http import Request, Response, dump_json
from .odata.errors import ODataError
from .webapi_rows import parse_annotations, wants

if TYPE_CHECKING:
    from .schema import TableDef
    from .webapi import WebApi

LEVELS = ("none", "minimal", "full")
_METADATA = re.compile(r"odata\.metadata=([A-Za-z]+)", re.I)
_CONTROL = ("@odata.context", "@odata.etag", "@odata.type", "@odata.id", "@odata.editLink")
ERROR_TERMS = (
    "Microsoft.PowerApps.CDS.ErrorDetails.OperationStatus", "Microsoft.PowerApps.CDS.ErrorDetails.SubErrorCode",
    "Microsoft.PowerApps.CDS.HelpLink", "Microsoft.PowerApps.CDS.InnerError.Message",
)
_SUB_ERROR_CODE = "-2146233088"  # the value the documented example shows (UNCONFIRMED for other errors)


def metadata_level(req: Request) -> str:
    """The ``odata.metadata`` parameter of the JSON media type in ``Accept`` (default minimal)."""
    for part in (req.headers.get("Accept") or "").split(","):
        m = _METADATA.search(part)
        if m is not None and "json" in part.lower():
            level = m.group(1).lower()
            if level not in LEVELS:
                raise ODataError(
                    f"A supported MIME type could not be found that matches the acceptable MIME types for the "
                    f"request. The supported type(s) 'application/json;odata.metadata={', '.join(LEVELS)}' do "
                    f"not match any of the acceptable MIME types '{part.strip()}'.", status=406)
            return level
    return "minimal"


def shape(api: WebApi, req: Request, resp: Response, table: TableDef | None) -> Response:
    """Apply the metadata level and the error annotations to a JSON response."""
    content_type = resp.headers.get("Content-Type") or ""
    if not content_type.startswith("application/json") or not resp.body:
        return resp
    level = metadata_level(req)
    annotations = parse_annotations(req.prefer.get("odata.include-annotations"))
    error_terms = [t for t in ERROR_TERMS if wants(annotations, t)] if resp.status >= 400 else []
    if level == "minimal" and not error_terms:
        return resp
    payload = json.loads(resp.body)
    if error_terms and isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        _annotate_error(payload["error"], error_terms)
    if resp.status < 400:
        if level == "none":
            payload = _strip(payload)
        elif level == "full" and table is not None:
            _full(api, req, payload, table)
        resp.headers.set("Content-Type", f"application/json; odata.metadata={level}")
    resp.body = dump_json(payload)
    return resp


def _annotate_error(error: dict[str, Any], terms: list[str]) -> None:
    code = str(error.get("code") or "")
    values = {
        ERROR_TERMS[0]: "0",
        ERROR_TERMS[1]: _SUB_ERROR_CODE,
        ERROR_TERMS[2]: ("http://go.microsoft.com/fwlink/?LinkID=398563&error=Microsoft.Crm.CrmException"
                         f"{quote(':' + code.removeprefix('0x'), safe='')}&client=platform"),
        ERROR_TERMS[3]: error.get("message", ""),
    }
    for term in terms:
        error[f"@{term}"] = values[term]


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _CONTROL and "@odata.type" not in k}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _full(api: WebApi, req: Request, payload: dict[str, Any], table: TableDef) -> None:
    rows = payload.get("value") if isinstance(payload.get("value"), list) else [payload]
    for row in rows:
        if isinstance(row, dict) and table.primary_id in row:
            link = f"{table.entity_set_name}({row[table.primary_id]})"
            control = {"@odata.type": f"#Microsoft.Dynamics.CRM.{table.logical_name}",
                       "@odata.id": f"{api.root(req)}/{link}", "@odata.editLink": link}
            rest = dict(row)
            row.clear()
            # Control information leads the row: context (single row), type, id, etag, editLink.
            if "@odata.context" in rest:
                row["@odata.context"] = rest.pop("@odata.context")
            row.update(control)
            row.update(rest)
