"""
### HR data quality

Checks the HR warehouse with Great Expectations (GX Core) and writes the report: the same step as
`data_quality` at the end of `hr_dataverse_sync`, on its own, for every catalog table and the URS
mapping.

- **Scheduled on the warehouse assets**: any event on a catalog table (`dataverse://hr/<table>`,
  emitted when a sync load changed the table) starts a run; events arriving during a run start
  one more run after it.
- **Manual trigger** with the object **data_quality**, e.g.
  `{"severity": {"option_domain": "error", "cdm_workerpersonaldetail": "off"}, "freshness_hours": 48}`.

What is checked: completeness against the source count taken at load time, required columns not
null, columns null in every row (missing permission or field security), unique keys, references
between tables, option-set values, plausible dates, freshness of each table's last sync, and mapping
completeness (every mapped active worker has a bookable resource with as many characteristics as HR
calls for). Failed checks of severity *error* fail the run after the report is written; *warnings*
only report. Touches only the warehouse: option-set domains are those the sync's quality step saved.

The report: the task's extra link *Data quality report*, the DAG run's *Data quality* tab, or
Browse → *Data quality* (latest run). Files: `$HR_REPORT_STORAGE_URL/quality` (else `$HR_QUALITY_DIR`,
default `reports/quality/`).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from dataverse_provider.operators.data_quality import HrDataQualityOperator
from dataverse_provider.trigger_params import CONN_ID, DATA_QUALITY, conn_id_param, data_quality_param
from hr_deployment.dag_defaults import retrying
from hr_deployment.schedules import warehouse_schedule

with DAG(
    dag_id="hr_data_quality",
    schedule=warehouse_schedule(),
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=1),
    tags=["hr", "quality"],
    doc_md=__doc__,
    default_args=retrying(execution_timeout=timedelta(minutes=30)),  # see hr_deployment.dag_defaults
    params={DATA_QUALITY: data_quality_param(), CONN_ID: conn_id_param(
        "Airflow connection (type Microsoft Dataverse) to read the catalog's option sets from. Empty: the "
        "option sets saved by the last run that read them.", optional=True)},
) as dag:
    HrDataQualityOperator(task_id="data_quality", params_key=DATA_QUALITY,
                          dataverse_conn_id="{{ params.conn_id or '' }}")  # empty: no Dataverse read
