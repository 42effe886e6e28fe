"""``$select``, ``$orderby``, ``$top``, ``$count``, ``$expand`` parsing and query-option checks.

Inputs are already URL-decoded option values. Every bad value raises ``ODataError`` (400).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from .errors import ODataError, unknown_property
from .filter import Resolver

_NAME = re.compile(r"[A-Za-z_]\w*")
_WORD = re.compile(r"\S+")


class OrderBy(NamedTuple):
    key: str  # row key (logical name) to sort on
    descending: bool


class ExpandSpec(NamedTuple):
    nav_property: str  # as the client wrote it (case-sensitive), also the response property name
    select: list[str]  # wire names on the target table; empty = all columns
    lookup: str  # logical name of the lookup column on the expanded-from table
    target: str  # target table logical name


def _syntax_error(pos: int, text: str) -> ODataError:
    return ODataError(f"Syntax error at position {pos} in '{text}'.")


def _split_items(text: str, sep: str = ",") -> list[tuple[str, int]]:
    """``sep``-separated items (outside quotes/parentheses) with their start offsets, stripped."""
    items: list[tuple[str, int]] = []
    depth, quoted, start = 0, False, 0
    for i, ch in enumerate(text + sep):
        if ch == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            raw = text[start:i]
            items.append((raw.strip(), start + len(raw) - len(raw.lstrip())))
            start = i + 1
    return items


# --- $select -------------------------------------------------------------------------------------


def parse_select(text: str, resolver: Resolver, entity: str | None = None) -> list[str]:
    """Wire property names in ``$select`` (duplicates dropped). An empty value selects everything.

    Lookups must be selected as ``_x_value``; the lookup's logical name or a ``<x>name`` pseudo
    column is not a property and fails like any unknown name. [PA-PROPS][OBS-prop]
    ``entity`` overrides ``resolver.entity`` in the error message.
    """
    if not text.strip():
        return []
    names: list[str] = []
    for name, pos in _split_items(text):
        if not name:
            raise _syntax_error(pos, text)
        if name == "*":
            raise ODataError("'$select=*' is not supported by the emulator; omit $select to get every column.")
        if resolver.resolve(name) is None:
            raise unknown_property(name, entity or resolver.entity)
        if name not in names:
            names.append(name)
    return names


# --- $orderby ------------------------------------------------------------------------------------


def parse_orderby(
    text: str, resolver: Resolver, aliases: Mapping[str, str] | None = None
) -> list[OrderBy]:
    """``name asc,revenue desc`` -> [OrderBy(row key, descending)]. ``@p1`` aliases name a column.

    ``aliases`` may be the whole decoded query dict. Direction keywords are lower case (ODataLib).
    """
    result: list[OrderBy] = []
    for item, pos in _split_items(text):
        words = [(m.group(0), pos + m.start()) for m in _WORD.finditer(item)]
        if not words:
            raise _syntax_error(pos, text)
        if len(words) > 2:
            raise _syntax_error(words[2][1], text)
        name = words[0][0]
        if name.startswith("@"):
            alias_value = (aliases or {}).get(name)
            if not alias_value:
                raise ODataError(f"The parameter alias '{name}' used in $orderby has no value.")
            name = alias_value.strip()
        descending = False
        if len(words) == 2:
            direction, direction_pos = words[1]
            if direction not in ("asc", "desc"):
                raise _syntax_error(direction_pos, text)
            descending = direction == "desc"
        column = resolver.resolve(name)
        if column is None:
            raise unknown_property(name, resolver.entity)
        result.append(OrderBy(column.key, descending))
    return result


def sort_key(value: Any) -> tuple:
    """Sort key matching SQL Server: nulls lowest (first ascending, last descending), strings
    case-insensitive, datetimes by instant whether held as ``datetime`` or ISO 8601 text."""
    if value is None:
        return (0,)
    if isinstance(value, bool | int | float | Decimal):
        return (1, 0, value)
    if isinstance(value, datetime):
        return (1, 1, value if value.tzinfo is not None else value.replace(tzinfo=UTC))
    if isinstance(value, date):
        return (1, 2, value)
    text = str(value)
    if len(text) >= 19 and text[4] == "-" and text[10] == "T":
        try:
            return sort_key(datetime.fromisoformat(text))
        except ValueError:
            pass
    elif len(text) == 10 and text[4] == "-" and text[7] == "-":
        try:
            return (1, 2, date.fromisoformat(text))
        except ValueError:
            pass
    return (1, 3, text.lower())


def sort_rows(
    rows: Iterable[Mapping[str, Any]], orderby: list[OrderBy], primary_key: str | None = None
) -> list[Mapping[str, Any]]:
    """Rows sorted by ``orderby``, then by ``primary_key`` (Dataverse's implicit last sort key)."""
    out = list(rows)
    keys = list(orderby)
    if primary_key is not None and all(o.key != primary_key for o in keys):
        keys.append(OrderBy(primary_key, False))
    for o in reversed(keys):  # stable sorts, least significant key first
        out.sort(key=lambda row, k=o.key: sort_key(row.get(k)), reverse=o.descending)
    return out


# --- $top / $count -------------------------------------------------------------------------------


def parse_top(text: str) -> int:
    """A positive Int32. ODataLib's wording; that Dataverse refuses ``$top=0`` is UNCONFIRMED."""
    value = text.strip()
    if not value.isdigit() or int(value) == 0 or int(value) > 2**31 - 1:
        raise ODataError(
            f"Invalid value '{text}' for $top query option found. "
            "The $top query option requires a positive integer value."
        )
    return int(value)


def parse_count(text: str) -> bool:
    if text == "true":
        return True
    if text == "false":
        return False
    raise ODataError(f"'{text}' is not a valid count option.")


# --- $expand -------------------------------------------------------------------------------------


def parse_expand(text: str, resolver: Resolver) -> list[ExpandSpec]:
    """Single-valued navigation properties, optionally with a nested ``$select``:
    ``cdm_JobId($select=cdm_name),cdm_DepartmentId``. Names are case-sensitive.

    ``resolver`` must also offer ``navigation(name) -> filter.Navigation | None`` (TableResolver does).
    """
    navigation = getattr(resolver, "navigation", None)
    specs: list[ExpandSpec] = []
    for item, pos in _split_items(text):
        m = _NAME.match(item)
        if m is None:
            raise _syntax_error(pos, text)
        name, rest = m.group(0), item[m.end() :].strip()
        nav = navigation(name) if navigation is not None else None
        if nav is None:
            raise unknown_property(name, resolver.entity)
        select: list[str] = []
        if rest:
            if not (rest.startswith("(") and rest.endswith(")")):
                raise _syntax_error(pos + m.end(), text)
            for option in _split_nested_options(rest[1:-1]):
                key, _, value = option.partition("=")
                if key.strip() != "$select":
                    raise ODataError(
                        f"The query option '{key.strip()}' inside $expand={name} is not supported by "
                        "the emulator; only $select is."
                    )
                if nav.resolver is None:
                    raise ODataError(
                        f"The emulator does not hold table '{nav.target}', so $expand={name} cannot "
                        "take a nested $select."
                    )
                select = parse_select(value, nav.resolver)
        specs.append(ExpandSpec(name, select, nav.lookup, nav.target))
    return specs


def _split_nested_options(text: str) -> list[str]:
    """``$select=a;$filter=…`` inside an ``$expand`` item: the non-empty options."""
    return [item for item, _ in _split_items(text, ";") if item]


# --- option checks -------------------------------------------------------------------------------

UNSUPPORTED_OPTIONS = ("$skip", "$search", "$format", "$compute", "$levels")  # [PA-QOV]
# System query options the emulator reads on an entity-set GET ($apply: webapi_apply.py).
KNOWN_OPTIONS = ("$select", "$filter", "$orderby", "$top", "$count", "$expand", "$skiptoken", "$deltatoken",
                 "$apply")
# Dataverse implements these (stored and personal views, the SQL endpoint); the emulator does not, so it
# refuses them rather than answer with every row.
UNIMPLEMENTED_PARAMETERS = ("savedQuery", "userQuery", "sql")
TRACK_CHANGES_REFUSED = ("$filter", "$orderby", "$expand", "$top", "$apply")  # [PA-CT]
NOT_IMPLEMENTED_STATUS = 501  # the documented status map's "Not Implemented" [PA-HDR]


def check_supported(query: Mapping[str, str], known: Iterable[str] = KNOWN_OPTIONS) -> None:
    """Refuse what Dataverse refuses and what the emulator does not implement, never ignore it.

    ``$skip``, ``$search``, ``$format`` are documented as unsupported [PA-QOV]; ``$compute`` and
    ``$levels`` (OData 4.01 / hierarchy options) are refused the same way. The message wording is
    UNCONFIRMED (the documentation only says they are not supported). Any other ``$`` option is
    refused with ODataLib's text for an unrecognized system query option (UNCONFIRMED for Dataverse).
    """
    for option in query:
        if option in UNSUPPORTED_OPTIONS:
            raise ODataError(f"The query parameter {option} is not supported")
        if option.startswith("$") and option not in known:
            raise ODataError(
                f"The query parameter '{option}' begins with a system-reserved '$' character but is not recognized."
            )
        if option in UNIMPLEMENTED_PARAMETERS:
            raise ODataError(
                f"The emulator does not implement the '{option}' parameter; "
                "send the query as $select/$filter/$apply or fetchXml instead.",
                status=NOT_IMPLEMENTED_STATUS,
            )


def check_top_limit(top: int, limit: int) -> None:
    """UNCONFIRMED: ``$top`` above the 5000-row page ceiling is refused (``limit`` 0 = no refusal)."""
    if limit and top > limit:
        raise ODataError(
            f"The $top query option value {top} exceeds the maximum of {limit} records that can be returned."
        )


def check_track_changes(query: Mapping[str, str]) -> None:
    """Options refused with ``Prefer: odata.track-changes`` (one named per message). The text is
    documented [PA-CT]; status 400 and code 0x80060888 are UNCONFIRMED best guesses."""
    for option in TRACK_CHANGES_REFUSED:
        if option in query:
            raise ODataError(f'The "{option}" query parameter isn\'t supported when Change Tracking is enabled.')
