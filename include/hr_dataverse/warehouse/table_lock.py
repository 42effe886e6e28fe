"""One load per warehouse table at a time, across processes and machines.

Two loads of one table at once (the admin DAG's *Sync now* beside a scheduled run, or two
deployments on one warehouse) would each commit a snapshot and the last to commit wins, possibly
an older one. ``table_lock`` serialises them:

* PostgreSQL: a session-level advisory lock keyed by schema, prefix and table, held on its own
  autocommit connection for the whole load (no transaction stays open). It holds across workers
  and machines. The server releases it when the session ends, so a holder that is killed (even
  SIGKILL: the kernel closes its socket) or loses its network never leaves the table locked.
* SQLite: an exclusive ``flock`` on a file next to the database (``<db>.<table>.load.lock``).
  SQLite itself is one machine's file, so one machine's lock suffices; the kernel drops the lock
  when the holder's process dies, whatever killed it.

The waiter polls (a non-blocking try every ``poll_s``) for at most ``wait_s`` seconds, then raises
``TableBusyError``; ``wait_s=0`` means: do not wait. Both locks are ``hr_dataverse.locks``'.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import sqlalchemy as sa

from ..filenames import portable_name
from ..locks import LockBusyError, database_lock
from .errors import WarehouseError

DEFAULT_LOCK_WAIT_S = 600.0
_log = logging.getLogger(__name__)


class TableBusyError(WarehouseError):
    """Another process is loading the table and did not finish within the wait."""

    def __init__(self, table: str, waited_s: float) -> None:
        self.table = table
        self.waited_s = waited_s
        super().__init__(f"table '{table}' is being loaded by another process (another run or deployment on this "
                         f"warehouse); waited {waited_s:.0f} s for it to finish, so this load was skipped. The other "
                         "load brings the table up to date; if none is running, look for a stuck task.")


@contextmanager
def table_lock(engine: sa.Engine, key: str, table: str, *, wait_s: float = DEFAULT_LOCK_WAIT_S,
               poll_s: float = 0.5, log: logging.Logger = _log) -> Iterator[None]:
    """Hold the load lock ``key`` of ``table`` for the block; raises ``TableBusyError`` after ``wait_s``."""
    if wait_s < 0:
        raise WarehouseError(f"table '{table}': the lock wait must not be negative, got {wait_s}")
    try:
        lock = database_lock(
            engine, key, f".{portable_name(key)}.load.lock", wait_s=wait_s, poll_s=poll_s,
            on_wait=lambda: log.info("table %s: another process is loading it; waiting up to %.0f s for it "
                                     "to finish", table, wait_s),
            on_acquired=lambda waited: log.info("table %s: the other load finished after %.1f s; loading now",
                                                table, waited))
    except ValueError:  # create_engine accepts only the two backends the lock knows
        raise WarehouseError(f"table '{table}': no load lock for backend {engine.url.get_backend_name()!r}") from None
    with ExitStack() as held:
        try:
            held.enter_context(lock)
        except LockBusyError as exc:
            raise TableBusyError(table, exc.waited_s) from None
        yield
