"""SQLAlchemy engines for the warehouse: an embedded SQLite file or PostgreSQL.

SQLite is set up for several processes writing the same file: WAL (readers never block the
writer; ``synchronous = NORMAL``, see ``_on_connect``), a busy timeout (a writer waits for the lock instead of failing), staging in the
connection's TEMP database (never locks the main file) and ``BEGIN IMMEDIATE`` for transactions
that write the main file (takes the write lock up front, so a transaction that has already read
never fails on a lock upgrade). Transactions that only stage use a deferred ``BEGIN``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from .errors import WarehouseConfigError, WarehouseUnavailableError

SUPPORTED_BACKENDS = ("sqlite", "postgresql")
_BEGIN_OPTION = "hr_sqlite_begin"


def create_engine(url: str | sa.URL, *, busy_timeout_s: float = 60.0, source: str | None = None) -> sa.Engine:
    """An engine for a SQLite file or PostgreSQL URL; raises ``WarehouseConfigError`` otherwise.

    ``source`` names the setting the URL came from (e.g. "Airflow connection 'hr_warehouse'"); a
    failure to connect raises ``WarehouseConfigError`` (wrong credentials, database, file) or
    ``WarehouseUnavailableError`` (unreachable) naming it, instead of SQLAlchemy's OperationalError.
    """
    engine = _create_engine(url, busy_timeout_s)
    _explain_connect_errors(engine, source or "the warehouse URL")
    return engine


# Driver messages of a connection refused for its settings (not for the network): retrying won't help.
_CONFIG_PROBLEMS = ("password authentication failed", "does not exist", "no password supplied",
                    "unable to open database file", "permission denied", "authentication", "not a database",
                    "invalid dsn", "sslmode")


def _explain_connect_errors(engine: sa.Engine, source: str) -> None:
    where = engine.url.render_as_string(hide_password=True)

    @event.listens_for(engine, "handle_error")
    def _on_error(context: sa.engine.ExceptionContext) -> None:
        if context.connection is not None or not isinstance(context.sqlalchemy_exception, sa.exc.OperationalError):
            return  # only failures to connect; statement errors keep their own messages
        orig = context.original_exception
        reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
        if any(p in reason.lower() for p in _CONFIG_PROBLEMS):
            raise WarehouseConfigError(f"cannot open the warehouse {where}: {reason}. Fix {source}: its "
                                       "user, password, database name or file path") from orig
        raise WarehouseUnavailableError(f"cannot reach the warehouse {where}: {reason}. Check that the database "
                                        f"server is running and reachable, or fix the host/port in {source}") from orig


def _create_engine(url: str | sa.URL, busy_timeout_s: float) -> sa.Engine:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise WarehouseConfigError("the warehouse URL is not a SQLAlchemy URL "
                                   "(expected e.g. sqlite:///path.db or postgresql+psycopg2://host/db)") from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise WarehouseConfigError(f"unsupported warehouse backend '{backend}'; use sqlite or postgresql")
    if backend == "sqlite":
        return _sqlite_engine(parsed, busy_timeout_s)
    try:
        return sa.create_engine(parsed, pool_pre_ping=True)
    except (sa.exc.NoSuchModuleError, ImportError) as exc:
        raise WarehouseConfigError(f"cannot load the database driver for "
                                   f"{parsed.render_as_string(hide_password=True)}: {exc}") from None


def _sqlite_engine(url: sa.URL, busy_timeout_s: float) -> sa.Engine:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        raise WarehouseConfigError("the SQLite warehouse must be a file (each load uses its own connection); "
                                   "in-memory databases are not supported")
    path = Path(database)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WarehouseConfigError(f"cannot create the folder for the SQLite warehouse {path}: {exc}") from None
    engine = sa.create_engine(url, connect_args={"timeout": busy_timeout_s})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (not pysqlite) decide when transactions begin; see _on_begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # WAL's recommended level: no fsync per commit (one per checkpoint). A power cut may undo the
        # last commits, never corrupt the file; each load commits its rows with its delta link, so an
        # undone load is simply read again by the next run. PostgreSQL is the production warehouse.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA temp_store = FILE")  # staging spills to disk: memory stays bounded
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get(_BEGIN_OPTION, 'DEFERRED')}")

    return engine


@contextmanager
def write_transaction(conn: sa.Connection, *, lock_wait_s: float | None = None) -> Iterator[sa.Connection]:
    """A transaction that writes the main database: ``BEGIN IMMEDIATE`` on SQLite.

    ``lock_wait_s``: on SQLite, how long this transaction waits for the file's write lock instead of
    the engine's busy timeout (a load's commit waits for other tables' commits: its staged rows are
    safe in TEMP, so waiting long beats failing the load).
    """
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
    usual_wait = None
    if sqlite and lock_wait_s is not None:  # on the DBAPI connection: SQLAlchemy would begin a transaction
        raw = conn.connection.dbapi_connection
        usual_wait = raw.execute("PRAGMA busy_timeout").fetchone()[0]
        raw.execute(f"PRAGMA busy_timeout = {int(lock_wait_s * 1000)}")
    try:
        with conn.begin():
            yield conn
    finally:
        if sqlite:
            conn.execution_options(**{_BEGIN_OPTION: "DEFERRED"})
            if usual_wait is not None:
                conn.connection.dbapi_connection.execute(f"PRAGMA busy_timeout = {int(usual_wait)}")


@contextmanager
def writing(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A fresh connection inside a write transaction (short: DDL, state updates)."""
    with engine.connect() as conn, write_transaction(conn):
        yield conn
