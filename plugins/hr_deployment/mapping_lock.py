"""One URS mapping run at a time per warehouse.

``hr_urs_mapping`` is scheduled on tables the sync loads, so it starts while the sync run's own
``map_characteristics`` is about to run; two mappers at once would plan the same creates and write
the same mapping state. The second waits here, then finds nothing left to write.

PostgreSQL: a session advisory lock (holds across workers and machines), taken on an autocommit
connection so no transaction stays open while the mapping runs. SQLite: an exclusive lock on a file
next to the database (one machine, like SQLite itself). Other databases: no lock.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hr_dataverse.warehouse import Warehouse

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".urs-mapping.lock"


@contextmanager
def mapping_lock(warehouse: Warehouse) -> Iterator[None]:
    """Hold the warehouse's mapping lock for the block (waits while another run holds it)."""
    url = warehouse.engine.url
    if url.get_backend_name() == "postgresql":
        with _advisory_lock(warehouse):
            yield
    elif url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        with _file_lock(Path(url.database).with_name(Path(url.database).name + LOCK_SUFFIX)):
            yield
    else:
        yield


@contextmanager
def _advisory_lock(warehouse: Warehouse) -> Iterator[None]:
    import sqlalchemy as sa

    key = {"key": f"hr_urs_mapping:{warehouse.schema or ''}:{warehouse.table_prefix}"}
    with warehouse.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        if not conn.scalar(sa.text("SELECT pg_try_advisory_lock(hashtext(:key))"), key):
            log.info("another URS mapping run is in progress on this warehouse: waiting for it to finish")
            conn.execute(sa.text("SELECT pg_advisory_lock(hashtext(:key))"), key)
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(hashtext(:key))"), key)


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another URS mapping run is in progress on this warehouse: waiting for it to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
