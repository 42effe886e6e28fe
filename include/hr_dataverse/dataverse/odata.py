"""OData literals and a tiny ``$filter`` builder, so no value is ever pasted raw into a query.

Field names are checked against ``^[A-Za-z_][A-Za-z0-9_]*$`` and values are rendered by type:
``str`` → quoted string (quotes doubled), ``uuid.UUID`` → bare GUID, aware ``datetime`` → UTC
``…Z``, ``date`` → ``YYYY-MM-DD``, ``bool``/``int``/``float``/``Decimal`` → bare, ``None`` → ``null``.
A GUID held in a ``str`` is a string to this module; wrap it in ``uuid.UUID`` (or call
``guid_literal``) for lookup columns such as ``_cdm_workerid_value``.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GUID = re.compile(r"^[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$")
_ORDER = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\s+(asc|desc))?$", re.IGNORECASE)


def is_guid(value: str) -> bool:
    """True for the hyphenated 8-4-4-4-12 form Dataverse uses."""
    return bool(_GUID.match(value))


def check_name(name: str, what: str = "field") -> str:
    """Return ``name`` if it is a plain OData identifier, else raise ``ValueError`` naming it."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"invalid {what} name {name!r}: expected letters, digits and '_' (not starting with a digit)")
    return name


def string_literal(value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"string_literal expects str, got {type(value).__name__}")
    return "'" + value.replace("'", "''") + "'"


def guid_literal(value: str | uuid.UUID) -> str:
    text = str(value)
    if not is_guid(text):
        raise ValueError(f"not a GUID: {text!r}")
    return text.lower()


def datetime_literal(value: datetime) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"datetime_literal expects datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()!r}: give a timezone-aware datetime (e.g. tzinfo=UTC)")
    utc = value.astimezone(UTC)
    fraction = f".{utc.microsecond // 1000:03d}" if utc.microsecond else ""
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def date_literal(value: date) -> str:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"date_literal expects date, got {type(value).__name__}")
    return value.isoformat()


def number_literal(value: int | float | Decimal) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TypeError(f"number_literal expects int, float or Decimal, got {type(value).__name__}")
    if isinstance(value, float | Decimal) and not math.isfinite(value):
        raise ValueError(f"{value!r} has no OData literal")
    if isinstance(value, Decimal):
        return format(value, "f")
    return repr(value)


def bool_literal(value: bool) -> str:
    if not isinstance(value, bool):
        raise TypeError(f"bool_literal expects bool, got {type(value).__name__}")
    return "true" if value else "false"


def literal(value: Any) -> str:
    """The OData literal for a Python value, chosen by its type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return bool_literal(value)
    if isinstance(value, int | float | Decimal):
        return number_literal(value)
    if isinstance(value, uuid.UUID):
        return guid_literal(value)
    if isinstance(value, datetime):
        return datetime_literal(value)
    if isinstance(value, date):
        return date_literal(value)
    if isinstance(value, str):
        return string_literal(value)
    raise TypeError(f"no OData literal for {type(value).__name__} value")


class Filter:
    """A rendered ``$filter`` expression; build it with the functions below, ``str()`` to use it."""

    __slots__ = ("expr",)

    def __init__(self, expr: str) -> None:
        self.expr = expr

    def __str__(self) -> str:
        return self.expr

    def __repr__(self) -> str:
        return f"Filter({self.expr!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Filter) and other.expr == self.expr

    def __hash__(self) -> int:
        return hash(self.expr)


def _compare(op: str, field: str, value: Any) -> Filter:
    return Filter(f"{check_name(field)} {op} {literal(value)}")


def eq(field: str, value: Any) -> Filter:
    return _compare("eq", field, value)


def ne(field: str, value: Any) -> Filter:
    return _compare("ne", field, value)


def gt(field: str, value: Any) -> Filter:
    return _compare("gt", field, value)


def ge(field: str, value: Any) -> Filter:
    return _compare("ge", field, value)


def lt(field: str, value: Any) -> Filter:
    return _compare("lt", field, value)


def le(field: str, value: Any) -> Filter:
    return _compare("le", field, value)


def contains(field: str, text: str) -> Filter:
    return Filter(f"contains({check_name(field)},{string_literal(text)})")


def _join(op: str, parts: tuple[Filter, ...]) -> Filter:
    if not parts:
        raise ValueError(f"{op}_ needs at least one filter")
    for part in parts:
        if not isinstance(part, Filter):
            raise TypeError(f"{op}_ combines Filter objects, got {type(part).__name__}")
    if len(parts) == 1:
        return parts[0]
    return Filter(f" {op} ".join(f"({p.expr})" for p in parts))


def and_(*parts: Filter) -> Filter:
    return _join("and", parts)


def or_(*parts: Filter) -> Filter:
    return _join("or", parts)


def not_(part: Filter) -> Filter:
    if not isinstance(part, Filter):
        raise TypeError(f"not_ takes a Filter, got {type(part).__name__}")
    return Filter(f"not ({part.expr})")


def select_clause(columns: Iterable[str]) -> str:
    """``$select`` value for the given column names (validated, order kept, duplicates dropped)."""
    if isinstance(columns, str):
        raise TypeError("select_clause takes a list of column names, not one string")
    names = list(dict.fromkeys(check_name(c, "column") for c in columns))
    if not names:
        raise ValueError("select_clause needs at least one column")
    return ",".join(names)


def orderby_clause(terms: Iterable[str] | str) -> str:
    """``$orderby`` value from terms like ``"modifiedon desc"`` (validated)."""
    items = terms.split(",") if isinstance(terms, str) else list(terms)
    out = []
    for term in items:
        match = _ORDER.match(term.strip())
        if not match:
            raise ValueError(f"invalid $orderby term {term!r}: expected '<column>' or '<column> asc|desc'")
        out.append(match.group(1) + (f" {match.group(2).lower()}" if match.group(2) else ""))
    if not out:
        raise ValueError("orderby needs at least one column")
    return ",".join(out)
