"""
### HR → URS characteristic mapping

Maps HR workers, skills, certificates and rating models from the HR warehouse to Universal
Resource Scheduling in Dataverse: rating models and values, characteristics (skills and
certifications), bookable resources and their characteristics. The same step as
`map_characteristics` in `hr_dataverse_sync`, on its own:

- **Scheduled on the assets** of the worker-skill and worker-certificate tables
  (`dataverse://hr/mshr_hcmworkerskillentity`, `dataverse://hr/mshr_hcmworkercertificateentity`):
  a sync that changed either starts a run. Runs one at a time with the sync's own mapping step (a
  lock on the warehouse): the later one finds nothing left to write.
- **Manual trigger** with the object **urs_mapping**: empty runs with the deployment's settings
  (Variable `hr_urs_mapping_settings`); keys set there apply to this run only, e.g. `{"dry_run":
  true}` or `{"full_remap": true}` (README, *Characteristic mapping*).
  A dry run logs the plan (creates, updates, deactivations, removals per table, with counts and
  the first rows) and writes nothing; a full remap re-evaluates every HR row.

Incremental: only what changed in the warehouse since the last mapping run, and only differences
are written (a run after no HR change sends no write). Skipped while the integration is turned off
(`hr_dataverse_admin`). Rows Dataverse rejects fail the run after the plan and the first errors
are logged; the next run tries them again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, get_current_context, task

from dataverse_provider.trigger_params import CONN_ID, URS_MAPPING, conn_id_param, urs_mapping_param
from hr_deployment.dag_defaults import retrying
from hr_deployment.pools import DATAVERSE_POOL
from hr_deployment.schedules import mapping_schedule

with DAG(
    dag_id="hr_urs_mapping",
    schedule=mapping_schedule(),
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=2),
    tags=["dataverse", "hr", "urs"],
    doc_md=__doc__,
    default_args=retrying(execution_timeout=timedelta(hours=1)),  # see hr_deployment.dag_defaults
    params={URS_MAPPING: urs_mapping_param(), CONN_ID: conn_id_param()},
) as dag:

    @task.short_circuit
    def integration_enabled() -> bool:
        """False (the run is skipped) while the integration is turned off: no writes to Dataverse."""
        from hr_deployment.integration import sync_allowed

        return sync_allowed()

    @task(pool=DATAVERSE_POOL, pool_slots=1, multiple_outputs=False)
    def map_characteristics() -> dict[str, Any]:
        from hr_deployment.mapping_tasks import map_characteristics as run

        context = get_current_context()
        return run(context["params"][URS_MAPPING], dag_id=context["dag"].dag_id, run_id=context["run_id"],
                   ti=context["ti"], conn_id=context["params"][CONN_ID])

    integration_enabled() >> map_characteristics()
