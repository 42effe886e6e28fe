"""Exclusive locks across processes: the one lock abstraction of the pipeline.

* ``file_lock``: an exclusive ``flock`` on a file. One machine; the kernel drops the lock when the
  holder's process dies, whatever killed it.
* ``advisory_lock``: a PostgreSQL session-level advisory lock, held on its own autocommit connection
  (no transaction stays open while the lock is held). It holds across workers and machines; the
  server releases it when the session ends, so a holder that is killed or loses its network never
  leaves it locked.
* ``database_lock``: the one that fits a warehouse engine: the advisory lock on PostgreSQL, a file
  lock next to the database file on SQLite (SQLite itself is one machine's file).

Every lock waits for its holder: for ever when ``wait_s`` is None (a blocking acquire), else it polls
(a non-blocking try every ``poll_s``) for at most ``wait_s`` seconds and raises ``LockBusyError``.
``on_wait`` is called once when the first try finds the lock taken; ``on_acquired`` with the seconds
waited when the lock is taken after a wait (not when it was free).
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa


class LockBusyError(RuntimeError):
    """The lock stayed taken for the whole wait."""

    def __init__(self, name: str, waited_s: float) -> None:
        self.waited_s = waited_s
        super().__init__(f"lock {name!r} is held by another process; waited {waited_s:.0f} s")


def _nothing(*_args: Any) -> None:
    return None


@contextmanager
def file_lock(path: Path, *, wait_s: float | None = None, poll_s: float = 0.5,
              on_wait: Callable[[], None] = _nothing,
              on_acquired: Callable[[float], None] = _nothing) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created with its folder) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:

        def try_once() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        _acquire(str(path), try_once, lambda: fcntl.flock(handle, fcntl.LOCK_EX), wait_s, poll_s, on_wait, on_acquired)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def advisory_lock(engine: sa.Engine, key: str, *, wait_s: float | None = None, poll_s: float = 0.5,
                  on_wait: Callable[[], None] = _nothing,
                  on_acquired: Callable[[float], None] = _nothing) -> Iterator[None]:
    """Hold the PostgreSQL session advisory lock named ``key`` (hashed to 64 bits) for the block."""
    import sqlalchemy as sa

    params = {"key": key}
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")

        def try_once() -> bool:
            return bool(conn.scalar(sa.text("SELECT pg_try_advisory_lock(hashtextextended(:key, 0))"), params))

        def block() -> None:
            conn.execute(sa.text("SELECT pg_advisory_lock(hashtextextended(:key, 0))"), params)

        _acquire(key, try_once, block, wait_s, poll_s, on_wait, on_acquired)
        try:
            yield
        finally:
            try:
                conn.execute(sa.text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))"), params)
            except sa.exc.DBAPIError:
                conn.invalidate()  # the session (and with it the lock) is gone or must not be reused


def database_lock(engine: sa.Engine, key: str, file_suffix: str, **wait: Any) -> Any:
    """``advisory_lock(engine, key)`` on PostgreSQL; on SQLite ``file_lock`` on ``<database file><file_suffix>``.
    ``wait``: the keyword arguments of both. Raises ``ValueError`` for any other backend."""
    backend = engine.url.get_backend_name()
    if backend == "postgresql":
        return advisory_lock(engine, key, **wait)
    if backend == "sqlite":
        database = Path(engine.url.database or "")
        return file_lock(database.with_name(database.name + file_suffix), **wait)
    raise ValueError(f"no lock for database backend {backend!r}")


def _acquire(name: str, try_once: Callable[[], bool], block: Callable[[], None], wait_s: float | None,
             poll_s: float, on_wait: Callable[[], None], on_acquired: Callable[[float], None]) -> None:
    if wait_s is not None and wait_s < 0:
        raise ValueError(f"lock {name!r}: the wait must not be negative, got {wait_s}")
    started = time.monotonic()
    if try_once():
        return
    on_wait()
    if wait_s is None:
        block()
        on_acquired(time.monotonic() - started)
        return
    while time.monotonic() - started < wait_s:
        time.sleep(min(poll_s, max(0.0, wait_s - (time.monotonic() - started))))
        if try_once():
            on_acquired(time.monotonic() - started)
            return
    raise LockBusyError(name, time.monotonic() - started)
