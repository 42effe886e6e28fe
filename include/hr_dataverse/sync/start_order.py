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
import re
from collections.abc import Mapping, Sequence

from ..catalog import TableSpec
from ..dataverse import DataverseClient, DataverseError
from ..dataverse.metadata import total_record_count

log = logging.getLogger(__name__)


def table_sizes(client: DataverseClient | None, specs: Sequence[TableSpec], stored: Mapping[str, int]) -> dict[str, int]:
    """Rows per table: ``stored`` (the warehouse's live rows), the rest asked of Dataverse in one
    request when ``client`` is given. Dataverse refuses the whole request when one table is not
    readable (optional tables may well not be); its message names the missing read privilege
    (``prvRead<table>``), so that table is left out and the rest asked again, up to
    ``_RETRIES`` times. A refusal is logged; those tables stay unsized."""
    sizes = {s.name: stored[s.name] for s in specs if s.name in stored}
    asking = [s.name for s in specs if s.name not in sizes and not s.fno_entity]  # F&O entities are not Dataverse tables
    for _ in range(_RETRIES + 1) if client is not None else ():
        if not asking:
            break
        try:
            sizes.update(total_record_count(client, asking))
            break
        except DataverseError as exc:
            unreadable = _UNREADABLE.search(str(exc))
            log.warning("sizes of %d tables refused: %s", len(asking), exc)
            if unreadable is None or unreadable.group(1) not in asking:
                break
            asking.remove(unreadable.group(1))
    unsized = sum(s.name not in sizes for s in specs)
    if unsized:
        log.warning("%d tables have no size: they start in catalog order", unsized)
    return sizes


_RETRIES = 3
_UNREADABLE = re.compile(r"missing prvRead(\w+) privilege")


def start_order(specs: Sequence[TableSpec], sizes: Mapping[str, int]) -> list[TableSpec]:
    """``specs`` in start order: key-range tables first, then biggest first, ties in catalog order."""
    ranked = sorted(enumerate(specs), key=lambda e: (not e[1].partition_by_key, -sizes.get(e[1].name, 0), e[0]))
    return [spec for _, spec in ranked]
