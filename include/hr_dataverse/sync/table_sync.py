"""``sync_table``: bring one catalog table of the warehouse up to date with Dataverse.

Modes (``mode`` argument; ``auto`` is the scheduled default):

* ``delta`` when a delta link is stored, the table is change-tracked and the link still selects
  the catalog's columns: follow the link, apply upserts and ``$deletedEntity`` rows, store the new
  link in the same transaction as the rows (``LoadSession.commit``). A crash anywhere leaves the
  previous link with the previous rows, so a rerun replays the same changes: no gap, no double apply.
* ``full`` when nothing is stored (first run, tracking cleared), when asked, when the stored link no
  longer fits the column selection (drift), or as the automatic fallback when the delta link is
  expired or refused. The change-tracking initial read streams pages into the load; its last
  page's delta link is the baseline for the next run, committed with the rows. Rows the source no
  longer has are soft-deleted (delete reconciliation).
* ``full_every_run`` for tables without change tracking: a full read with reconciliation, every
  run, with a warning saying so.

Large tables (catalog ``partition_by_key`` or more than ``partition_threshold`` rows) are read as
key-range partitions in parallel threads, bounded by the ``ConcurrencyBudget``.

Safety: every delete reconciliation passes the delete guard first (``delete_guard.py``: no delete
when the read came back short of Dataverse's count or would delete too much; the result then has
``deletes_held`` and no delta link is stored). A stored delta link on another host than the
environment URL is stale: never followed, the table resyncs in full with a warning naming both
hosts. The whole call holds the table's load lock (``Warehouse.load_lock``): one load per table at
a time across processes; after ``lock_wait_s`` the call returns status ``skipped``. A load
refreshes the ``<lookup>_name`` columns of other tables pointing to the rows it wrote.

Failures raise (and are recorded in the run history); other tables' state is never touched, so
the caller decides whether the run continues. Nothing here imports Airflow.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

from ..dataverse import ChangePage, ChangeTrackingNotEnabled, DeltaTokenExpired, lookup_targets
from ..dataverse.settings import MAX_PAGE_SIZE
from ..vocabulary import LoadMode, RunStatus, SyncMode
from ..warehouse import DEFAULT_LOCK_WAIT_S, LoadResult, LoadSession, RequestCounts, RunStats, TableBusyError
from .budget import ConcurrencyBudget
from .counts import SourceCount, source_count, unchanged_count
from .delete_guard import DeleteEvidence, DeleteGuardSettings, DeleteHold, judge
from .errors import SyncError
from .parallel import read_ahead, read_partitions
from .partitions import KeyRange, RangeCutter, guid_boundaries, key_ranges
from .prepare import PreparedTable, prepare_table
from .reader import link_select, plain_pages, tracked_pages
from .result import TableSyncResult

if TYPE_CHECKING:
    from ..catalog import TableSpec
    from ..dataverse import DataverseClient
    from ..warehouse import Warehouse
    from .metadata_cache import RunMetadata

DEFAULT_PARTITION_THRESHOLD = 100_000
MAX_PARTITIONS = 16
NO_BASELINE = ("Dataverse ended the change-tracking read without a delta link (a known service issue "
               "with annotations); the rows are loaded, and the next run is a full load again")
_log = logging.getLogger("hr_dataverse.sync")


class _NoNewDeltaLink(Exception):
    """A delta read ended without a new delta link: the changes cannot be committed safely."""


def sync_table(
    client: DataverseClient,
    warehouse: Warehouse,
    spec: TableSpec,
    *,
    mode: SyncMode | str = SyncMode.AUTO,
    run_id: str,
    page_size: int = MAX_PAGE_SIZE,
    concurrency: ConcurrencyBudget | None = None,
    log: logging.Logger = _log,
    partition_threshold: int = DEFAULT_PARTITION_THRESHOLD,
    baseline_overlap: bool = True,
    delete_guard: DeleteGuardSettings | None = None,
    lock_wait_s: float = DEFAULT_LOCK_WAIT_S,
    metadata: RunMetadata | None = None,
) -> TableSyncResult:
    """Sync one table; returns a small JSON-able summary (``.to_dict()``) or raises.

    :param mode: ``auto``, ``full`` or ``delta`` (see the module docstring). ``delta`` without a
        usable delta link, or on a table without change tracking, falls back with a warning.
    :param run_id: recorded in the warehouse rows and run history (e.g. the Airflow run id).
    :param concurrency: shared by this call's partition threads; default sized from the client
        (``max_concurrency``, lowered to ``x-ms-dop-hint``).
    :param baseline_overlap: read a large table's key ranges while its change-tracking baseline is
        still paging (see ``partitioned_full_load``); False waits for the whole baseline first.
    :param delete_guard: when a full read's deletes are held (``delete_guard.py``); default settings
        when None. A held load returns status ``warning`` with ``deletes_held`` set.
    :param lock_wait_s: how long to wait while another process loads the same table (the load lock,
        ``Warehouse.load_lock``); after that the call returns status ``skipped`` without loading.
    :param metadata: the run's metadata, read once for all its tables (``RunMetadata.fetch``); None:
        the table reads its own.
    :raises SyncError: bad arguments, or catalog columns the source does not have.
    :raises SchemaDriftError: an incompatible source change (names the column).
    :raises DataverseError / WarehouseError: the table could not be read or written.
    """
    try:
        requested = SyncMode(mode)
    except ValueError as exc:
        raise SyncError(spec.name, str(exc)) from None
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise SyncError(spec.name, f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
    if not run_id:
        raise SyncError(spec.name, "run_id must not be empty")
    run = _TableRun(_RunInputs(client, warehouse, spec, run_id, page_size, concurrency, log, partition_threshold,
                               baseline_overlap, delete_guard or DeleteGuardSettings(), metadata))
    try:
        with warehouse.load_lock(spec.name, wait_s=lock_wait_s):
            return run.execute(requested)
    except TableBusyError as exc:
        return run.skipped(exc)
    except Exception as exc:
        run.record_failure(exc)
        raise


@dataclass(frozen=True)
class _RunInputs:
    """The checked arguments of one ``sync_table`` call."""

    client: DataverseClient
    warehouse: Warehouse
    spec: TableSpec
    run_id: str
    page_size: int
    budget: ConcurrencyBudget | None  # None: sized from the client once the table is prepared
    log: logging.Logger
    partition_threshold: int
    baseline_overlap: bool
    guard: DeleteGuardSettings
    metadata: RunMetadata | None = None  # the run's metadata, read once for all its tables


@dataclass(frozen=True)
class _RangeRead:
    """A full read as key ranges in parallel; the delta link, if any, comes from ``baseline``."""

    ranges: Iterable[KeyRange]
    baseline: _Baseline | None = None
    beside_baseline: bool = False  # the ranges are cut while the baseline is still paging (it reads Dataverse)


class _TableRun:
    """Bookkeeping of one ``sync_table`` call (counters, warnings, the load mode) and its history rows."""

    def __init__(self, inputs: _RunInputs) -> None:
        self.inputs = inputs
        self.spec = inputs.spec
        self.log = inputs.log
        self.hold: DeleteHold | None = None
        self.warnings: list[str] = []
        self.pages = 0
        self.load_mode = LoadMode.FULL
        self.started = time.monotonic()
        self.started_at = datetime.now(UTC)
        self.stats_at_start = _counts(inputs.client)
        self.count = SourceCount(None, "")
        self.name_column: str | None = None

    def execute(self, mode: SyncMode) -> TableSyncResult:
        # The load starts once it holds the table's lock: waiting for another load is not its duration.
        self.started, self.started_at = time.monotonic(), datetime.now(UTC)
        inputs = self.inputs
        prepared = prepare_table(inputs.client, inputs.warehouse, self.spec, inputs.metadata)
        self.name_column = prepared.entity.primary_name
        for warning in prepared.drift.warnings:
            self.warn(warning, logged=True)
        self.record_lookup_targets()
        budget = inputs.budget if inputs.budget is not None else ConcurrencyBudget.for_client(inputs.client)
        return _Loads(self, prepared, budget).execute(mode)

    # --- bookkeeping -----------------------------------------------------------------------

    def stage(self, load: LoadSession, page: ChangePage) -> None:
        self.pages += 1
        load.stage_rows(page.upserts)
        if page.deleted_ids:
            load.stage_deletes(page.deleted_ids)

    def commit(self, load: LoadSession, mode: LoadMode, reason: str, link: str | None, *,
               partitions: int = 1) -> TableSyncResult:
        """Commit the staged load (delete reconciliation for full reads) and summarise it."""
        counts = self.stats()
        requests = counts.requests
        status = RunStatus.WARNING if self.warnings else RunStatus.SUCCESS
        reconcile = mode.reads_everything
        done: LoadResult = load.commit(
            delta_link=link, source_count=self.count.value, reconcile_deletes=reconcile, status=status,
            stats=RunStats(pages=self.pages, counts=counts, message="; ".join([reason, *self.warnings])[:4000],
                           warnings=tuple(self.warnings), started_at=self.started_at),
            delete_check=self.check_deletes if reconcile else None, name_column=self.name_column,
        )
        for dependent, renamed in done.names_refreshed.items():
            if renamed:
                self.log.info("table %s: %d row(s) of %s now show the renamed %s", self.spec.name, renamed,
                              dependent, self.spec.name)
        if done.deletes_held and self.hold is not None:
            status, link = RunStatus.WARNING, None
            self.warn(self.hold.message)
        self.log.info("table %s: %s load done: %d upserted, %d deleted, %d live rows, %d pages, %d requests",
                      self.spec.name, mode, done.rows_upserted, done.rows_deleted, done.rows_total, self.pages,
                      requests)
        return TableSyncResult(
            table=self.spec.name, mode_used=mode, reason=reason, rows_upserted=done.rows_upserted,
            rows_deleted=done.rows_deleted, pages=self.pages, requests=requests, throttled=counts.throttled,
            wait_seconds=round(counts.wait_seconds, 3), retries=counts.retries,
            seconds=round(time.monotonic() - self.started, 3), delta_link_stored=bool(link),
            warnings=list(self.warnings), source_count=self.count.value,
            source_count_method=self.count.method or None, partitions=partitions, rows_total=done.rows_total,
            status=status, deletes_held=self.hold.to_dict() if done.deletes_held and self.hold else None,
        )

    def record_lookup_targets(self) -> None:
        """Record where the catalog's lookups of this table point, once (for ``<lookup>_name`` refreshes)."""
        if not self.spec.lookups:
            return
        warehouse = self.inputs.warehouse
        known = warehouse.lookup_targets(self.spec.name)
        if set(self.spec.lookups) <= set(known):
            return
        targets = lookup_targets(self.inputs.client, self.spec.name)
        warehouse.set_lookup_targets(self.spec.name, {k: v for k, v in targets.items() if k in self.spec.lookups})

    def check_deletes(self, read: int, live: int, would_delete: int) -> str | None:
        """``LoadSession.commit``'s ``delete_check``: the guard's verdict on this full read."""
        self.hold = judge(self.spec.name, DeleteEvidence(read, live, would_delete), self.count, self.inputs.guard)
        return self.hold.message if self.hold else None

    def skipped(self, busy: TableBusyError) -> TableSyncResult:
        """Another process held the table's load lock for longer than the wait: nothing was loaded."""
        self.log.warning("%s", busy)
        try:
            self.inputs.warehouse.record_run(self.inputs.run_id, self.spec.name, self.load_mode,
                                             status=RunStatus.SKIPPED, started_at=self.started_at,
                                             stats=RunStats(message=str(busy)[:4000], warnings=(str(busy),)))
        except Exception as record_exc:  # noqa: BLE001 - the skip is reported either way
            self.log.error("table %s: could not record the skipped run: %s", self.spec.name, record_exc)
        return TableSyncResult(table=self.spec.name, mode_used=self.load_mode, reason=str(busy),
                               seconds=round(time.monotonic() - self.started, 3), warnings=[str(busy)],
                               status=RunStatus.SKIPPED)

    def stats(self) -> RequestCounts:
        """The client's counters since this load started."""
        now, start = _counts(self.inputs.client), self.stats_at_start
        return RequestCounts(requests=now.requests - start.requests, throttled=now.throttled - start.throttled,
                             wait_seconds=now.wait_seconds - start.wait_seconds, retries=now.retries - start.retries)

    def warn(self, message: str, *, logged: bool = False) -> None:
        """Record a warning for the result and the run history; log it unless already logged."""
        self.warnings.append(message)
        if not logged:
            self.log.warning(message)

    def record_failure(self, exc: Exception) -> None:
        """Append a failed run to the history; the table's state and rows stay as they were."""
        message = f"{type(exc).__name__}: {exc}"
        self.log.error("table %s: sync failed: %s", self.spec.name, message)
        stats = RunStats(pages=self.pages, counts=self.stats(), message="; ".join([message, *self.warnings])[:4000],
                         warnings=tuple(self.warnings))
        try:
            self.inputs.warehouse.record_run(self.inputs.run_id, self.spec.name, self.load_mode,
                                             status=RunStatus.FAILED, started_at=self.started_at, stats=stats)
        except Exception as record_exc:  # noqa: BLE001 - the original error matters more; say why history lacks it
            self.log.error("table %s: could not record the failed run: %s", self.spec.name, record_exc)


class _Loads:
    """The loads of one prepared table: which one to run (``plan``) and how each reads Dataverse."""

    def __init__(self, run: _TableRun, prepared: PreparedTable, budget: ConcurrencyBudget) -> None:
        self.run, self.prepared, self.budget = run, prepared, budget
        self.inputs, self.spec = run.inputs, run.spec

    def execute(self, mode: SyncMode) -> TableSyncResult:
        run, name, prepared = self.run, self.spec.name, self.prepared
        load_mode, reason = self.plan(mode)
        run.load_mode = load_mode
        run.log.info("table %s: %s load (%s)", name, load_mode, reason)
        if load_mode is LoadMode.DELTA:
            assert prepared.state is not None and prepared.state.delta_link  # plan() chose delta because of it
            try:
                return self.delta(prepared.state.delta_link, reason)
            except DeltaTokenExpired as exc:
                run.warn(f"table '{name}': the stored delta link is expired or invalid ({exc.message}); "
                         "running a full resync with delete reconciliation")
                run.load_mode, reason = LoadMode.FULL, "full resync: delta link expired or invalid"
            except _NoNewDeltaLink:
                run.warn(f"table '{name}': the delta read ended without a new delta link; "
                         "running a full resync with delete reconciliation")
                run.load_mode, reason = LoadMode.FULL, "full resync: the delta read returned no new delta link"
            except ChangeTrackingNotEnabled:
                return self.untracked_fallback()
        if run.load_mode is LoadMode.FULL:
            try:
                return self.full_load(reason)
            except ChangeTrackingNotEnabled:
                return self.untracked_fallback()
        return self.untracked_load(reason)

    def plan(self, mode: SyncMode) -> tuple[LoadMode, str]:
        """(load mode, reason) for the requested sync mode; warns about every fallback."""
        name, prepared, warn = self.spec.name, self.prepared, self.run.warn
        link = prepared.state.delta_link if prepared.state else None
        if not prepared.entity.change_tracking_enabled:
            if link:
                warn(f"table '{name}': change tracking was turned off in Dataverse since the last run; "
                     "its stored delta link is dropped")
            warn(_no_tracking_warning(name))
            return LoadMode.FULL_EVERY_RUN, "no change tracking on the table: full reload with delete reconciliation"
        if mode is SyncMode.FULL:
            return LoadMode.FULL, "full load requested"
        if not link:
            if mode is SyncMode.DELTA:
                warn(f"table '{name}': delta requested but no delta link is stored; running a full load")
            return LoadMode.FULL, "no delta link stored (first load, or tracking information was cleared)"
        foreign = _foreign_host(link, self.inputs.client.settings.environment_root)
        if foreign:
            warn(f"table '{name}': the stored delta link is on {foreign[0]}, but the connection's environment "
                 f"URL is now on {foreign[1]}; the link is stale and is not followed: running a full resync "
                 "with delete reconciliation")
            return LoadMode.FULL, f"full resync: the environment host changed from {foreign[0]} to {foreign[1]}"
        stale = self.stale_link(link)
        if stale:
            if mode is SyncMode.DELTA:
                warn(f"table '{name}': delta requested but {stale}; running a full load")
            return LoadMode.FULL, stale
        return LoadMode.DELTA, "following the stored delta link"

    def stale_link(self, link: str) -> str | None:
        """Why the stored delta link cannot bring this table up to date, or None.

        The link's ``$select`` is fixed at the baseline: after the selection changed a delta would
        deliver rows without the new columns (or fail on a removed one), and rows synced before a
        column was added never get its values; a full load fills them.
        """
        drift = self.prepared.drift
        added = [] if drift.created else drift.added
        if added:
            return f"column(s) {', '.join(added)} were added to the warehouse table; a full load fills them"
        if set(link_select(link)) != set(self.prepared.select):
            return "the column selection changed since the delta link was taken"
        return None

    # --- loads -----------------------------------------------------------------------------

    def delta(self, link: str, reason: str) -> TableSyncResult:
        pages = tracked_pages(self.inputs.client, link, select=None, page_size=self.inputs.page_size)
        return self.load(LoadMode.DELTA, reason, read_ahead(pages))

    def full_load(self, reason: str) -> TableSyncResult:
        """Change-tracking full load (the baseline link is committed with the rows)."""
        self.run.load_mode = LoadMode.FULL
        self.take_count()  # before the read: the delete guard judges the read against it
        if self.partitions() > 1:
            return self.partitioned_full_load(reason)
        pages = tracked_pages(self.inputs.client, self.prepared.entity_set, select=self.prepared.select,
                              page_size=self.inputs.page_size)
        return self.load(LoadMode.FULL, reason, read_ahead(pages))

    def partitioned_full_load(self, reason: str) -> TableSyncResult:
        """The change-tracking baseline and the data, read side by side.

        Change tracking refuses ``$filter``, so the baseline (the delta link) is its own tracked
        read, with every catalog column because a delta link keeps the ``$select`` it was taken
        with. It walks the keys in Dataverse's order, one page at a time, and each page's first key closes a key range of about one page (``RangeCutter``), which the
        other workers read with every catalog column while the baseline goes on: the load takes
        about as long as the baseline's own page chain, not the chain plus the data.

        Every range is read after the baseline's first page was answered (with ``baseline_overlap``
        off, after its last). Dataverse fixes the
        delta token no later than that (the emulator pins it in the first page's paging cookie; on
        Dataverse itself UNCONFIRMED, but a token fixed later would lose changes for every client
        that pages a tracked read, Microsoft's own samples included), so it is not newer than any
        row read: every later change comes again with the next delta, where upserts and deletes are
        idempotent. Rows the source no longer has are soft-deleted by reconciliation.
        """
        inputs = self.inputs
        baseline = _Baseline(inputs.client, self.prepared.entity_set, self.spec.primary_key, self.prepared.select,
                             inputs.page_size, self.budget)
        if inputs.baseline_overlap:
            return self.parallel_load(LoadMode.FULL, reason, _RangeRead(baseline, baseline, beside_baseline=True))
        # Not overlapping: walk the whole baseline first (one key per page kept), then the ranges.
        return self.parallel_load(LoadMode.FULL, reason, _RangeRead(list(baseline), baseline))

    def untracked_load(self, reason: str) -> TableSyncResult:
        """Full read without change tracking (``full_every_run``): nothing to baseline."""
        self.run.load_mode = LoadMode.FULL_EVERY_RUN
        self.take_count()  # before the read: the delete guard judges the read against it
        parts = self.partitions()
        if parts > 1:
            # No key sample without a tracked read: spread ranges over the GUID key space.
            return self.parallel_load(LoadMode.FULL_EVERY_RUN, reason, _RangeRead(key_ranges(guid_boundaries(parts))))
        pages = plain_pages(self.inputs.client, self.prepared.entity_set, select=self.prepared.select,
                            page_size=self.inputs.page_size)
        return self.load(LoadMode.FULL_EVERY_RUN, reason, read_ahead(pages))

    def untracked_fallback(self) -> TableSyncResult:
        self.run.warn(f"table '{self.spec.name}': Dataverse refused change tracking for the table although its "
                      "metadata says it is enabled; reloading it fully with delete reconciliation")
        return self.untracked_load("change tracking refused: full reload with delete reconciliation")

    def parallel_load(self, mode: LoadMode, reason: str, read: _RangeRead) -> TableSyncResult:
        """Read the key ranges of ``read`` in parallel into one load."""
        inputs, prepared, pk = self.inputs, self.prepared, self.spec.primary_key
        taken = [0]

        def counted() -> Iterator[KeyRange]:  # walked by read_partitions' one range thread
            for key_range in read.ranges:
                taken[0] += 1
                yield key_range

        def source(key_range: KeyRange) -> Iterator[ChangePage]:
            return plain_pages(inputs.client, prepared.entity_set, select=prepared.select, page_size=inputs.page_size,
                               filter=key_range.filter(pk))

        self.run.log.info("table %s: reading key ranges with up to %d parallel requests%s", self.spec.name,
                          self.budget.limit, " beside the change-tracking baseline" if read.baseline else "")
        pages = read_partitions(counted(), source, self.budget, ranges_read_dataverse=read.beside_baseline)
        return self.load(mode, reason, pages, baseline=read.baseline, partitions=lambda: taken[0])

    def load(self, mode: LoadMode, reason: str, pages: Iterator[ChangePage], *,
             baseline: _Baseline | None = None, partitions: Callable[[], int] = lambda: 1) -> TableSyncResult:
        """Stage ``pages`` into one load and commit it. The delta link is the last page's (a tracked
        read's), or ``baseline``'s when the pages are key ranges; a read of every row reconciles deletes."""
        run = self.run
        with self.inputs.warehouse.begin_load(self.spec.name, self.inputs.run_id, mode) as load, closing(pages):
            link = None
            for page in pages:
                run.stage(load, page)
                link = page.delta_link
                del page  # staged: its rows must not stay alive while the next page is read
            if baseline is not None:
                run.pages += baseline.pages
                link = baseline.link
            if mode is LoadMode.FULL_EVERY_RUN:
                link = None  # nothing to baseline
            elif mode is LoadMode.DELTA and not link:
                raise _NoNewDeltaLink()
            elif mode is LoadMode.DELTA:
                if load.rows_staged or load.deletes_staged:
                    self.take_count()
                else:  # nothing changed since the link was taken: neither did the count
                    run.count = unchanged_count(self.previous_count())
            elif not link:
                run.warn(f"table '{self.spec.name}': {NO_BASELINE}")
            return run.commit(load, mode, reason, link, partitions=partitions())

    def take_count(self) -> None:
        """Count the source now, once per call (a delta that fell back to a full read counts once)."""
        run = self.run
        if run.count.method:
            return
        metadata = self.inputs.metadata
        run.count = source_count(self.inputs.client, self.spec.name, self.prepared.entity_set,
                                 previous=self.previous_count(),
                                 snapshots=metadata.snapshots if metadata else None)
        if run.count.problem:
            run.warn(f"table '{self.spec.name}': no source count ({run.count.problem})")

    def previous_count(self) -> int | None:
        state = self.prepared.state
        return state.source_count if state else None

    def partitions(self) -> int:
        """How many key ranges a full read of this table should use (1 = read sequentially)."""
        rows = self.run.count.value or 0
        page_size, limit = self.inputs.page_size, self.budget.limit
        if limit < 2 or rows <= page_size:
            return 1  # nothing to overlap: one worker, or a single page
        if not (self.spec.partition_by_key or rows >= self.inputs.partition_threshold):
            return 1
        return max(2, min(MAX_PARTITIONS, 4 * limit, math.ceil(rows / page_size)))


def _counts(client: DataverseClient) -> RequestCounts:
    stats = client.stats
    return RequestCounts(requests=stats.requests, throttled=stats.throttled_429, wait_seconds=stats.wait_seconds,
                         retries=stats.retries)


class _Baseline:
    """The change-tracking baseline read of one table, as an iterator of key ranges (``RangeCutter``).

    Each request holds a slot of ``budget``; ``read_partitions`` walks it in a thread of its own,
    beside the workers reading the ranges. ``link`` is the delta link once it is exhausted.
    """

    def __init__(self, client: DataverseClient, entity_set: str, primary_key: str, select: Sequence[str],
                 page_size: int, budget: ConcurrencyBudget) -> None:
        self.link: str | None = None
        self.pages = 0
        self._pk = primary_key
        self._budget = budget
        self._cutter = RangeCutter()
        # The delta link is bound to the $select of the read that produced it (Dataverse documents the
        # link as the original URL plus the token; the emulator refuses it with another $select), so the
        # baseline reads every catalog column although the ranges read the rows too.
        self._source = tracked_pages(client, entity_set, select=select, page_size=page_size,
                                     annotations=False)
        self._done = False

    def __iter__(self) -> Iterator[KeyRange]:
        return self

    def __next__(self) -> KeyRange:
        while not self._done:
            with self._budget:
                page = next(self._source, None)
            if page is None:
                self._done = True
                return self._cutter.finish()
            self.pages += 1
            self.link = page.delta_link or self.link
            closed = self._cutter.page(page.upserts[0][self._pk] if page.upserts else None)
            if closed is not None:
                return closed
        raise StopIteration


def _foreign_host(link: str, environment_root: str) -> tuple[str, str] | None:
    """(link host, environment host) when an absolute ``link`` is on another origin than the environment."""
    theirs, ours = urlsplit(link), urlsplit(environment_root)
    if not theirs.scheme:
        return None  # relative: resolved against the environment URL
    if _origin(theirs) == _origin(ours):
        return None
    return theirs.netloc, ours.netloc


def _origin(parts: SplitResult) -> tuple[str, str, int | None]:
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or default


def _no_tracking_warning(table: str) -> str:
    return (f"table '{table}' has no change tracking in Dataverse, so it is fully reloaded (with delete "
            "reconciliation) on every run; turn on 'Track changes' for the table to sync only changes")
