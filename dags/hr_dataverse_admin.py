"""
### HR Dataverse admin

The actions of Dynamics 365 HR's Dataverse integration page, for the `hr_dataverse_sync` DAG.
Trigger this DAG and pick an **Action** (and a **Table** where it needs one):

- **Sync now**: a full resync of one table. Queues a `hr_dataverse_sync` run with
  `{"tables": [table], "mode": "full", "conn_id": conn_id}`; it starts when no other sync is running (one at a time).
- **Clear tracking information**: forgets the table's delta link, so its next sync is a full load.
  The warehouse rows stay.
- **Turn integration off / on**: while off, every `hr_dataverse_sync` run ends at its first task
  (skipped) and *Sync now* is refused; the sync state (delta links, rows) is kept, so turning it
  on resumes with deltas. The switch is the Airflow Variable `hr_dataverse_integration`
  (Admin → Variables shows who changed it and when). Pausing the DAG in the UI also stops the
  schedule but not manual runs.
- **View linked rows**: the first rows of the warehouse view `hr_linked_rows` (per table: the
  Dataverse id, the warehouse table, last sync time, deleted in Dataverse or not), in the task log
  and its return value.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, Param, get_current_context, task

from dataverse_provider.trigger_params import CONN_ID, conn_id_param
from hr_dataverse.vocabulary import SyncMode
from hr_deployment.admin_tasks import ACTIONS
from hr_deployment.schedules import catalog_names

SYNC_DAG_ID = "hr_dataverse_sync"


def table_labels(names: list[str]) -> dict[str, str]:
    """Dropdown labels. The UI labels an option ``values_display[str(value)]``, falling back to the
    entry ``None`` for *any* value without one, so every table is listed here and the empty choice
    is keyed ``"null"`` (how the UI spells a null value), never ``None``."""
    return {"null": "(none)", **{name: name for name in names}}
TABLE_NAMES = catalog_names()

with DAG(
    dag_id="hr_dataverse_admin",
    schedule=None,  # on demand only
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    tags=["dataverse", "hr", "admin"],
    doc_md=__doc__,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "execution_timeout": timedelta(minutes=10),
    },
    params={
        "action": Param(
            "view_linked_rows", type="string", enum=list(ACTIONS), values_display=ACTIONS, title="Action",
            description="What to do (the HR Dataverse integration page's actions).",
        ),
        "table": Param(
            None, type=["null", "string"], title="Table",
            description="Catalog table (Dataverse logical name). Needed by Sync now and Clear tracking "
                        "information; optional filter for View linked rows.",
            **({"enum": [None, *TABLE_NAMES], "values_display": table_labels(TABLE_NAMES)} if TABLE_NAMES else {}),
        ),
        "rows": Param(
            50, type="integer", minimum=1, maximum=500, title="Rows to show",
            description="View linked rows: how many rows (most recently synced first).",
        ),
        CONN_ID: conn_id_param("Sync now: the Airflow connection (type Microsoft Dataverse) the sync run reads "
                               "through."),
    },
) as dag:

    @task.branch
    def choose_action() -> str:
        from hr_deployment.admin_tasks import choose_action as choose

        params = get_current_context()["params"]
        return choose(params["action"], params["table"])

    sync_now = TriggerDagRunOperator(
        task_id="sync_now",
        trigger_dag_id=SYNC_DAG_ID,
        conf={"tables": ["{{ params.table }}"], "mode": SyncMode.FULL.value, CONN_ID: "{{ params.conn_id }}"},
        wait_for_completion=False,
    )

    @task(multiple_outputs=False)  # one summary value, not one XCom per key
    def clear_tracking() -> dict[str, Any]:
        from hr_deployment.admin_tasks import clear_tracking as clear

        return clear(get_current_context()["params"]["table"])

    @task(multiple_outputs=False)
    def turn_off() -> dict[str, Any]:
        from dataclasses import asdict

        from hr_deployment.integration import write_switch

        return asdict(write_switch(False, changed_by=f"hr_dataverse_admin {get_current_context()['run_id']}"))

    @task(multiple_outputs=False)
    def turn_on() -> dict[str, Any]:
        from dataclasses import asdict

        from hr_deployment.integration import write_switch

        return asdict(write_switch(True, changed_by=f"hr_dataverse_admin {get_current_context()['run_id']}"))

    @task
    def view_linked_rows() -> list[dict[str, Any]]:
        from hr_deployment.admin_tasks import view_linked_rows as view

        params = get_current_context()["params"]
        return view(params["table"], params["rows"])

    choose_action() >> [sync_now, clear_tracking(), turn_off(), turn_on(), view_linked_rows()]
