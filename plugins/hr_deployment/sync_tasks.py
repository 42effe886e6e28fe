"""Task bodies of the ``hr_dataverse_sync`` DAG: resolve the tables, load one table, summarise.

The DAG file only wires these. Each load builds its own Dataverse client and warehouse inside the
task and returns a small summary (``TableSyncResult.to_dict()``); rows never pass through XCom.

Failures: a set-up or data problem that a retry cannot fix (privileges, a missing table or column,
an incompatible schema change, a bad catalog) fails the task at once with one line of cause and
fix; throttling, 5xx and dropped connections are left to Airflow's retries. An *optional* catalog
table (``required: false``) that cannot be read is skipped with a warning instead.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from dataverse_provider.hooks.dataverse import DataverseHook
from hr_deployment.assets import SYNC_ALIAS, asset_event_extra, table_asset

if TYPE_CHECKING:
    from hr_dataverse.catalog import TableSpec

log = logging.getLogger(__name__)

MAX_DELETE_PERCENT_ENV = "HR_DATAVERSE_MAX_DELETE_PERCENT"
LOCK_WAIT_ENV = "HR_DATAVERSE_LOAD_LOCK_WAIT_S"


def selected_specs(names: Sequence[str] | None) -> list[TableSpec]:
    """The selected catalog entries (all for an empty selection), in catalog order, from one read of
    the catalog; a catalog problem fails the task naming every problem."""
    from dataverse_provider.environment import configured_catalog
    from hr_dataverse.catalog import CatalogError
    from hr_dataverse.sync import select_tables

    try:
        return select_tables(configured_catalog(), names)
    except CatalogError as exc:
        raise AirflowFailException("\n".join(exc.problems)) from None


def resolve_tables(names: Sequence[str] | None) -> dict[str, list[str]]:
    """The selected catalog tables (all for an empty selection), in catalog order: ``all``, and split
    into ``regular`` (read page by page) and ``large`` (``partition_by_key``: read as key ranges)."""
    specs = selected_specs(names)
    return {
        "all": [s.name for s in specs],
        "regular": [s.name for s in specs if not s.partition_by_key],
        "large": [s.name for s in specs if s.partition_by_key],
    }


def biggest_first(names: Sequence[str], conn_id: str) -> list[str]:
    """``names`` in the order their loads should start (``hr_dataverse.sync.start_order``): the
    scheduler starts mapped task instances of one priority in map-index order. Sizes are the rows
    each table's last load stored; tables never loaded are sized by one ``RetrieveTotalRecordCount``
    request. Best effort: a table that cannot be sized keeps its catalog place."""
    if len(names) < 2:
        return list(names)
    from dataverse_provider.edge import task_session
    from hr_dataverse.sync.start_order import start_order, table_sizes

    specs = selected_specs(names)
    with task_session("table start order", conn_id) as session:
        stored = {s.table_name: s.rows_total or 0 for s in session.warehouse.states()}
        unsized = any(s.name not in stored and not s.fno_entity for s in specs)
        sizes = table_sizes(session.client if unsized else None, specs, stored)
    return [s.name for s in start_order(specs, sizes)]


def delete_guard(allow_mass_delete: bool = False, max_delete_percent: float | None = None) -> Any:
    """The delete guard's settings for one run: ``max_delete_percent`` from the trigger form when set
    there, else ``$HR_DATAVERSE_MAX_DELETE_PERCENT`` (the deployment's), else 5; ``allow_mass_delete``
    only from the form (a standing allowance would switch the guard off for every scheduled run)."""
    from hr_dataverse.sync import DeleteGuardSettings

    percent = max_delete_percent
    if percent is None:
        raw = os.environ.get(MAX_DELETE_PERCENT_ENV, "").strip()
        try:
            percent = float(raw) if raw else None
        except ValueError:
            raise AirflowFailException(f"{MAX_DELETE_PERCENT_ENV} must be a number of percent (e.g. 5), "
                                       f"got {raw!r}") from None
    if percent is not None and not 0 <= percent <= 100:
        raise AirflowFailException(f"max_delete_percent must be between 0 and 100, got {percent}")
    fraction = DeleteGuardSettings.max_delete_fraction if percent is None else percent / 100
    return DeleteGuardSettings(max_delete_fraction=fraction, allow_mass_delete=bool(allow_mass_delete))


def lock_wait_s() -> float:
    """How long a load waits for another load of the same table (``$HR_DATAVERSE_LOAD_LOCK_WAIT_S``)."""
    from hr_dataverse.warehouse import DEFAULT_LOCK_WAIT_S

    raw = os.environ.get(LOCK_WAIT_ENV, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_LOCK_WAIT_S
    except ValueError:
        value = -1.0
    if value < 0:
        raise AirflowFailException(f"{LOCK_WAIT_ENV} must be a number of seconds (0 or more), got {raw!r}")
    return value


def baseline_overlap() -> bool:
    """Whether a baseline's key ranges are read while its key walk runs (``$HR_DATAVERSE_BASELINE_OVERLAP``)."""
    from dataverse_provider.environment import baseline_overlap as configured

    try:
        return configured()
    except ValueError as exc:
        raise AirflowFailException(str(exc)) from None


def load_table(table: str, *, mode: str, slots: int, run_id: str, outlet_events: Any = None,
               conn_id: str = DataverseHook.default_conn_name, guard: Any = None, mapping: Any = None
               ) -> dict[str, Any]:
    """Sync one table with at most ``slots`` requests in flight (the pool slots the task holds, capped
    by the connection's ``max_concurrency``); add the table's asset event to :data:`SYNC_ALIAS` when
    the load changed it.

    ``guard``: the ``DeleteGuardSettings`` (default: :func:`delete_guard`). When it held a full
    read's deletes the task FAILS after the rows read were committed (see ``fail_on_held_deletes``);
    when another process held the table's load lock past the wait, the load is skipped with a warning.
    ``mapping`` is the run's ``urs_mapping`` form value: tables only the mapping needs (catalog
    ``required: mapping``) are optional while it is off. ``conn_id``: the Dataverse connection.
    """
    from dataverse_provider.edge import task_session, to_xcom
    from dataverse_provider.environment import configured_catalog
    from dataverse_provider.run_settings import mapping_enabled
    from hr_dataverse.catalog import CatalogError
    from hr_dataverse.sync import ConcurrencyBudget, TableSyncResult, sync_table

    try:
        catalog = configured_catalog()  # one read: each parses and validates the YAML
        spec = catalog.get(table)
        if spec.required_for_mapping:
            spec = catalog.with_mapping(mapping_enabled(mapping)).get(table)
    except CatalogError as exc:
        raise AirflowFailException("\n".join(exc.problems)) from None
    started = time.monotonic()
    skipped: dict[str, Any] = {}
    try:
        with task_session(f"table '{table}'", conn_id) as session:
            # Never more requests in flight than the pool slots held, nor than the connection allows.
            budget = ConcurrencyBudget(min(slots, session.client.settings.max_concurrency))
            guard = guard if guard is not None else delete_guard()
            if spec.fno_entity:  # finance and operations OData: a full reload every run
                from hr_deployment.fno_tasks import sync_fno

                outcome = sync_fno(session.hook, session.warehouse, spec, run_id, guard=guard)
            else:
                # An optional table that cannot be read is expected: its failure is a warning, not an error.
                table_log = log if spec.required else _WarningsOnly(log, {})
                outcome = sync_table(session.client, session.warehouse, spec, mode=mode, run_id=run_id,
                                     concurrency=budget, delete_guard=guard, lock_wait_s=lock_wait_s(),
                                     baseline_overlap=baseline_overlap(),
                                     log=table_log)  # type: ignore[arg-type]
    except AirflowFailException as error:  # mapped by the edge from a core error a retry cannot fix
        core_error = getattr(error, "core_error", None)
        if spec.required or core_error is None:
            raise
        reason = skip_reason(core_error)
        log.warning("optional table %s %s: %s", table, reason, error)
        outcome = TableSyncResult.failure(table, mode, error, seconds=time.monotonic() - started)
        skipped = {"required": False, "skipped": reason}
    result = to_xcom(outcome, **skipped)  # the one conversion of the core's result for XCom
    fail_on_held_deletes(result)
    extra = asset_event_extra(result)
    if outlet_events is not None and extra is not None:
        outlet_events[SYNC_ALIAS].add(table_asset(table), extra=extra)
    return result


def fail_on_held_deletes(result: dict[str, Any]) -> None:
    """Fail the load task when the delete guard held deletes.

    Airflow has no "warning" task state: a task that returns is green. A held reconciliation means
    the warehouse may now keep rows Dataverse deleted (or the read was short), which a person must
    look at, so the task fails: red in the grid, failure notifiers fire, the run ends failed (the
    summary is skipped, the watcher fails the run). No retry: the same read would be held again;
    the next scheduled run reads the table in full again (no delta link was stored). What was read
    is committed, so failing loses no work.
    """
    from hr_dataverse.alerts import AlertEvent

    held = result.get("deletes_held")
    if held:
        error = AirflowFailException(f"{held['message']} (cause: {held['cause']})")
        error.alert_event = AlertEvent.SHORT_READ  # type: ignore[attr-defined]  # the load's alert callback keys on it
        raise error


class _WarningsOnly(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The sync's log for an optional table: what would be an ERROR is logged as a WARNING."""

    def error(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.warning(msg, *args, **kwargs)


def skip_reason(exc: BaseException) -> str:
    """Why an optional table was skipped, for the log and the run summary."""
    from hr_dataverse.dataverse import NotFound, PermissionDenied

    if isinstance(exc, PermissionDenied):
        return "skipped (optional, no read privilege)"
    if isinstance(exc, NotFound):
        return "skipped (optional, not in this environment)"
    return "skipped (optional, could not be read)"


def summarize(selected: Sequence[str], *results: Sequence[dict[str, Any]] | None) -> dict[str, Any]:
    """The run summary over the load tasks' results (``run_summary`` plus the tables that did not
    report and the optional tables skipped); logs it, fails when a selected table has no result."""
    from dataverse_provider.edge import to_xcom
    from hr_dataverse.sync import run_summary
    from hr_dataverse.vocabulary import RunStatus

    # Index up to len(): iterating Airflow's lazy XCom sequence probes past its end and logs an error.
    rows = [r for group in results if group for r in (group[i] for i in range(len(group))) if r]
    summary = to_xcom(run_summary(rows))  # the one conversion of the core's summary for XCom
    skipped = sorted(r["table"] for r in rows if r.get("status") == RunStatus.FAILED and r.get("required") is False)
    reasons = {r["table"]: r.get("skipped") or "skipped (optional)" for r in rows if r["table"] in skipped}
    for table in skipped:  # the line says what happened, not "failed"
        summary["by_table"][table]["status"] = reasons[table]
    missing = [t for t in selected if t not in summary["by_table"]]
    failed = [t for t in summary["failed"] if t not in skipped]
    summary.update(failed=failed, skipped_optional=skipped, skipped=reasons, not_synced=missing)
    log.info("synced %d of %d tables: %d rows upserted, %d soft-deleted, %d requests in %.1f s",
             summary["succeeded"], len(selected), summary["rows_upserted"], summary["rows_deleted"],
             summary["requests"], summary["seconds"])
    for mode, tables in summary["modes"].items():
        log.info("%s: %s", mode, ", ".join(tables))
    for table, line in summary["by_table"].items():
        if table in skipped:
            log.warning("  %-34s %s", table, reasons[table])
            continue
        log.info("  %-34s %-14s %-8s +%s -%s live=%s", table, line["mode_used"], line["status"],
                 line["rows_upserted"], line["rows_deleted"], line["rows_total"])
    for warning in summary["warnings"]:
        log.warning("%s", warning)
    for table in skipped:
        log.warning("optional table %s %s: %s", table, reasons[table], summary["errors"][table])
    for table in summary["skipped_busy"]:
        log.warning("table %s was skipped: another process was loading it", table)
    if missing or failed:
        raise AirflowFailException(f"{len(missing) + len(failed)} table(s) did not sync: "
                                   f"{', '.join(missing + failed)} (see their load task logs)")
    return summary
