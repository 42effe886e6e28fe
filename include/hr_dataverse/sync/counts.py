"""The source row count stored with each load, for the data-quality checks.

``<set>/$count`` is exact but capped at 5000 by Dataverse; at the cap the count falls back to
``RetrieveTotalRecordCount``, a snapshot that can be up to 24 hours old. ``method`` says which one
was used, so a check can allow for the snapshot's staleness. The sync state stores only the value;
the method follows from it: below 5000 the count is exact, from 5000 on it is the snapshot (raised
to 5000 when the snapshot is older than rows the exact count already saw).

A table whose last stored count already reached the cap is asked for the snapshot first: its
``$count`` would only say "5000" again, and the sync runs every few minutes per table. Should the
snapshot say fewer than 5000 (the table shrank), the exact count is taken after all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..dataverse import BadRequest, NotFound, count, total_record_count

if TYPE_CHECKING:
    from ..dataverse import DataverseClient

COUNT_CAP = 5000  # Dataverse never counts further with $count / @odata.count
EXACT = "$count"
SNAPSHOT = "RetrieveTotalRecordCount"
UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class SourceCount:
    value: int | None
    method: str  # EXACT, SNAPSHOT or UNAVAILABLE
    problem: str | None = None  # why no count could be taken


def source_count(client: DataverseClient, logical_name: str, entity_set: str, *,
                 previous: int | None = None) -> SourceCount:
    """Count the table's rows now; ``previous`` is the count the last load stored (None: none).

    Tables that cannot be counted (some virtual tables refuse both requests with 400/404) give
    ``UNAVAILABLE`` instead of failing the load."""
    snapshot_first = previous is not None and previous >= COUNT_CAP
    try:
        if snapshot_first:
            snapshot = total_record_count(client, [logical_name]).get(logical_name)
            if snapshot is not None and snapshot >= COUNT_CAP:
                return SourceCount(snapshot, SNAPSHOT)
        exact = count(client, entity_set)
        if exact < COUNT_CAP:
            return SourceCount(exact, EXACT)
        if not snapshot_first:  # else the snapshot above is stale (below what $count saw): not asked twice
            snapshot = total_record_count(client, [logical_name]).get(logical_name)
    except (BadRequest, NotFound) as exc:
        return SourceCount(None, UNAVAILABLE, exc.message)
    if snapshot is None:
        return SourceCount(None, UNAVAILABLE, "RetrieveTotalRecordCount returned no count for the table")
    # A stale snapshot below the cap is known to be wrong: the exact count already reached it.
    return SourceCount(max(snapshot, COUNT_CAP), SNAPSHOT)
