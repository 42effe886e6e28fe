"""The primary-key range a ``$filter`` confines a read to, so a page can seek instead of scanning.

Partitioned full loads read ``<pk> ge <guid> and <pk> lt <guid>`` ranges; Dataverse serves them
with an index seek. Only a pure conjunction of ``<pk> ge|gt|le|lt <guid>`` clauses is recognised
(any other filter scans as before). The bounds are inclusive whatever the operators say: the
compiled filter still decides each row, the range only says where rows can be.
"""

from __future__ import annotations

import re

from ..guid_order import sql_guid_key

_AND = re.compile(r"\s+and\s+")
_CLAUSE = re.compile(r"^\(*\s*(\w+)\s+(ge|gt|le|lt)\s+([0-9A-Fa-f-]{36})\s*\)*$")

KeyRange = tuple[str | None, str | None]  # (lowest, highest) GUID, inclusive; None = open


def key_range(filter_text: str, primary_key: str) -> KeyRange | None:
    """(lowest, highest) GUID every row matching ``filter_text`` lies within, in SQL Server GUID
    order; None when the filter is not a primary-key range (or is unbalanced, left to the parser)."""
    text = filter_text.strip()
    if text.count("(") != text.count(")"):
        return None
    lowest: str | None = None
    highest: str | None = None
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
            if lowest is None or key > sql_guid_key(lowest):
                lowest = guid
        elif highest is None or key < sql_guid_key(highest):
            highest = guid
    return lowest, highest
