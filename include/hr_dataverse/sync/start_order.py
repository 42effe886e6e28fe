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


def table_sizes(client: DataverseClient | None, specs: Sequence[TableSpec], stored: Mapping[str, int]) -> dict[str, int]:
    """Rows per table: ``stored`` (the warehouse's live rows), the rest asked of Dataverse in one
    request when ``client`` is given. Dataverse refuses the whole request when one table is not
    readable, which optional tables (catalog ``required: false``) may well be: then the required
    ones are asked again, once. A refusal is logged; those tables stay unsized."""
    sizes = {s.name: stored[s.name] for s in specs if s.name in stored}
    unknown = [s for s in specs if s.name not in sizes]
    required = [s for s in unknown if s.required]
    attempts = [unknown, required] if 0 < len(required) < len(unknown) else [unknown]
    for tables in attempts if client is not None and unknown else []:
        try:
            sizes.update(total_record_count(client, [s.name for s in tables]))
            break
        except DataverseError as exc:
            log.warning("sizes of %d tables refused: %s", len(tables), exc)
    unsized = sum(s.name not in sizes for s in specs)
    if unsized:
        log.warning("%d tables have no size: they start in catalog order", unsized)
    return sizes


def start_order(specs: Sequence[TableSpec], sizes: Mapping[str, int]) -> list[TableSpec]:
    """``specs`` in start order: key-range tables first, then biggest first, ties in catalog order."""
    ranked = sorted(enumerate(specs), key=lambda e: (not e[1].partition_by_key, -sizes.get(e[1].name, 0), e[0]))
    return [spec for _, spec in ranked]
