"""One metadata request for a whole run's tables instead of one per table.

A sync reads each table's ``EntityDefinitions`` (columns, types, change tracking) before any data:
schema drift is followed on every run. With one request per table that is a fixed cost of every
run, ~36 requests of 150 ms for the default catalog, whatever changed. ``RunMetadata.fetch`` asks
for every table of the run at once (``get_entities``: one ``EntityDefinitions`` query, metadata is
never paged); each ``sync_table`` of the run then builds its table's metadata from that answer.

Guarantees:

* the metadata a table uses was read during the same run, at most ``max_age_s`` before the table
  started (older, or missing from the answer: the table reads its own, as without the cache), so
  drift is seen exactly as often as before: on every run;
* a failed batch request is not an error: every table then reads its own metadata (warning logged);
* option labels and lookup targets stay per table and lazy, as ``prepare_table`` asks for them;
* ``snapshots``: ``RetrieveTotalRecordCount``, one request too, for the tables whose last stored
  count reached ``$count``'s cap (those a load asks for the snapshot first; a table the caller
  cannot read fails the whole request, and these were read last time). That count is a snapshot
  Dataverse refreshes about once a day, so the run's start is as fresh as a table's start; the
  exact ``$count`` (below 5,000 rows) stays per table, taken when the table loads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..dataverse import DataverseError

if TYPE_CHECKING:
    from ..dataverse import DataverseClient
    from ..warehouse import Warehouse

DEFAULT_MAX_AGE_S = 600.0
_log = logging.getLogger("hr_dataverse.sync")


class RunMetadata:
    """The ``EntityDefinitions`` payloads of one run's tables, fetched together (thread-safe to read)."""

    def __init__(self, payloads: dict[str, dict[str, Any]], *, snapshots: dict[str, int] | None = None,
                 fetched_at: float | None = None, max_age_s: float = DEFAULT_MAX_AGE_S) -> None:
        self._payloads = payloads
        self._snapshots = snapshots
        self.fetched_at = time.monotonic() if fetched_at is None else fetched_at
        self.max_age_s = max_age_s

    @classmethod
    def fetch(cls, client: DataverseClient, tables: Iterable[str], *, warehouse: Warehouse | None = None,
              max_age_s: float = DEFAULT_MAX_AGE_S, log: logging.Logger = _log) -> RunMetadata:
        """One request for ``tables``' metadata, and with ``warehouse`` one for the snapshots of those
        whose stored count reached the cap. Either refused: each table asks its own (logged)."""
        from ..dataverse.metadata import get_entities

        names = list(tables)
        try:
            payloads = get_entities(client, names)
        except DataverseError as exc:
            log.warning("metadata of %d tables could not be read in one request (%s); each table reads its own",
                        len(names), exc.message)
            payloads = {}
        snapshots = _snapshots(client, names, warehouse, log) if warehouse is not None else None
        return cls(payloads, snapshots=snapshots, max_age_s=max_age_s)

    def payload(self, table: str) -> dict[str, Any] | None:
        """The table's payload, or None when it must read its own (not in the answer, or too old)."""
        if time.monotonic() - self.fetched_at > self.max_age_s:
            return None
        return self._payloads.get(table)

    @property
    def snapshots(self) -> dict[str, int] | None:
        """The run's ``RetrieveTotalRecordCount`` snapshots (None: not read; tables ask their own)."""
        return self._snapshots

    def __contains__(self, table: object) -> bool:
        return table in self._payloads


def _snapshots(client: DataverseClient, tables: list[str], warehouse: Warehouse,
               log: logging.Logger) -> dict[str, int] | None:
    from ..dataverse.metadata import total_record_count
    from .counts import COUNT_CAP

    wanted = set(tables)
    large = [s.table_name for s in warehouse.states()
             if s.table_name in wanted and (s.source_count or 0) >= COUNT_CAP]
    if not large:
        return None
    try:
        return total_record_count(client, large)
    except DataverseError as exc:
        log.warning("row-count snapshots of %d tables could not be read in one request (%s); each table "
                    "asks for its own", len(large), exc.message)
        return None
