"""The HR warehouse as the sync engine uses it.

Typical table load::

    wh = Warehouse(url)                                   # SQLite file or PostgreSQL
    report = wh.ensure_table(spec, columns_for(spec, entity).columns)
    state = wh.get_state(spec.name)                       # delta_link None -> full load
    with wh.begin_load(spec.name, run_id, LoadMode.DELTA) as load:
        for page in pages:
            load.stage_rows(page.upserts)
            load.stage_deletes(page.deleted_ids)
        load.commit(delta_link=last_page.delta_link, stats=RunStats(pages=n_pages))

Nothing reaches the live table before ``commit``; the delta link is stored in that same
transaction. Several processes may load different tables into one warehouse at the same time.

A full load with delete reconciliation is ``commit(reconcile_deletes=True, source_count=n)``; a
large table read as key ranges in parallel stages every range into one session and commits once.
Failed or skipped loads go to the history with ``record_run``; commits record themselves. State
and history live in the sync-state store (``state_store.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from datetime import UTC, datetime

import sqlalchemy as sa

from ..catalog import TableSpec
from ..vocabulary import LoadMode, RunStatus
from .columns import ColumnSpec
from .engine import create_engine, write_transaction, writing
from .errors import WarehouseConfigError, WarehouseError
from .load import LoadSession
from .lookup_names import Dependent, lookup_targets_table, replace_targets
from .migrate import add_missing_columns
from .schema import BOOKKEEPING, DriftReport, TableLayout, ensure, sql_type
from .state import RunRecord, SyncState
from .state_store import RunStats, SyncStateStore, checked
from .table_lock import DEFAULT_LOCK_WAIT_S, table_lock
from .views import LINKED_ROWS_VIEW, linked_rows_select, replace_view

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


class Warehouse:
    """One warehouse target.

    ``url``: SQLAlchemy URL (default ``$HR_WAREHOUSE_URL`` or the SQLite file
    ``data/hr_warehouse.db``). ``schema``: PostgreSQL schema for every table (created when
    missing; SQLite has none). ``table_prefix`` is put before every table and view name.
    ``chunk_rows``: rows per staging write (bounds memory). ``source``: the setting the URL came
    from, named by the error raised when the database cannot be opened or reached.
    ``busy_timeout_s``: how long a SQLite statement waits for a lock; ``commit_wait_s``: how long a
    load's commit waits for the SQLite file's write lock, which other tables' commits hold while they
    merge (minutes for millions of rows on a busy machine; the staged rows wait safely in TEMP).
    """

    def __init__(
        self,
        url: str | sa.URL,
        *,
        schema: str | None = None,
        table_prefix: str = "",
        chunk_rows: int = 2000,
        busy_timeout_s: float = 60.0,
        commit_wait_s: float = 1800.0,
        source: str | None = None,
    ) -> None:
        if schema is not None and not _IDENTIFIER.match(schema):
            raise WarehouseConfigError(f"schema {schema!r} must be a lower-case identifier")
        if table_prefix and not _IDENTIFIER.match(table_prefix):
            raise WarehouseConfigError(f"table_prefix {table_prefix!r} must be a lower-case identifier")
        if chunk_rows < 1:
            raise WarehouseConfigError("chunk_rows must be at least 1")
        self.engine = create_engine(url, busy_timeout_s=busy_timeout_s, source=source or "the warehouse URL passed in")
        if schema is not None and self.engine.dialect.name != "postgresql":
            self.engine.dispose()
            raise WarehouseConfigError("schema is only supported on PostgreSQL; use table_prefix on SQLite")
        self.schema = schema
        self.table_prefix = table_prefix
        self.chunk_rows = chunk_rows
        self.commit_wait_s = commit_wait_s
        self.sync_state = SyncStateStore(schema, table_prefix)
        self._lookup_targets = lookup_targets_table(self.sync_state.state.metadata, table_prefix)
        self._layouts: dict[str, TableLayout] = {}
        self._bootstrapped = False

    def __repr__(self) -> str:
        return f"Warehouse({self.engine.url.render_as_string(hide_password=True)!r}, schema={self.schema!r})"

    def table_name(self, logical_name: str) -> str:
        return self.table_prefix + logical_name

    def dispose(self) -> None:
        self.engine.dispose()

    # --- DDL -------------------------------------------------------------------------------

    def _bootstrap(self) -> None:
        if self._bootstrapped:
            return
        with self._writing() as conn:
            if self.schema:
                conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {conn.dialect.identifier_preparer.quote(self.schema)}")
            self.sync_state.state.metadata.create_all(conn)
            add_missing_columns(conn, self.sync_state.runs)  # history columns added after a warehouse was created
        self._bootstrapped = True

    @contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        """A write transaction; on PostgreSQL it also serialises DDL of concurrent processes."""
        with writing(self.engine) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                             {"key": f"hr_warehouse:{self.schema or ''}:{self.table_prefix}"})
            yield conn

    def ensure_table(self, spec: TableSpec, columns: Sequence[ColumnSpec]) -> DriftReport:
        """Create the table for ``spec`` or follow schema drift; raises ``SchemaDriftError`` on an
        incompatible change (naming table and column). Must run before ``begin_load`` in this process."""
        self._bootstrap()
        with self._writing() as conn:
            snapshot = self.sync_state.schema_snapshot(conn, spec.name)
            layout, report = ensure(conn, self.schema, spec.name, self.table_name(spec.name), spec.primary_key,
                                    columns, snapshot)
            if layout.snapshot() != snapshot:
                self.sync_state.save_schema(conn, spec.name, layout.snapshot())
        self._layouts[spec.name] = layout
        return report

    def table(self, logical_name: str) -> sa.Table:
        """The warehouse table of a catalog table, for reading. Columns get the types this module
        writes (so timestamps read back tz-aware on SQLite too), also when not ensured here."""
        if logical_name in self._layouts:
            return self._layouts[logical_name].table
        name = self.table_name(logical_name)
        try:
            reflected = sa.inspect(self.engine).get_columns(name, schema=self.schema)
        except sa.exc.NoSuchTableError:
            raise WarehouseError(f"table '{logical_name}' has no warehouse table yet") from None
        state = self.get_state(logical_name)
        kinds = {**((state.schema_columns or {}).get("columns", {}) if state else {}), **BOOKKEEPING}
        columns = [sa.Column(c["name"], sql_type(kinds[c["name"]]) if c["name"] in kinds else c["type"])
                   for c in reflected]
        return sa.Table(name, sa.MetaData(schema=self.schema), *columns)

    # --- loads -----------------------------------------------------------------------------

    def load_lock(self, table: str, *, wait_s: float = DEFAULT_LOCK_WAIT_S,
                  poll_s: float = 0.5) -> AbstractContextManager[None]:
        """Hold ``table``'s load lock for the block: one load per table at a time across processes and
        machines (see ``table_lock``); raises ``TableBusyError`` after waiting ``wait_s`` seconds."""
        name = self.table_name(table)
        return table_lock(self.engine, f"hr_load.{self.schema}.{name}" if self.schema else name, table,
                          wait_s=wait_s, poll_s=poll_s)

    def begin_load(self, table: str, run_id: str, mode: LoadMode | str) -> LoadSession:
        """Start staging a load of ``table`` (``mode``: a ``LoadMode``, full, delta or full_every_run)."""
        mode = checked(table, LoadMode, mode)
        if not run_id:
            raise WarehouseError(f"table '{table}': run_id must not be empty")
        layout = self._layouts.get(table)
        if layout is None:
            raise WarehouseError(f"table '{table}': call ensure_table before begin_load")
        return LoadSession(self, layout, run_id, mode)

    # --- state and history -----------------------------------------------------------------

    def get_state(self, table: str) -> SyncState | None:
        self._bootstrap()
        with self.engine.connect() as conn:
            return self.sync_state.get(conn, table)

    def states(self) -> list[SyncState]:
        self._bootstrap()
        with self.engine.connect() as conn:
            return self.sync_state.all(conn)

    def clear_tracking(self, table: str) -> bool:
        """Forget the table's delta link so its next load is a full load; False when it had no state."""
        self._bootstrap()
        with self.engine.connect() as conn, write_transaction(conn):
            return self.sync_state.clear_tracking(conn, table)

    def record_run(self, run_id: str, table: str, mode: LoadMode | str, *, status: RunStatus | str,
                   started_at: datetime, stats: RunStats = RunStats()) -> None:
        """Append a history row for a load that did not commit (failed, skipped); commits record themselves."""
        self._bootstrap()
        with self.engine.connect() as conn, write_transaction(conn):
            self.sync_state.append_run(conn, run_id, table, mode, status, replace(stats, started_at=started_at),
                                       finished_at=datetime.now(UTC))

    def record_unchanged(self, table: str, run_id: str, *, started_at: datetime, message: str) -> None:
        """A table a change probe found unchanged since its stored delta link: synced as of now, like
        a delta that found nothing (``last_sync_at``, zero last counts, a ``delta`` history row of
        one request); its delta link and totals stay."""
        self._bootstrap()
        with self.engine.connect() as conn, write_transaction(conn):
            self.sync_state.record_unchanged(conn, table, run_id, started_at=started_at, message=message)

    def runs(self, run_id: str | None = None, table: str | None = None) -> list[RunRecord]:
        """Run history, oldest first, optionally for one run id and/or table."""
        self._bootstrap()
        with self.engine.connect() as conn:
            return self.sync_state.history(conn, run_id=run_id, table=table)

    def run_history(self, *, table: str | None = None, run_id: str | None = None, since: datetime | None = None,
                    until: datetime | None = None, limit: int = 5000) -> list[RunRecord]:
        """History rows started in [since, until), newest ``limit`` rows, returned oldest first."""
        self._bootstrap()
        with self.engine.connect() as conn:
            return self.sync_state.history(conn, table=table, run_id=run_id, since=since, until=until, limit=limit)

    # --- lookup names ----------------------------------------------------------------------

    def lookup_targets(self, table: str) -> dict[str, list[str]]:
        """The recorded target tables of ``table``'s lookups (``lookup_names.py``)."""
        self._bootstrap()
        reg = self._lookup_targets
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(reg.c.lookup, reg.c.target_table).where(reg.c.table_name == table)).all()
        found: dict[str, list[str]] = {}
        for lookup, target in rows:
            found.setdefault(lookup, []).append(target)
        return found

    def set_lookup_targets(self, table: str, targets: dict[str, tuple[str, ...]]) -> None:
        """Record which tables ``table``'s lookups point to (from Dataverse metadata)."""
        self._bootstrap()
        with self._writing() as conn:
            replace_targets(conn, self._lookup_targets, table, targets)

    def name_dependents(self, target_table: str) -> list[Dependent]:
        """The ``<lookup>_name`` columns of warehouse tables whose lookup points to ``target_table``."""
        self._bootstrap()
        reg = self._lookup_targets
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(reg.c.table_name, reg.c.lookup)
                                .where(reg.c.target_table == target_table)
                                .order_by(reg.c.table_name, reg.c.lookup)).all()
        dependents = []
        for table, lookup in rows:
            try:
                warehouse_table = self.table(table)
            except WarehouseError:
                continue  # not loaded yet: its first load reads current names
            dep = Dependent(warehouse_table, lookup)
            if dep.value_column in warehouse_table.c and dep.name_column in warehouse_table.c:
                dependents.append(dep)
        return dependents

    # --- views -----------------------------------------------------------------------------

    def create_linked_rows_view(self, specs: Iterable[TableSpec]) -> list[str]:
        """(Re)create ``hr_linked_rows`` over the given catalog tables that have a warehouse table;
        returns the tables included (none: no view is created)."""
        self._bootstrap()
        with self._writing() as conn:
            inspector = sa.inspect(conn)
            present = [s for s in specs if inspector.has_table(self.table_name(s.name), schema=self.schema)]
            if present:
                select = linked_rows_select(
                    [(s.name, self.table_name(s.name), s.primary_key) for s in present], self.schema)
                replace_view(conn, self.schema, self.table_name(LINKED_ROWS_VIEW), select)
        return [s.name for s in present]

