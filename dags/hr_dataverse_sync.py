"""
### HR Dataverse sync

Lands Dynamics 365 Human Resources tables from Dataverse in the HR warehouse: complete on the
first run, then kept fresh with change tracking (deltas, deletions as soft deletes).

1. **integration_enabled**: skips the run while the integration is turned off
   (`hr_dataverse_admin` → Turn integration off/on; Variable `hr_dataverse_integration`).
2. **validate_token** and **check_entity_access**: the pre-flight checks of `hr_connection_check`;
   a set-up mistake stops the run before any data moves, with its cause and fix. The access check
   waits for probe_changes and checks every table the run loads; in a quiet run it leaves out the
   tables the probe found unchanged (read through their delta link moments before, not loaded),
   and its log and report name them as vouched for by the probe.
3. **probe_changes** (beside token validation; only in the scheduled run's shape: mode *auto*, no
   tables or categories chosen, not started by change events): follows each change-tracked
   table's stored delta link for one row (one request per table, `HR_DATAVERSE_PROBE_SLOTS` at a
   time, default 3). When every one came back empty the run is *quiet*: those tables are recorded as synced with no changes (sync history,
   freshness) and only what change tracking cannot answer for loads (F&O entities, untracked
   tables, optional tables never read). Anything else (a change, an expired link, a failed or
   throttled probe, a table without a stored link, catalog columns not loaded yet) loads every
   selected table as before (`hr_dataverse.sync.no_change`).
   **regular_tables** / **large_tables**: the selected catalog tables (all when none are
   selected) the run loads, split by how they are read, biggest first (the rows each stored last
   time, else one `RetrieveTotalRecordCount`): their loads start first. The form's **Categories** (Compensation,
   Benefits, Leave and absence, …) add every table of those HR areas to the Tables picked.
4. **load_table** / **load_large_table**: one mapped task per table, in the `dataverse_api` pool
   (one slot per table read page by page; large tables, catalog `partition_by_key`, hold
   `HR_DATAVERSE_PARTITION_SLOTS` slots, default 1: one tracked read; with 2 or more they read key
   ranges in parallel). Mode *auto* follows each
   table's delta link and falls back to a full load when there is none or it expired; *full*
   reloads with delete reconciliation and takes a new change-tracking baseline; *delta* is auto
   that warns when it has to fall back. Each load updates the table's Asset
   (`dataverse://hr/<table>`) when it changed something. A full read that came back short of
   Dataverse's count, or would delete more than **Delete threshold (%)** of the table, deletes
   nothing and FAILS its task with the counts (**Allow mass deletion** for a genuine one). One
   load per table at a time (warehouse lock); a load still locked out after
   `HR_DATAVERSE_LOAD_LOCK_WAIT_S` is skipped with a warning.
5. **run_summary**: per-table modes and counts, warnings, optional tables skipped, the tables
   found unchanged. **changes_to_process**: in a quiet run whose loads changed nothing it logs
   "nothing changed" and skips steps 6–8 (the warehouse is as the last run left it).
6. **map_characteristics**: HR workers, skills, certificates and rating models → Universal Resource
   Scheduling (bookable resources and their characteristics), incrementally, in the `dataverse_api`
   pool. Runs only when every load succeeded. Settings: code default < the deployment's Variable
   `hr_urs_mapping_settings` < keys set in the trigger-form object **urs_mapping** (empty by default,
   so scheduled runs follow the deployment); they are logged with their origin first.
   `enabled: false` skips it (what earlier runs wrote stays), a dry run logs the plan and writes
   nothing. Before any write it checks the URS tables, the Worker lookup and the app user's
   Create/Write/Read privileges, naming each fix. Rows Dataverse rejects fail the task after the plan
   and the first errors are logged.
7. **data_quality**: the warehouse checks (GX Core) and their report, last, whatever happened
   before it (trigger rule *all_done*: after a failed load or mapping the report shows what the
   warehouse now holds; the mapping-completeness check sees the mapping's result). Checks the selected tables (all when none
   are selected). Failed checks of severity *error* fail it after the report is written; the
   Variable `hr_data_quality_settings`, then the trigger-form object **data_quality**, override
   severities and `freshness_hours`. The report
   opens from the task's extra link *Data quality report* or the run's *Data quality* tab.
8. **watcher**: fails the run when any step before it failed (it is skipped otherwise). Needed
   because the last task, data_quality, also runs after failures, and a run's state follows its
   last tasks.

Alerts (Variable `hr_dataverse_alerts`: e-mail, Teams, Slack): a pre-flight blocker, a short-read
refusal in a load, a data-quality error, and the failed run (from `watcher`).

Every 15 minutes by default (`HR_DATAVERSE_SYNC_SCHEDULE`: a cron expression or preset, `none` for
manual only), one run at a time, no catch-up. **Event-driven** with `HR_DATAVERSE_POLL_TABLES`
(`all` or a list): a trigger in the triggerer follows each table's stored delta link for one row
every `HR_DATAVERSE_POLL_INTERVAL` seconds and starts a run for the changed tables only; cron then
stays as a daily safety net unless `HR_DATAVERSE_SYNC_SCHEDULE` says otherwise
(`hr_deployment.event_sync`). Targets: the form's **conn_id** (connection `dataverse_default` by default); warehouse
connection `hr_warehouse`, else `$HR_WAREHOUSE_URL`, else `data/hr_warehouse.db`. The DAGs
`hr_urs_mapping` and `hr_data_quality` run steps 6 and 7 on their own.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, TriggerRule, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from dataverse_provider.alerts import alert_on
from dataverse_provider.operators.data_quality import HrDataQualityOperator
from dataverse_provider.operators.entity_access import DataverseEntityAccessCheckOperator
from dataverse_provider.operators.token_validation import DataverseTokenValidationOperator
from dataverse_provider.trigger_params import (
    CONN_ID,
    DATA_QUALITY,
    URS_MAPPING,
    conn_id_param,
    data_quality_param,
    urs_mapping_param,
)
from hr_dataverse.vocabulary import SyncMode
from hr_deployment.assets import SYNC_ALIAS, table_asset
from hr_deployment.categories import CATEGORIES, MACROS, category_param
from hr_deployment.dag_defaults import retrying
from hr_deployment.event_sync import changed_tables, sync_schedule
from hr_deployment.pools import DATAVERSE_POOL, partition_slots, probe_slots
from hr_deployment.schedules import catalog_names

SCHEDULE_ENV = "HR_DATAVERSE_SYNC_SCHEDULE"
DEFAULT_SCHEDULE = "*/15 * * * *"
MODES = {
    SyncMode.AUTO.value: "Auto: delta where a delta link is stored, else full",
    SyncMode.FULL.value: "Full: reload every selected table (delete reconciliation, new baseline)",
    SyncMode.DELTA.value: "Delta: changes only (falls back to full with a warning where it cannot)",
}


def _schedule() -> str | None:
    value = os.environ.get(SCHEDULE_ENV, "").strip()
    if value.lower() in ("none", "off", "manual"):
        return None
    return value or DEFAULT_SCHEDULE


TABLE_NAMES = catalog_names()
PARTITION_SLOTS = partition_slots()
PROBE_SLOTS = probe_slots()
# Cron alone, or (HR_DATAVERSE_POLL_TABLES set) change events from the triggerer OR cron as a safety net.
SCHEDULE = sync_schedule(_schedule(), TABLE_NAMES, cron_explicit=bool(os.environ.get(SCHEDULE_ENV, "").strip()))
# Runs started by change events work on the changed tables only (an explicit selection wins).
# The form's tables and categories; with neither, the tables whose change started the run (else all).
CONN_TEMPLATE = "{{ params.conn_id }}"  # the form's Dataverse connection, for the operators
SELECTED_TABLES = "{{ selected_tables(params.tables, params.categories) or changed_tables(triggering_asset_events) }}"

with DAG(
    dag_id="hr_dataverse_sync",
    schedule=SCHEDULE,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=3),
    tags=["dataverse", "hr", "sync"],
    doc_md=__doc__,
    render_template_as_native_obj=True,  # params reach the operators as lists, not text
    user_defined_macros={**MACROS, "changed_tables": changed_tables},  # selected_tables(tables, categories)
    default_args=retrying(execution_timeout=timedelta(hours=1)),  # see hr_deployment.dag_defaults
    params={
        "tables": Param(
            [], type=["null", "array"],  # nullable: the form does not mark an optional field required
            items={"type": "string", "enum": TABLE_NAMES} if TABLE_NAMES else {"type": "string"},
            examples=TABLE_NAMES or None,
            title="Tables",
            description="Catalog tables to sync (Dataverse logical names). Empty: every table of the entity catalog.",
        ),
        CATEGORIES: category_param(),
        "mode": Param(
            SyncMode.AUTO.value, type="string", enum=list(MODES), values_display=MODES, title="Mode",
            description="auto: changes since the last run, full load where needed. full: reload everything "
                        "selected. delta: changes only, with a warning where a table must fall back to full.",
        ),
        "allow_mass_delete": Param(
            False, type="boolean", title="Allow mass deletion",
            description="Only for a run after a genuine mass deletion in Dataverse: apply the soft deletes of "
                        "complete full reads even above the delete threshold (and despite a lagging row-count "
                        "snapshot). Never overrides a read shorter than Dataverse's exact count.",
        ),
        "max_delete_percent": Param(
            None, type=["null", "number"], minimum=0, maximum=100, title="Delete threshold (%)",
            description="Share of a table's live rows one full read may soft-delete without confirmation. "
                        "Empty: the deployment's HR_DATAVERSE_MAX_DELETE_PERCENT, else 5.",
        ),
        URS_MAPPING: urs_mapping_param(),
        DATA_QUALITY: data_quality_param(),
        CONN_ID: conn_id_param(),
    },
) as dag:

    @task.short_circuit
    def integration_enabled() -> bool:
        """False (the run is skipped) while the integration is turned off."""
        from hr_deployment.integration import sync_allowed

        return sync_allowed()

    def selection() -> list[str]:
        from hr_deployment.categories import selected_tables

        context = get_current_context()
        chosen = selected_tables(context["params"]["tables"], context["params"].get(CATEGORIES))
        return chosen or changed_tables(context.get("triggering_asset_events"))

    # One request per tracked table, in the scheduled run's shape only; see hr_dataverse.sync.no_change.
    @task(pool=DATAVERSE_POOL, pool_slots=PROBE_SLOTS, multiple_outputs=False)
    def probe_changes() -> dict[str, Any]:
        from hr_deployment.no_change_tasks import probe_selected

        context = get_current_context()
        return probe_selected(selection(), mode=context["params"]["mode"], run_id=context["run_id"],
                              slots=PROBE_SLOTS, conn_id=context["params"][CONN_ID])

    @task
    def resolve_tables(large: bool, plan: dict[str, Any]) -> list[str]:
        """The selected catalog tables that are (not) read as parallel key ranges, less the unchanged ones,
        biggest first: their loads start first, so the run does not end on a big table started last."""
        from hr_deployment.no_change_tasks import tables_to_load
        from hr_deployment.sync_tasks import biggest_first
        from hr_deployment.sync_tasks import resolve_tables as resolve

        tables = tables_to_load(plan, resolve(selection())["large" if large else "regular"])
        return biggest_first(tables, get_current_context()["params"][CONN_ID])

    def load(table: str, slots: int) -> dict[str, Any]:
        from hr_deployment.sync_tasks import delete_guard
        from hr_deployment.sync_tasks import load_table as sync_one

        context = get_current_context()
        context["table"] = table  # for map_index_template: the UI names each mapped instance by its table
        params = context["params"]
        guard = delete_guard(params.get("allow_mass_delete", False), params.get("max_delete_percent"))
        return sync_one(table, mode=params["mode"], slots=slots, run_id=context["run_id"],
                        outlet_events=context["outlet_events"], guard=guard, mapping=params.get(URS_MAPPING),
                        conn_id=params[CONN_ID])

    # One pool slot per request the task can have in flight; one summary value each (not one XCom per key).
    load_options: dict[str, Any] = {"pool": DATAVERSE_POOL, "outlets": [SYNC_ALIAS],
                                    "map_index_template": "{{ table }}", "multiple_outputs": False,
                                    # the short-read guard's refusal carries alert_event="short_read"
                                    "on_failure_callback": alert_on("short_read", only_when_marked=True)}

    @task(pool_slots=1, **load_options)
    def load_table(table: str) -> dict[str, Any]:
        return load(table, 1)

    # Large tables first (priority): they take longest, so starting them early shortens the run.
    @task(pool_slots=PARTITION_SLOTS, priority_weight=10, **load_options)
    def load_large_table(table: str) -> dict[str, Any]:
        return load(table, PARTITION_SLOTS)

    # Runs when one of the two load tasks had no table to map over (skipped), not when a load failed.
    # Its inlets declare every table's asset, so the assets exist (and downstream DAGs can schedule on
    # them) before their first event.
    @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS, inlets=[table_asset(t) for t in TABLE_NAMES],
          multiple_outputs=False)
    def run_summary(regular_tables: list[str], large_tables: list[str], regular: Any, large: Any,
                    plan: dict[str, Any]) -> dict[str, Any]:
        from hr_deployment.no_change_tasks import summarize_run

        return summarize_run(plan, [*regular_tables, *large_tables], regular, large)

    # False in a quiet run whose loads changed nothing: mapping, data quality and watcher are skipped and
    # the run ends green. After a failed load it does not run (upstream_failed), so quality still runs.
    @task.short_circuit(ignore_downstream_trigger_rules=True)
    def changes_to_process(plan: dict[str, Any], summary: dict[str, Any]) -> bool:
        from hr_deployment.no_change_tasks import downstream_needed

        return downstream_needed(plan, summary)

    # Runs after the loads (default trigger rule): it maps from a complete warehouse.
    @task(pool=DATAVERSE_POOL, pool_slots=1, multiple_outputs=False)
    def map_characteristics() -> dict[str, Any]:
        from hr_deployment.mapping_tasks import map_characteristics as run

        context = get_current_context()
        return run(context["params"][URS_MAPPING], dag_id=context["dag"].dag_id, run_id=context["run_id"],
                   ti=context["ti"], conn_id=context["params"][CONN_ID])

    # Without it a run whose mapping or loads failed would end "success": data_quality, the last task,
    # runs after failures too, and a run's state is that of its leaves.
    @task(trigger_rule=TriggerRule.ONE_FAILED, on_failure_callback=alert_on("failed_run"))
    def watcher() -> None:
        raise AirflowFailException("a step of this run failed (the tasks marked failed or upstream_failed); "
                                   "this task only marks the run failed, after the data-quality report was written")

    # The checks send one request at a time: one slot of the shared Dataverse budget each.
    token = DataverseTokenValidationOperator(task_id="validate_token", dataverse_conn_id=CONN_TEMPLATE,
                                             pool=DATAVERSE_POOL,
                                             on_failure_callback=alert_on("preflight_blocker"))
    plan = probe_changes()
    # change_plan=plan makes the probe upstream: a quiet plan's unchanged tables (they do not load) are
    # vouched for by their probe; every table that loads is checked (hr_dataverse.sync.no_change).
    access = DataverseEntityAccessCheckOperator(task_id="check_entity_access", dataverse_conn_id=CONN_TEMPLATE,
                                                tables=SELECTED_TABLES, change_plan=plan,
                                                count_rows=False,  # the loads count each table anyway
                                                pool=DATAVERSE_POOL, on_failure_callback=alert_on("preflight_blocker"))
    regular_tables = resolve_tables.override(task_id="regular_tables")(large=False, plan=plan)
    large_tables = resolve_tables.override(task_id="large_tables")(large=True, plan=plan)
    regular = load_table.expand(table=regular_tables)
    large = load_large_table.expand(table=large_tables)
    summary = run_summary(regular_tables, large_tables, regular, large, plan)
    # The probe runs beside token validation: it reads, never loads (a failed probe loads everything as
    # before); the access check waits for both, the loads for the check.
    switch = integration_enabled()
    switch >> token >> access >> [regular_tables, large_tables]
    switch >> plan
    # Last, whatever happened before it (see the docstring); its few metadata reads take one slot.
    quality = HrDataQualityOperator(task_id="data_quality", dataverse_conn_id=CONN_TEMPLATE,
                                    tables=SELECTED_TABLES, params_key=DATA_QUALITY, check_loads=True,
                                    trigger_rule=TriggerRule.ALL_DONE, pool=DATAVERSE_POOL,
                                    on_failure_callback=alert_on("dq_error"))
    mapping = map_characteristics()
    changes_to_process(plan, summary) >> mapping >> quality
    [mapping, quality] >> watcher()
