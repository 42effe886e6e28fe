"""Task bodies of the change probe in ``hr_dataverse_sync``: the cheap run when nothing changed.

``probe_changes`` (before the loads) asks ``hr_dataverse.sync.no_change.plan_loads`` which selected
tables must load: all of them, unless change tracking proved every tracked table unchanged (a
*quiet* run). ``changes_to_process`` (after the summary) skips mapping and data quality in a quiet
run whose loads changed nothing. The rules and guarantees
are in ``hr_dataverse.sync.no_change``; here only the Airflow side: the hook and warehouse from
the connection, and a probe that cannot run never skips a load (the plan then loads everything).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from dataverse_provider.hooks.dataverse import DataverseHook

log = logging.getLogger(__name__)


def probe_selected(selected: Sequence[str] | None, *, mode: str, run_id: str, slots: int = 1,
                   conn_id: str = DataverseHook.default_conn_name) -> dict[str, Any]:
    """The run's ``LoadPlan`` (``to_dict()``) over the selected catalog tables (all when none; only
    then, in mode auto, are the tables probed)."""
    from dataverse_provider.edge import task_session
    from hr_dataverse.sync.no_change import LoadPlan, plan_loads
    from hr_deployment.sync_tasks import selected_specs

    specs = None
    try:
        # One catalog read (it parses and validates the YAML, ~0.1 s). A broken catalog does not fail
        # this task: the entity access check, downstream, reports it as a pre-flight blocker.
        specs = selected_specs(selected)
        with task_session("change probe", conn_id) as session:
            client = session.client
            plan = plan_loads(client, session.warehouse, specs, mode=mode, run_id=run_id, chosen=bool(selected),
                              workers=min(slots, client.settings.max_concurrency), log=log)
    except Exception as exc:  # noqa: BLE001 - no evidence, no skipping: every table loads as before
        log.warning("change probe not run (%s: %s); every selected table loads", type(exc).__name__, exc)
        names = [s.name for s in specs] if specs is not None else list(selected or ())
        plan = LoadPlan(tuple(names), reasons={"*": f"probe not run: {type(exc).__name__}"})
    return plan.to_dict()


def tables_to_load(plan: dict[str, Any] | None, tables: Sequence[str]) -> list[str]:
    """``tables`` (one load task's share of the selection) less those the probe proved unchanged."""
    from hr_dataverse.sync.no_change import LoadPlan, split_by_plan

    return list(tables) if plan is None else split_by_plan(LoadPlan.from_dict(plan), tables)


def summarize_run(plan: dict[str, Any] | None, loaded: Sequence[str], *results: Any) -> dict[str, Any]:
    """``sync_tasks.summarize`` over the loads, plus the tables the probe found unchanged."""
    from hr_deployment.sync_tasks import summarize

    summary = summarize(loaded, *results)
    unchanged = list(plan.get("unchanged", [])) if plan else []
    summary["unchanged"] = unchanged
    if unchanged:
        log.info("%d table(s) unchanged since their delta link (change probe, not loaded): %s",
                 len(unchanged), ", ".join(unchanged))
    return summary


def downstream_needed(plan: dict[str, Any] | None, summary: dict[str, Any]) -> bool:
    """True when mapping and data quality have something new (see ``no_change.downstream_needed``);
    logs why they are skipped otherwise."""
    from hr_dataverse.sync.no_change import LoadPlan
    from hr_dataverse.sync.no_change import downstream_needed as needed

    if plan is None or not plan.get("quiet"):
        return True
    skipped = set(summary.get("skipped_optional", []))
    lines = [{**line, "table": t} for t, line in summary.get("by_table", {}).items() if t not in skipped]
    if needed(LoadPlan.from_dict(plan), lines):
        return True
    log.info("nothing changed: %d table(s) unchanged (change probe), %d load(s) changed nothing%s; "
             "map_characteristics and data_quality are skipped (the warehouse is as the last run left it)",
             len(summary.get("unchanged", [])), len(lines),
             f", optional skipped: {', '.join(sorted(skipped))}" if skipped else "")
    return False
