"""Which tables a run starts first: the longest reads first (the longest-processing-time-first rule).

A run's tables share a few Dataverse slots; a big table started last is the run's tail, read page
after page while the other slots idle. Ordering the tables biggest first, and the key-range tables
(catalog ``partition_by_key``) before all, keeps every slot busy until the end. Sizes come from the
warehouse (the live rows each table's last load stored) and, for tables never loaded, from one
``RetrieveTotalRecordCount`` request (snapshot counts, up to 24 h old: good enough to order by).
Ordering never changes what is read: a size that cannot be had only leaves that table in catalog order.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from ..catalog import TableSpec
from ..dataverse import DataverseClient, DataverseError
from ..dataverse.metadata import total_record_count

log = logging.getLogger(__name__)


def table_sizes(client: DataverseClient | None, names: Sequence[str], stored: Mapping[str, int]) -> dict[str, int]:
    """Rows per table: ``stored`` (the warehouse's live rows), the rest asked of Dataverse in one
    request when ``client`` is given. A refused request is logged; those tables stay unsized."""
    sizes = {n: stored[n] for n in names if n in stored}
    unknown = [n for n in names if n not in sizes]
    if client is not None and unknown:
        try:
            sizes.update(total_record_count(client, unknown))
        except DataverseError as exc:
            log.warning("table sizes unknown (%s): %d tables start in catalog order", exc, len(unknown))
    return sizes


def start_order(specs: Sequence[TableSpec], sizes: Mapping[str, int]) -> list[TableSpec]:
    """``specs`` in start order: key-range tables first, then biggest first, ties in catalog order."""
    ranked = sorted(enumerate(specs), key=lambda e: (not e[1].partition_by_key, -sizes.get(e[1].name, 0), e[0]))
    return [spec for _, spec in ranked]
