"""Key-range partitions of a table's primary key, for reading a large table in parallel.

Ranges are half-open (``pk ge lo and pk lt hi``; the first has no lower and the last no upper
bound), so any sorted boundaries cover every key exactly once: correctness never depends on how
well they are chosen, only the balance does.

Dataverse compares GUIDs as SQL Server's ``uniqueidentifier``: the last group is the most
significant, then the 4th, 3rd, 2nd and 1st. Two ways to place boundaries:

* ``sampled`` (preferred): every k-th key of the change-tracking baseline read, which returns the
  keys in exactly that order. Balanced whatever the keys look like — important because GUIDs that
  Dataverse creates itself are sequential, with a last group that is the same for many rows.
* ``guid_boundaries``: spread evenly over the leading hex digits of the last group; balanced for
  random (v4-style) keys. Used when no key sample exists (tables without change tracking).
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


class BoundarySampler:
    """Keeps every ``step``-th key of a stream, in stream order, as partition boundaries.

    ``expected_rows`` (a count that may be stale or capped) sets the first step. If the stream is
    much longer than expected, every other kept key is dropped and the step doubled, so memory stays
    at most ``4 * parts`` keys whatever the table size.
    """

    def __init__(self, parts: int, expected_rows: int) -> None:
        self.parts = max(1, parts)
        self.step = max(1, expected_rows // self.parts)
        self.keys: list[str] = []
        self.seen = 0

    def add(self, key: str) -> None:
        self.seen += 1
        if self.seen % self.step == 0:
            self.keys.append(key)
            if len(self.keys) > 4 * self.parts:
                self.keys = self.keys[1::2]
                self.step *= 2

    def boundaries(self) -> list[str]:
        """Boundaries for at most ``parts`` ranges of about equal size (fewer for short streams)."""
        out = []
        for i in range(1, self.parts):
            index = round(i * self.seen / (self.parts * self.step)) - 1  # kept key j is the (j+1)*step-th
            if 0 <= index < len(self.keys):
                out.append(self.keys[index])
        return list(dict.fromkeys(out))
