"""The HR warehouse as the sync engine uses it.

Typical table load::

    wh = Warehouse(url)                                   # SQLite file or PostgreSQL
    report = wh.ensure_table(spec, columns_for(spec, entity).columns)
    state = wh.get_state(spec.name)                       # delta_link None -> full load
    with wh.begin_load(spec.name, run_id, "delta") as load:
        for page in pages:
            load.stage_rows(page.upserts)
            load.stage_deletes(page.deleted_ids)
        load.commit(delta_link=last_page.delta_link, source_count=n)

Nothing reaches the live table before ``commit``; the delta link is stored in that same
transaction. Several processes may load different tables into one warehouse at the same time.

A full load with delete reconciliation is ``commit(reconcile_deletes=True, source_count=n)``.
A large table read as key ranges in parallel: note ``started = datetime.now(UTC)``, let each part
``commit(partial=True)`` with the same run id, then ``finish_load(..., started_at=started)``.
Failed or skipped loads go to the history with ``record_run``; commits record themselves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ..catalog import TableSpec
from .columns import ColumnSpec
from .engine import WAREHOUSE_URL_ENV, create_engine, default_url, write_transaction, writing
from .errors import WarehouseConfigError, WarehouseError
from .load import LoadResult, LoadSession
from .lookup_names import Dependent, lookup_targets_table, replace_targets
from .migrate import add_missing_columns
from .schema import BOOKKEEPING, DriftReport, TableLayout, ensure, sql_type
from .state import MODES, RUN_STATUSES, RequestCounts, RunRecord, SyncState, state_tables, upsert_state
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
    """

    def __init__(
        self,
        url: str | sa.URL | None = None,
        *,
        schema: str | None = None,
        table_prefix: str = "",
        chunk_rows: int = 2000,
        busy_timeout_s: float = 60.0,
        source: str | None = None,
    ) -> None:
        if schema is not None and not _IDENTIFIER.match(schema):
            raise WarehouseConfigError(f"schema {schema!r} must be a lower-case identifier")
        if table_prefix and not _IDENTIFIER.match(table_prefix):
            raise WarehouseConfigError(f"table_prefix {table_prefix!r} must be a lower-case identifier")
        if chunk_rows < 1:
            raise WarehouseConfigError("chunk_rows must be at least 1")
        if source is None:
            source = "the warehouse URL passed in" if url else f"${WAREHOUSE_URL_ENV} (or the default SQLite file)"
        self.engine = create_engine(url or default_url(), busy_timeout_s=busy_timeout_s, source=source)
        if schema is not None and self.engine.dialect.name != "postgresql":
            self.engine.dispose()
            raise WarehouseConfigError("schema is only supported on PostgreSQL; use table_prefix on SQLite")
        self.schema = schema
        self.table_prefix = table_prefix
        self.chunk_rows = chunk_rows
        self._state, self._runs = state_tables(schema, table_prefix)
        self._lookup_targets = lookup_targets_table(self._state.metadata, table_prefix)
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
            self._state.metadata.create_all(conn)
            add_missing_columns(conn, self._runs)  # history columns added after a warehouse was created
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
            snapshot = conn.scalar(sa.select(self._state.c.schema_columns)
                                   .where(self._state.c.table_name == spec.name))
            layout, report = ensure(conn, self.schema, spec.name, self.table_name(spec.name), spec.primary_key,
                                    columns, snapshot)
            if layout.snapshot() != snapshot:
                upsert_state(conn, self._state, {
                    "table_name": spec.name, "warehouse_table": self.table_name(spec.name),
                    "schema_columns": layout.snapshot(), "updated_at": datetime.now(UTC),
                })
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

    def begin_load(self, table: str, run_id: str, mode: str) -> LoadSession:
        """Start staging a load of ``table`` (``mode``: full, delta or full_every_run)."""
        if mode not in MODES:
            raise WarehouseError(f"table '{table}': unknown load mode {mode!r} (expected one of {', '.join(MODES)})")
        if not run_id:
            raise WarehouseError(f"table '{table}': run_id must not be empty")
        layout = self._layouts.get(table)
        if layout is None:
            raise WarehouseError(f"table '{table}': call ensure_table before begin_load")
        return LoadSession(self, layout, run_id, mode)

    def finish_load(
        self,
        table: str,
        run_id: str,
        mode: str,
        *,
        started_at: datetime,
        delta_link: str | None = None,
        source_count: int | None = None,
        reconcile_deletes: bool = True,
        rows_upserted: int = 0,
        pages: int = 0,
        requests: int = 0,
        status: str = "success",
        message: str | None = None,
        counts: RequestCounts | None = None,
        warnings: Sequence[str] = (),
    ) -> LoadResult:
        """Complete a partitioned full load whose parts were committed with ``partial=True``.

        Live rows no part touched since ``started_at`` (taken before the first part began) are
        soft-deleted when ``reconcile_deletes``; state and history are written in the same transaction.
        """
        layout = self._layouts.get(table)
        if layout is None:
            raise WarehouseError(f"table '{table}': call ensure_table before finish_load")
        if mode not in MODES or mode == "delta":
            raise WarehouseError(f"table '{table}': finish_load completes full loads, not {mode!r}")
        now = datetime.now(UTC)
        target = layout.table
        with self.engine.connect() as conn, write_transaction(conn):
            reconciled = 0
            if reconcile_deletes:
                stmt = (target.update()
                        .where(target.c._deleted_at.is_(None), target.c._synced_at < started_at)
                        .values(_deleted_at=now, _synced_at=now, _run_id=run_id))
                reconciled = conn.execute(stmt).rowcount
            totals = self._totals(conn, target)
            self._save_load(conn, table, run_id, mode, now=now, started_at=started_at, delta_link=delta_link,
                            source_count=source_count, upserted=rows_upserted, deleted=reconciled, totals=totals,
                            pages=pages, requests=requests, status=status, message=message, counts=counts,
                            warnings=warnings)
        return LoadResult(table, run_id, mode, rows_upserted, reconciled, reconciled, totals[0], totals[1], now)

    @staticmethod
    def _totals(conn: sa.Connection, target: sa.Table) -> tuple[int, int]:
        live, total = conn.execute(sa.select(
            sa.func.count().filter(target.c._deleted_at.is_(None)), sa.func.count())).one()
        return int(live), int(total) - int(live)

    def _save_load(
        self,
        conn: sa.Connection,
        table: str,
        run_id: str,
        mode: str,
        *,
        now: datetime,
        started_at: datetime,
        delta_link: str | None,
        source_count: int | None,
        upserted: int,
        deleted: int,
        totals: tuple[int, int],
        pages: int,
        requests: int,
        status: str,
        message: str | None,
        counts: RequestCounts | None = None,
        warnings: Sequence[str] = (),
    ) -> None:
        """State row + history row of a committed load (inside the load's transaction)."""
        values: dict[str, Any] = {
            "table_name": table, "warehouse_table": self.table_name(table), "mode": mode,
            "delta_link": None if mode == "full_every_run" else delta_link,
            "last_sync_at": now, "last_run_id": run_id, "rows_total": totals[0], "rows_deleted": totals[1],
            "last_rows_upserted": upserted, "last_rows_deleted": deleted, "updated_at": now,
        }
        if mode != "delta":
            values["last_full_load_at"] = now
        if source_count is not None:  # a delta usually has no fresh count: keep the last one
            values["source_count"] = source_count
        upsert_state(conn, self._state, values)
        self._insert_run(conn, run_id, table, mode, status=status, started_at=started_at, finished_at=now,
                         rows_upserted=upserted, rows_deleted=deleted, pages=pages, message=message,
                         **_counted(requests, counts, warnings))

    # --- state and history -----------------------------------------------------------------

    def get_state(self, table: str) -> SyncState | None:
        self._bootstrap()
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(self._state).where(self._state.c.table_name == table)).first()
        return SyncState.from_row(row) if row else None

    def states(self) -> list[SyncState]:
        self._bootstrap()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(self._state).order_by(self._state.c.table_name)).all()
        return [SyncState.from_row(r) for r in rows]

    def clear_tracking(self, table: str) -> bool:
        """Forget the table's delta link so its next load is a full load; False when it had no state."""
        self._bootstrap()
        with self.engine.connect() as conn, write_transaction(conn):
            result = conn.execute(self._state.update().where(self._state.c.table_name == table)
                                  .values(delta_link=None, updated_at=datetime.now(UTC)))
        return result.rowcount > 0

    def record_run(
        self,
        run_id: str,
        table: str,
        mode: str,
        *,
        status: str,
        started_at: datetime,
        finished_at: datetime | None = None,
        rows_upserted: int = 0,
        rows_deleted: int = 0,
        pages: int = 0,
        requests: int = 0,
        message: str | None = None,
        counts: RequestCounts | None = None,
        warnings: Sequence[str] = (),
    ) -> None:
        """Append a history row for a load that did not commit (failed, skipped); commits record themselves."""
        self._bootstrap()
        with self.engine.connect() as conn, write_transaction(conn):
            self._insert_run(conn, run_id, table, mode, status=status, started_at=started_at,
                             finished_at=finished_at or datetime.now(UTC), rows_upserted=rows_upserted,
                             rows_deleted=rows_deleted, pages=pages, message=message,
                             **_counted(requests, counts, warnings))

    def record_unchanged(self, table: str, run_id: str, *, started_at: datetime, message: str) -> None:
        """A table a change probe found unchanged since its stored delta link: synced as of now, like
        a delta that found nothing (``last_sync_at``, zero last counts, a ``delta`` history row of
        one request); its delta link and totals stay."""
        self._bootstrap()
        now = datetime.now(UTC)
        with self.engine.connect() as conn, write_transaction(conn):
            conn.execute(self._state.update().where(self._state.c.table_name == table).values(
                last_sync_at=now, last_run_id=run_id, last_rows_upserted=0, last_rows_deleted=0, updated_at=now))
            self._insert_run(conn, run_id, table, "delta", status="success", started_at=started_at, finished_at=now,
                             rows_upserted=0, rows_deleted=0, pages=0, message=message, requests=1)

    def _insert_run(self, conn: sa.Connection, run_id: str, table: str, mode: str, *, status: str,
                    **values: Any) -> None:
        if status not in RUN_STATUSES:
            raise WarehouseError(f"table '{table}': unknown run status {status!r} "
                                 f"(expected one of {', '.join(RUN_STATUSES)})")
        if mode not in MODES:
            raise WarehouseError(f"table '{table}': unknown load mode {mode!r} (expected one of {', '.join(MODES)})")
        conn.execute(self._runs.insert().values(run_id=run_id, table_name=table, mode=mode, status=status, **values))

    def runs(self, run_id: str | None = None, table: str | None = None) -> list[RunRecord]:
        """Run history, oldest first, optionally for one run id and/or table."""
        self._bootstrap()
        r = self._runs
        query = sa.select(*(r.c[f] for f in RunRecord.__dataclass_fields__)).order_by(r.c.id)
        if run_id is not None:
            query = query.where(r.c.run_id == run_id)
        if table is not None:
            query = query.where(r.c.table_name == table)
        with self.engine.connect() as conn:
            return [RunRecord.from_row(row) for row in conn.execute(query)]

    def run_history(self, *, table: str | None = None, run_id: str | None = None, since: datetime | None = None,
                    until: datetime | None = None, limit: int = 5000) -> list[RunRecord]:
        """History rows started in [since, until), newest ``limit`` rows, returned oldest first."""
        self._bootstrap()
        r = self._runs
        query = sa.select(*(r.c[f] for f in RunRecord.__dataclass_fields__)).order_by(r.c.id.desc()).limit(limit)
        for column, value in (("table_name", table), ("run_id", run_id)):
            if value is not None:
                query = query.where(r.c[column] == value)
        if since is not None:
            query = query.where(r.c.started_at >= since)
        if until is not None:
            query = query.where(r.c.started_at < until)
        with self.engine.connect() as conn:
            return [RunRecord.from_row(row) for row in reversed(conn.execute(query).all())]

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


def _counted(requests: int, counts: RequestCounts | None, warnings: Sequence[str]) -> dict[str, Any]:
    """The request/throttling columns and the warnings of a history row."""
    values = counts.history_values() if counts is not None else {"requests": requests}
    values["warnings"] = json.dumps(list(warnings)) if warnings else None
    return values
