"""The source row count stored with each load, for the data-quality checks.

``<set>/$count`` is exact but capped at 5000 by Dataverse; at the cap the count falls back to
``RetrieveTotalRecordCount``, a snapshot that can be up to 24 hours old. ``method`` says which one
was used, so a check can allow for the snapshot's staleness. The sync state stores only the value;
the method follows from it: below 5000 the count is exact, from 5000 on it is the snapshot (raised
to 5000 when the snapshot is older than rows the exact count already saw).

A table whose last stored count already reached the cap is asked for the snapshot first: its
``$count`` would only say "5000" again, and the sync runs every few minutes per table. Should the
snapshot say fewer than 5000 (the table shrank), the exact count is taken after all.

A delta load counts only after its read, and only when the delta carried changes: an empty delta
means the table is as it was, so its last count stands (``UNCHANGED``; the state keeps it) and a
run with nothing to do sends no count request. Every full read (the only reads that reconcile
deletes) counts before it starts: the delete guard judges the read against that count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..dataverse import BadRequest, NotFound, count, total_record_count

if TYPE_CHECKING:
    from ..dataverse import DataverseClient

COUNT_CAP = 5000  # Dataverse never counts further with $count / @odata.count
EXACT = "$count"
SNAPSHOT = "RetrieveTotalRecordCount"
UNAVAILABLE = "unavailable"
UNCHANGED = "unchanged"  # an empty delta: the last stored count still holds


@dataclass(frozen=True)
class SourceCount:
    value: int | None
    method: str  # EXACT, SNAPSHOT, UNAVAILABLE or UNCHANGED; "" before any count was taken
    problem: str | None = None  # why no count could be taken


def source_count(client: DataverseClient, logical_name: str, entity_set: str, *,
                 previous: int | None = None, snapshots: Mapping[str, int] | None = None) -> SourceCount:
    """Count the table's rows now; ``previous`` is the count the last load stored (None: none).

    ``snapshots``: ``RetrieveTotalRecordCount`` of the run's tables, asked once for all of them
    (``RunMetadata``); a table it holds sends no snapshot request of its own. Tables that cannot be
    counted (some virtual tables refuse both requests with 400/404) give ``UNAVAILABLE`` instead of
    failing the load."""
    def take_snapshot() -> int | None:
        if snapshots is not None and logical_name in snapshots:
            return snapshots[logical_name]
        return total_record_count(client, [logical_name]).get(logical_name)

    snapshot_first = previous is not None and previous >= COUNT_CAP
    try:
        if snapshot_first:
            snapshot = take_snapshot()
            if snapshot is not None and snapshot >= COUNT_CAP:
                return SourceCount(snapshot, SNAPSHOT)
        exact = count(client, entity_set)
        if exact < COUNT_CAP:
            return SourceCount(exact, EXACT)
        if not snapshot_first:  # else the snapshot above is stale (below what $count saw): not asked twice
            snapshot = take_snapshot()
    except (BadRequest, NotFound) as exc:
        return SourceCount(None, UNAVAILABLE, exc.message)
    if snapshot is None:
        return SourceCount(None, UNAVAILABLE, "RetrieveTotalRecordCount returned no count for the table")
    # A stale snapshot below the cap is known to be wrong: the exact count already reached it.
    return SourceCount(max(snapshot, COUNT_CAP), SNAPSHOT)


def unchanged_count(previous: int | None) -> SourceCount:
    """The last load's count, kept by a delta that showed no change (nothing was asked)."""
    return SourceCount(previous, UNCHANGED)
