"""Load sessions: stream pages into a private staging table, then apply them in one transaction.

Staging never touches the live table. ``commit`` merges the staged rows (latest event per
primary key wins), soft-deletes, optionally reconciles a full load, stores the delta link and
counts in the sync state and appends the run history — all in one database transaction. A
process killed at any point therefore leaves the previous committed state, and replaying the
same pages (from the same stored delta link) yields the same rows: upserts and deletes are
idempotent.

Staging is a TEMP table on the session's own connection: private to the session on PostgreSQL
(filled with ``COPY … FROM STDIN``) and outside the main database file on SQLite (filled with
``executemany``, so staging takes no write lock on the warehouse file). Rows are written in
chunks of ``chunk_rows``; Python never holds more than one chunk. The staging table gets its
(key, sequence) index at commit, in one sort, instead of one B-tree insert per staged row.

A load that staged no deletes (every full load) merges without the latest-event filter: on SQLite
the staged rows are applied in (key, sequence) order, so a key read twice ends with its last
version; the rows it did not see are counted from the totals instead of a per-row probe. On SQLite
the commit waits up to ``commit_wait_s`` for the file's write lock (other tables' commits).
"""

from __future__ import annotations

import io
import itertools
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..vocabulary import LoadMode, RunStatus
from .convert import RowConverter
from .engine import write_transaction
from .errors import WarehouseError
from .lookup_names import Dependent, refresh_names
from .schema import TIMESTAMP, TableLayout, sql_type
from .state_store import LoadResult, RunStats, SyncStateStore

__all__ = ["LoadResult", "LoadSession", "LoadTarget"]

log = logging.getLogger(__name__)


class LoadTarget(Protocol):
    """What a load session needs of its warehouse (``Warehouse`` is one)."""

    engine: sa.Engine
    chunk_rows: int
    commit_wait_s: float
    sync_state: SyncStateStore

    def name_dependents(self, target_table: str) -> list[Dependent]: ...


class LoadSession:
    """Created by ``Warehouse.begin_load``; use as a context manager (aborts unless committed)."""

    def __init__(self, warehouse: LoadTarget, layout: TableLayout, run_id: str, mode: LoadMode) -> None:
        self.table = layout.name
        self.run_id = run_id
        self.mode = mode
        self.started_at = datetime.now(UTC)
        self.rows_staged = 0
        self.deletes_staged = 0
        self._wh = warehouse
        self._layout = layout
        self._copy = warehouse.engine.dialect.name == "postgresql"
        self._converter = RowConverter(layout, copy=self._copy)
        self._seq = 0
        self._closed = False
        self._conn = warehouse.engine.connect()
        try:
            self._staging = self._create_staging()
        except BaseException:
            self._conn.close()
            raise
        prep = self._conn.dialect.identifier_preparer
        self._column_list = ", ".join(prep.quote(c) for c in self._converter.columns)
        marks = ", ".join("?" for _ in self._converter.columns)
        self._insert_sql = f"INSERT INTO {self._staging.name} ({self._column_list}) VALUES ({marks})"

    # --- staging ---------------------------------------------------------------------------

    def _create_staging(self) -> sa.Table:
        name = f"_hr_stg_{uuid.uuid4().hex[:12]}"
        kinds = self._layout.kinds
        target = self._layout.table.c
        cols = [sa.Column("_seq", sa.BigInteger, nullable=False), sa.Column("_op", sa.String(1), nullable=False)]
        cols += [sa.Column(c, sql_type(kinds[c]) if c in kinds else target[c].type) for c in self._layout.data_columns]
        cols.append(sa.Column("_source_version", sa.BigInteger))
        staging = sa.Table(name, sa.MetaData(), *cols, prefixes=["TEMPORARY"])
        with self._conn.begin():
            staging.create(self._conn)
        return staging

    def _index_staging(self) -> None:
        # Built once at commit, not kept up to date per staged row: sorting the staged keys once
        # costs a small fraction of inserting random GUIDs into a B-tree row by row.
        stg = self._staging
        with self._conn.begin():
            sa.Index(f"{stg.name}_pk", stg.c[self._layout.primary_key], stg.c._seq).create(self._conn)
            if self._conn.dialect.name == "postgresql":  # temp tables are never auto-analyzed; the merge plan needs stats
                self._conn.exec_driver_sql(f"ANALYZE {stg.name}")

    def stage_rows(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Stage upserted rows (wire JSON objects, annotations included); returns how many."""
        self._check_open()
        count = self._write(self._converter.upsert(row, seq) for row, seq in zip(rows, self._seqs(), strict=False))
        self.rows_staged += count
        return count

    def stage_deletes(self, ids: Iterable[str]) -> int:
        """Stage deleted Dataverse ids (``$deletedEntity`` rows); returns how many."""
        self._check_open()
        count = self._write(self._converter.delete(i, seq) for i, seq in zip(ids, self._seqs(), strict=False))
        self.deletes_staged += count
        return count

    def _seqs(self) -> Iterator[int]:
        while True:
            self._seq += 1
            yield self._seq

    def _write(self, staged: Iterator[tuple[Any, ...]]) -> int:
        total = 0
        while chunk := list(itertools.islice(staged, self._wh.chunk_rows)):
            try:
                with self._conn.begin():
                    if self._copy:
                        self._copy_chunk(chunk)
                    else:
                        self._conn.exec_driver_sql(self._insert_sql, chunk)
            except sa.exc.DBAPIError as exc:
                raise WarehouseError(f"table '{self.table}': staging failed: {_reason(exc)}") from exc
            total += len(chunk)
        return total

    def _copy_chunk(self, chunk: list[tuple[Any, ...]]) -> None:
        buffer = io.StringIO("".join("\t".join(fields) + "\n" for fields in chunk))
        with self._conn.connection.dbapi_connection.cursor() as cursor:
            cursor.copy_expert(f"COPY {self._staging.name} ({self._column_list}) FROM STDIN", buffer)

    # --- commit / abort --------------------------------------------------------------------

    def commit(
        self,
        *,
        delta_link: str | None = None,
        source_count: int | None = None,
        reconcile_deletes: bool = False,
        status: RunStatus | str = RunStatus.SUCCESS,
        stats: RunStats = RunStats(),
        delete_check: Callable[[int, int, int], str | None] | None = None,
        name_column: str | None = None,
    ) -> LoadResult:
        """Apply everything staged and record it, atomically; closes the session.

        ``delta_link``: the link from the last page (required for delta loads; None for tables
        without change tracking). ``reconcile_deletes``: a full load saw every source row, so live
        rows it did not see are soft-deleted. ``stats``: pages, request counts, message and warnings
        for the run history; ``stats.started_at`` is when the load began (its reads before staging
        included), default when this session began.

        ``delete_check(read, live, would_delete)`` is asked before reconciliation deletes anything,
        inside the transaction: ``read`` distinct rows staged, ``live`` live rows before the load,
        ``would_delete`` live rows the load did not see. A returned message holds the deletes: none
        is applied, no delta link is stored (the next load is a full one again), the history row
        gets status ``warning`` and the message.

        ``name_column``: the table's primary name column (what other tables' lookups show); the
        ``<lookup>_name`` of every dependent row pointing to a row this load wrote is set to it in
        the same transaction (``lookup_names.py``).
        """
        self._check_open()
        status = RunStatus(status)
        if self.mode == LoadMode.DELTA and not delta_link:
            raise WarehouseError(f"table '{self.table}': a delta load must store the new delta link")
        if reconcile_deletes and delete_check is None and self.rows_staged == 0 and source_count != 0:
            raise WarehouseError(f"table '{self.table}': refusing to mark every row deleted: the full load "
                                 "staged no rows (pass source_count=0 if the source table really is empty)")
        now = datetime.now(UTC)
        try:
            self._index_staging()
            # Read before the write transaction (another connection: reflection of the dependents).
            named = bool(name_column) and name_column in self._layout.data_columns
            dependents = self._wh.name_dependents(self.table) if named else []
            for attempt in itertools.count(1):
                try:
                    done = self._apply(now, delta_link=delta_link, source_count=source_count,
                                       reconcile_deletes=reconcile_deletes, status=status, stats=stats,
                                       delete_check=delete_check, name_column=str(name_column), dependents=dependents)
                    break
                except sa.exc.DBAPIError as exc:
                    if attempt >= COMMIT_ATTEMPTS or not _rolled_back_by_server(exc):
                        raise
                    # The transaction was rolled back whole; the staged rows are still in staging.
                    log.warning("table %s: commit attempt %d of %d rolled back by the database (%s); trying again",
                                self.table, attempt, COMMIT_ATTEMPTS, _reason(exc))
                    time.sleep(random.uniform(0.05, 0.5) * attempt)  # noqa: S311 - jitter, not security
        except sa.exc.DBAPIError as exc:
            self.abort()
            raise WarehouseError(f"table '{self.table}': commit failed, nothing was applied: {_reason(exc)}") from exc
        except BaseException:
            self.abort()
            raise
        self._close()
        log.info("table %s: committed %s load %s: %d upserted, %d deleted (%d reconciled)", self.table,
                 self.mode, self.run_id, done.rows_upserted, done.rows_deleted, done.rows_reconciled)
        return done

    def _apply(self, now: datetime, *, delta_link: str | None, source_count: int | None, reconcile_deletes: bool,
               status: RunStatus, stats: RunStats, delete_check: Callable[[int, int, int], str | None] | None,
               name_column: str, dependents: list[Dependent]) -> LoadResult:
        """``commit``'s one write transaction: applied whole or not at all (so it can be tried again)."""
        held = None
        with write_transaction(self._conn, lock_wait_s=self._wh.commit_wait_s):
            live_before = _totals(self._conn, self._layout.table)[0] if reconcile_deletes else 0
            upserted, deleted = self._merge(now)
            live, gone = _totals(self._conn, self._layout.table)
            reconciled = 0
            if reconcile_deletes:
                would = self._unseen_count(live, upserted)
                held = delete_check(upserted, live_before, would) if delete_check and would else None
                if held:
                    delta_link, status = None, RunStatus.WARNING
                    stats = replace(stats, message="; ".join(m for m in (stats.message, held) if m)[:4000])
                elif would:
                    reconciled = self._reconcile(now)
            # Only rows this load wrote can carry a new name: a load that upserted none (a quiet delta)
            # skips the refresh, which scans every dependent table.
            names = refresh_names(self._conn, self._layout.table, self._layout.primary_key, name_column,
                                  dependents, self.run_id) if dependents and upserted else {}
            done = LoadResult(self.table, self.run_id, self.mode, upserted, deleted + reconciled, reconciled,
                              live - reconciled, gone + reconciled, now, held, names)
            self._wh.sync_state.save_load(self._conn, done, status=status, delta_link=delta_link,
                                          source_count=source_count,
                                          stats=replace(stats, started_at=stats.started_at or self.started_at))
        return done

    def _merge(self, now: datetime) -> tuple[int, int]:
        stg, target, pk = self._staging, self._layout.table, self._layout.primary_key
        latest = sa.select(sa.func.max(stg.c._seq)).group_by(stg.c[pk])
        upsert_rows = sa.and_(stg.c._op == "u", stg.c._seq.in_(latest))
        sqlite_dialect = self._conn.dialect.name == "sqlite"
        cols = list(self._layout.data_columns)
        select = sa.select(
            *(stg.c[c] for c in cols),
            sa.literal(now, TIMESTAMP), stg.c._source_version, sa.cast(sa.null(), TIMESTAMP),
            sa.literal(self.run_id, sa.Text),
        )
        if self.deletes_staged == 0:
            # Only upserts: every staged key ends up live with its last staged version.
            upserted = self._conn.scalar(sa.select(sa.func.count(sa.distinct(stg.c[pk])))) or 0
            # SQLite applies the rows in this order, so of a key staged twice its last version is applied
            # last and wins (DO UPDATE); key order also fills the target's primary-key B-tree in order.
            # PostgreSQL refuses to update one row twice in a statement: it keeps the latest-only filter.
            select = (select.where(sa.true()).order_by(stg.c[pk], stg.c._seq) if sqlite_dialect
                      else select.where(upsert_rows))
        else:
            upserted = self._conn.scalar(sa.select(sa.func.count()).select_from(stg).where(upsert_rows)) or 0
            select = select.where(upsert_rows)
        insert = sqlite.insert if sqlite_dialect else postgresql.insert
        stmt = insert(target).from_select([*cols, "_synced_at", "_source_version", "_deleted_at", "_run_id"], select)
        refresh = [c for c in cols if c != pk] + ["_synced_at", "_source_version", "_deleted_at", "_run_id"]
        stmt = stmt.on_conflict_do_update(index_elements=[pk], set_={c: stmt.excluded[c] for c in refresh})
        self._conn.execute(stmt)
        if self.deletes_staged == 0:
            return upserted, 0
        deleted_ids = sa.select(stg.c[pk]).where(stg.c._op == "d", stg.c._seq.in_(latest))
        deleted = self._soft_delete(target.c[pk].in_(deleted_ids), now)
        return upserted, deleted

    def _unseen_count(self, live: int, upserted: int) -> int:
        """How many live rows the staged load did not see (after ``_merge``, before reconciliation)."""
        if self.deletes_staged == 0:
            # Every staged key is live after the merge and counted once in ``upserted``: the rest were unseen.
            return live - upserted
        return self._conn.scalar(sa.select(sa.func.count()).select_from(self._layout.table)
                                 .where(self._unseen())) or 0

    def _unseen(self) -> sa.ColumnElement[bool]:
        """Live rows of the target the staged load did not see."""
        stg, target, pk = self._staging, self._layout.table, self._layout.primary_key
        return sa.and_(target.c._deleted_at.is_(None), ~sa.exists().where(stg.c[pk] == target.c[pk]))

    def _reconcile(self, now: datetime) -> int:
        return self._soft_delete(self._unseen(), now)

    def _soft_delete(self, condition: sa.ColumnElement[bool], now: datetime) -> int:
        target = self._layout.table
        stmt = (target.update().where(target.c._deleted_at.is_(None), condition)
                .values(_deleted_at=now, _synced_at=now, _run_id=self.run_id))
        return self._conn.execute(stmt).rowcount

    def abort(self) -> None:
        """Discard everything staged; the warehouse keeps its previous state. Safe to call twice."""
        if not self._closed:
            self._close()

    def _close(self) -> None:
        self._closed = True
        try:
            if self._conn.in_transaction():
                self._conn.rollback()
            with self._conn.begin():
                self._staging.drop(self._conn)
        except sa.exc.DBAPIError:
            self._conn.invalidate()  # a broken connection must not go back to the pool with our temp table
        finally:
            self._conn.close()

    def _check_open(self) -> None:
        if self._closed:
            raise WarehouseError(f"table '{self.table}': this load session is already committed or aborted")

    def __enter__(self) -> LoadSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.abort()


def _totals(conn: sa.Connection, target: sa.Table) -> tuple[int, int]:
    """(live rows, soft-deleted rows) of ``target``."""
    live, total = conn.execute(sa.select(
        sa.func.count().filter(target.c._deleted_at.is_(None)), sa.func.count())).one()
    return int(live), int(total) - int(live)


# A commit the database rolled back to break a deadlock (or a serialization failure) is tried again,
# up to this many times in all. PostgreSQL: concurrent loads of two tables can each hold rows the other's
# commit updates (a table's merge vs. the lookup names another table's commit refreshes in it).
COMMIT_ATTEMPTS = 3


def _rolled_back_by_server(exc: sa.exc.DBAPIError) -> bool:
    """SQLSTATE class 40 (transaction rollback: deadlock detected, serialization failure)."""
    return str(getattr(exc.orig, "pgcode", None) or "").startswith("40")


def _reason(exc: sa.exc.DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
