"""One URS mapping run at a time per warehouse.

``hr_urs_mapping`` is scheduled on tables the sync loads, so it starts while the sync run's own
``map_characteristics`` is about to run; two mappers at once would plan the same creates and write
the same mapping state. The second waits here, then finds nothing left to write.

PostgreSQL: a session advisory lock (holds across workers and machines), taken on an autocommit
connection so no transaction stays open while the mapping runs. SQLite: an exclusive lock on a file
next to the database (one machine, like SQLite itself). Both are ``hr_dataverse.locks``'.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hr_dataverse.warehouse import Warehouse

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".urs-mapping.lock"


def mapping_lock(warehouse: Warehouse) -> AbstractContextManager[None]:
    """Hold the warehouse's mapping lock for the block (waits while another run holds it)."""
    from hr_dataverse.locks import database_lock

    return database_lock(
        warehouse.engine, f"hr_urs_mapping:{warehouse.schema or ''}:{warehouse.table_prefix}", LOCK_SUFFIX,
        on_wait=lambda: log.info("another URS mapping run is in progress on this warehouse: waiting for it to finish"))
