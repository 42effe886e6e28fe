"""Resource paths of the Dataverse Web API (the part after ``/api/data/v9.2/``) parsed into a ``Target``.

Kinds: ``service_document``, ``metadata``, ``batch``, ``whoami``, ``retrieve_total_record_count``,
``entity_definitions``, ``sdk_message_filters``, ``collection``, ``entity``, ``count``, ``bound_action``,
``user_function``.
Paths arrive percent-decoded, so splitting respects quotes (``(k='a/b')``) and parentheses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .odata.errors import ODataError
from .schema import BULK_MESSAGES, TableDef

API_VERSIONS = ("v9.2", "v9.1", "v9.0")  # v9.0/v9.1 are served as aliases of v9.2
ACTION_NAMESPACE = "Microsoft.Dynamics.CRM."
USER_FUNCTIONS = ("RetrieveUserSetOfPrivilegesByNames",)  # functions bound to systemuser the emulator answers
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_INT_RE = re.compile(r"^[+-]?\d+$")
_NUMBER_RE = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?[mMdDfF]?$")
_SEGMENT_RE = re.compile(r"^(?P<name>[^()]+)(?:\((?P<args>.*)\))?$", re.S)
# Dataverse's answer to a syntactically broken key segment, as observed (issue davidyack/Xrm.Tools.CRMWebAPI#92).
BAD_SYNTAX = "Bad Request - Error in query syntax."
BAD_SYNTAX_CODE = "0x8006088a"


@dataclass
class Target:
    kind: str
    entity_set: str | None = None
    key: str | None = None  # primary-key GUID (lower case)
    alt_key: dict[str, Any] | None = None  # alternate key as written in the URL (wire names)
    action: str | None = None  # bound action without namespace, e.g. "CreateMultiple"
    sub: str | None = None  # remaining path after the addressed resource, e.g. "Attributes/…"
    params: dict[str, str] = field(default_factory=dict)  # function parameters, raw literals
    table: TableDef | None = None  # resolved when entity sets were given to parse_target


def not_found_segment(segment: str) -> ODataError:
    """404 Dataverse returns for an unknown entity set or function segment. [OBS-404]"""
    return ODataError(f"Resource not found for the segment '{segment}'.", status=404)


def bad_syntax() -> ODataError:
    return ODataError(BAD_SYNTAX, code=BAD_SYNTAX_CODE)


def split_outside(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside single-quoted literals ('' escapes) and brackets."""
    parts, buf, depth, quoted = [], [], 0, False
    for ch in text:
        if ch == "'":
            quoted = not quoted  # '' toggles twice, so escaped quotes keep the state
        elif not quoted and ch in "([":
            depth += 1
        elif not quoted and ch in ")]":
            depth -= 1
        if ch == sep and not quoted and depth == 0:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    if quoted or depth:
        raise bad_syntax()
    parts.append("".join(buf))
    return parts


def collection_parameter(query: Mapping[str, str], raw: str | None, parameter: str, function: str) -> list[Any]:
    """A function's collection parameter, inline ``['a','b']`` or an alias ``@p1`` with ``@p1=["a","b"]``
    in the query, as parsed literals (JSON-style ``"x"`` items read like OData ``'x'``); the callers
    check the item types. Errors are the 400s Dataverse gives for a missing parameter or alias."""
    if raw is None:
        raise ODataError(f"The parameter '{parameter}' of function '{function}' is missing.")
    if raw.startswith("@"):
        alias = query.get(raw)
        if alias is None:
            raise ODataError(f"The parameter alias '{raw}' has no value.")
        raw = alias
    raw = raw.strip()
    if not (raw.startswith("[") and raw.endswith("]")):
        raise ODataError(f"The value '{raw}' of parameter '{parameter}' is not a collection of strings.")
    items = []
    for item in split_outside(raw[1:-1], ","):
        item = item.strip()
        if not item:
            continue
        if len(item) >= 2 and item[0] == item[-1] == '"':
            item = "'" + json.loads(item).replace("'", "''") + "'"
        items.append(parse_literal(item))
    return items


def parse_literal(text: str) -> Any:
    """An OData key/parameter literal: 'string' ('' escaped), GUID, number, true/false/null, or a
    bare date/time (kept as text, the form rows hold)."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if GUID_RE.match(text):
        return text.lower()
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "null":
        return None
    if _INT_RE.match(text):
        return int(text)
    if _NUMBER_RE.match(text):
        return float(text.rstrip("mMdDfF"))
    if re.match(r"^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$", text):
        return text
    raise bad_syntax()


def parse_args(args: str) -> dict[str, str]:
    """``k='v',k2=2`` -> {k: "'v'", k2: "2"} (raw literals; callers decide how to read them)."""
    out: dict[str, str] = {}
    for part in split_outside(args, ","):
        name, eq, value = part.partition("=")
        if not eq or not name.strip():
            raise bad_syntax()
        out[name.strip()] = value.strip()
    return out


def _split_segment(segment: str) -> tuple[str, str | None]:
    m = _SEGMENT_RE.match(segment)
    if not m:
        raise bad_syntax()
    return m.group("name"), m.group("args")


def _parse_key(args: str, table: TableDef | None) -> tuple[str | None, dict[str, Any] | None]:
    """``(guid)`` -> key; ``(pk=guid)`` -> key; ``(k='v',k2=2)`` -> alternate key."""
    args = args.strip()
    if GUID_RE.match(args):
        return args.lower(), None
    if "=" not in args:
        raise bad_syntax()
    alt = {name: parse_literal(raw) for name, raw in parse_args(args).items()}
    if table is not None and list(alt) == [table.primary_id]:
        pk = alt[table.primary_id]
        if not isinstance(pk, str) or not GUID_RE.match(pk):
            raise bad_syntax()
        return pk, None
    return None, alt


def parse_target(path_after_version: str, entity_sets: Mapping[str, TableDef] | None = None) -> Target:
    """Parse the resource path. With ``entity_sets`` (set name -> table), unknown sets are a 404 and
    ``Target.table`` is filled. Raises ``ODataError`` for anything Dataverse would refuse."""
    segments = [s for s in split_outside(path_after_version.strip("/"), "/") if s]
    if not segments:
        return Target("service_document")
    head, rest = segments[0], segments[1:]
    name, args = _split_segment(head)
    if head == "$metadata" and not rest:
        return Target("metadata")
    if head == "$batch" and not rest:
        return Target("batch")
    if name == "WhoAmI" and not rest and args in (None, ""):
        return Target("whoami")
    if name == "RetrieveTotalRecordCount" and not rest and args is not None:
        return Target("retrieve_total_record_count", params=parse_args(args) if args.strip() else {})
    if name == "EntityDefinitions":
        return _entity_definitions(args, rest)
    if name == "systemusers" and args is not None and rest:
        return _user_function(args, rest)
    if name == "sdkmessagefilters" and args is None and not rest:
        return Target("sdk_message_filters")
    table = None
    if entity_sets is not None:
        table = entity_sets.get(name)
        if table is None:
            raise not_found_segment(name)
    if args is None:
        if not rest:
            return Target("collection", entity_set=name, table=table)
        if rest == ["$count"]:
            return Target("count", entity_set=name, table=table)
        if len(rest) == 1 and rest[0].startswith(ACTION_NAMESPACE):
            action = rest[0][len(ACTION_NAMESPACE):]
            if action in BULK_MESSAGES:
                return Target("bound_action", entity_set=name, action=action, table=table)
        raise not_found_segment(rest[0])
    key, alt = _parse_key(args, table)
    return Target("entity", entity_set=name, key=key, alt_key=alt, sub="/".join(rest) or None, table=table)


def _user_function(args: str, rest: list[str]) -> Target:
    """``systemusers(<id>)/Microsoft.Dynamics.CRM.<function>(…)`` for the functions in
    ``USER_FUNCTIONS``; anything else under ``systemusers`` is not emulated (404, as for an unknown set)."""
    name, fargs = _split_segment(rest[0])
    function = name[len(ACTION_NAMESPACE):] if name.startswith(ACTION_NAMESPACE) else None
    if len(rest) != 1 or function not in USER_FUNCTIONS or fargs is None:
        raise not_found_segment(name if function in USER_FUNCTIONS else "systemusers")
    if not GUID_RE.match(args.strip()):
        raise bad_syntax()
    return Target("user_function", entity_set="systemusers", key=args.strip().lower(), action=function,
                  params=parse_args(fargs) if fargs.strip() else {})


def _entity_definitions(args: str | None, rest: list[str]) -> Target:
    """``EntityDefinitions``, ``EntityDefinitions(LogicalName='x')`` or ``(<MetadataId>)``, optionally
    followed by ``Attributes`` and an attribute-metadata cast (kept in ``sub``)."""
    target = Target("entity_definitions", sub="/".join(rest) or None)
    if args is not None:
        key, alt = _parse_key(args, None)
        if alt is not None and (list(alt) != ["LogicalName"] or not isinstance(alt["LogicalName"], str)):
            raise bad_syntax()
        target.key, target.alt_key = key, alt
    return target
