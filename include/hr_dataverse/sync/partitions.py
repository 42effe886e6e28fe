"""Key-range partitions of a table's primary key, for reading a large table in parallel.

Ranges are half-open (``pk ge lo and pk lt hi``; the first has no lower and the last no upper
bound), so any sorted boundaries cover every key exactly once: correctness never depends on how
well they are chosen, only the balance does.

Dataverse compares GUIDs as SQL Server's ``uniqueidentifier``: the last group is the most
significant, then the 4th, 3rd, 2nd and 1st (``dataverse_guid_order``). Two ways to place boundaries:

* ``RangeCutter`` (preferred): the first key of every page of the change-tracking baseline read,
  which returns the keys in that order, so each range holds about one page of rows and can be read
  as soon as the baseline has passed it. Balanced whatever the keys look like — important because
  GUIDs that Dataverse creates itself are sequential, with a last group shared by many rows.
* ``guid_boundaries``: spread evenly over the leading hex digits of the last group; balanced for
  random (v4-style) keys. Used when there is no baseline read (tables without change tracking).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ..dataverse.odata import and_, ge, lt


@dataclass(frozen=True)
class KeyRange:
    lower: str | None  # inclusive; None = from the first key
    upper: str | None  # exclusive; None = to the last key

    def filter(self, primary_key: str) -> str | None:
        """The ``$filter`` selecting this range (None for the one range covering everything)."""
        parts = []
        if self.lower is not None:
            parts.append(ge(primary_key, uuid.UUID(self.lower)))
        if self.upper is not None:
            parts.append(lt(primary_key, uuid.UUID(self.upper)))
        return str(and_(*parts)) if parts else None


def key_ranges(boundaries: list[str]) -> list[KeyRange]:
    """``n`` boundaries (in Dataverse key order, no repeats) -> ``n + 1`` ranges covering all keys."""
    edges: list[str | None] = [None, *boundaries, None]
    return [KeyRange(lo, hi) for lo, hi in zip(edges, edges[1:], strict=False)]


def guid_boundaries(parts: int) -> list[str]:
    """``parts - 1`` GUIDs splitting the key space evenly on the last group's first four hex digits,
    in Dataverse order (all other digits zero, so each is the smallest key with that prefix)."""
    if parts < 1:
        raise ValueError(f"parts must be at least 1, got {parts}")
    return [f"00000000-0000-0000-0000-{k * 0x10000 // parts:04x}00000000" for k in range(1, parts)]


# Byte positions of the hyphen-less text form, most significant first (SqlGuid's comparison order;
# the first three groups are little-endian in .NET's byte array, hence read right to left).
_GUID_BYTE_ORDER = (10, 11, 12, 13, 14, 15, 8, 9, 7, 6, 5, 4, 3, 2, 1, 0)


def dataverse_guid_order(guid: str) -> str:
    """A 32-hex-digit string whose plain string order is Dataverse's order of ``guid``."""
    text = guid.strip("{}").replace("-", "").lower()
    if len(text) != 32:
        raise ValueError(f"{guid!r} is not a GUID")
    return "".join(text[2 * i: 2 * i + 2] for i in _GUID_BYTE_ORDER)


class RangeCutter:
    """Cuts the key space at the first key of every baseline page after the first.

    ``page(first_key)`` returns the range the previous page opened, now closed by this page's first
    key (None for the first page); ``finish()`` returns the last, open-ended range. A key that is
    not above the last cut (a stream not in key order) is skipped, so the ranges stay sorted and
    still cover every key; they are only less balanced.
    """

    def __init__(self) -> None:
        self.lower: str | None = None
        self._lower_order: str | None = None
        self._pages = 0

    def page(self, first_key: str | None) -> KeyRange | None:
        self._pages += 1
        if self._pages == 1 or first_key is None:
            return None
        order = dataverse_guid_order(first_key)
        if self._lower_order is not None and order <= self._lower_order:
            return None
        closed = KeyRange(self.lower, first_key)
        self.lower, self._lower_order = first_key, order
        return closed

    def finish(self) -> KeyRange:
        return KeyRange(self.lower, None)
