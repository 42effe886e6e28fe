"""The primary-key range a ``$filter`` confines a read to, so a page can seek instead of scanning.

Partitioned full loads read ``<pk> ge <guid> and <pk> lt <guid>`` ranges; Dataverse serves them
with an index seek. Only a pure conjunction of ``<pk> ge|gt|le|lt <guid>`` clauses is recognised
(any other filter scans as before). ``key_range`` gives inclusive bounds, where rows can be (the
compiled filter still decides each row); ``key_seek`` also says which bound is exclusive (``gt``,
``lt``), so the seek alone selects exactly the rows the filter matches and no row is evaluated.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ..guid_order import sql_guid_key

_AND = re.compile(r"\s+and\s+")
_CLAUSE = re.compile(r"^\(*\s*(\w+)\s+(ge|gt|le|lt)\s+([0-9A-Fa-f-]{36})\s*\)*$")

KeyRange = tuple[str | None, str | None]  # (lowest, highest) GUID, inclusive; None = open


class KeySeek(NamedTuple):
    """The rows a pure primary-key range filter matches: GUID bounds (None = open) in SQL Server GUID
    order, each inclusive unless its flag says exclusive."""

    lowest: str | None
    highest: str | None
    lowest_exclusive: bool = False
    highest_exclusive: bool = False


def key_range(filter_text: str, primary_key: str) -> KeyRange | None:
    """(lowest, highest) GUID every row matching ``filter_text`` lies within, in SQL Server GUID
    order; None when the filter is not a primary-key range (or is unbalanced, left to the parser)."""
    seek = key_seek(filter_text, primary_key)
    return None if seek is None else (seek.lowest, seek.highest)


def key_seek(filter_text: str, primary_key: str) -> KeySeek | None:
    """The exact key range ``filter_text`` selects, or None when it is not a pure primary-key range.
    Of two bounds on one side the tighter wins; at equal keys, exclusive wins (``ge A and gt A``)."""
    text = filter_text.strip()
    if text.count("(") != text.count(")"):
        return None
    lowest: str | None = None
    highest: str | None = None
    low_key = high_key = ""
    lowest_exclusive = highest_exclusive = False
    for clause in _AND.split(text):
        m = _CLAUSE.match(clause.strip())
        if m is None or m.group(1) != primary_key:
            return None
        op, guid = m.group(2), m.group(3)
        try:
            key = sql_guid_key(guid)
        except ValueError:
            return None
        if op in ("ge", "gt"):
            if lowest is None or key > low_key:
                lowest, low_key, lowest_exclusive = guid, key, op == "gt"
            elif key == low_key:
                lowest_exclusive = lowest_exclusive or op == "gt"
        elif highest is None or key < high_key:
            highest, high_key, highest_exclusive = guid, key, op == "lt"
        elif key == high_key:
            highest_exclusive = highest_exclusive or op == "lt"
    return KeySeek(lowest, highest, lowest_exclusive, highest_exclusive)
