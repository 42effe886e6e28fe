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
``TableBusyError``; ``wait_s=0`` means: do not wait.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

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
    backend = engine.url.get_backend_name()
    if backend == "postgresql":
        with _advisory_lock(engine, key, table, wait_s, poll_s, log):
            yield
    elif backend == "sqlite":
        database = engine.url.database or ""
        path = Path(database).with_name(f"{Path(database).name}.{_file_safe(key)}.load.lock")
        with _file_lock(path, table, wait_s, poll_s, log):
            yield
    else:  # create_engine accepts only the two backends above
        raise WarehouseError(f"table '{table}': no load lock for backend {backend!r}")


def _wait(try_once: Callable[[], bool], table: str, wait_s: float, poll_s: float, log: logging.Logger) -> None:
    started = time.monotonic()
    if try_once():
        return
    log.info("table %s: another process is loading it; waiting up to %.0f s for it to finish", table, wait_s)
    while time.monotonic() - started < wait_s:
        time.sleep(min(poll_s, max(0.0, wait_s - (time.monotonic() - started))))
        if try_once():
            log.info("table %s: the other load finished after %.1f s; loading now", table, time.monotonic() - started)
            return
    raise TableBusyError(table, time.monotonic() - started)


@contextmanager
def _advisory_lock(engine: sa.Engine, key: str, table: str, wait_s: float, poll_s: float,
                   log: logging.Logger) -> Iterator[None]:
    params = {"key": key}
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")

        def try_once() -> bool:
            return bool(conn.scalar(sa.text("SELECT pg_try_advisory_lock(hashtextextended(:key, 0))"), params))

        _wait(try_once, table, wait_s, poll_s, log)
        try:
            yield
        finally:
            try:
                conn.execute(sa.text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))"), params)
            except sa.exc.DBAPIError:
                conn.invalidate()  # the session (and with it the lock) is gone or must not be reused


@contextmanager
def _file_lock(path: Path, table: str, wait_s: float, poll_s: float, log: logging.Logger) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:

        def try_once() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        _wait(try_once, table, wait_s, poll_s, log)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _file_safe(key: str) -> str:
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in key)
