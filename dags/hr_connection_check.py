"""
### HR connection check

Catches Dataverse set-up mistakes before any data moves, and says in one line what is wrong and
where to fix it.

1. **validate_token**: gets a token for the connection, verifies its signature against the
   tenant's keys and its claims (environment, tenant, expiry, app), calls `WhoAmI` to prove the
   application user exists, warns before the client secret expires, reports `x-ms-dop-hint`.
2. **check_entity_access**: for each table of the entity catalog: exists, readable by the
   application user, change tracking on, row count.
3. **report_new_hr_tables**: "new HR tables available": the `cdm_`, `mshr_` and `mserp_` tables
   the environment has and the catalog does not sync, and catalog tables that exist but are empty
   (for `cdm_` tables usually a dual-write map that is off), each with the one catalog line or step
   that fixes it. Warnings only.

A blocker (wrong secret, expired secret, wrong tenant, no application user, missing read
privilege or table on a *required* table, …) fails the task at once, listing every blocker with
its cause and fix. Warnings (secret expiring soon, change tracking off, optional table
unreadable) are logged only. Each task writes a JSON report to
`<storage>/checks/<dag_id>/<run_id>/<task_id>.json`, where storage is `$HR_REPORT_STORAGE_URL`
(else `$HR_REPORTS_DIR`, default `reports/` in the checkout).

3. **credential_expiry**: reads the app registration's secrets and certificates from Microsoft
   Graph (with the app's own credentials; needs the application permission Application.Read.All,
   else it falls back to the date typed in the connection and says which permission to grant) and
   **fails, as a warning, when the credential in use expires within `credential_warn_days`** (Airflow
   has no warning state; nothing waits for this task). It alerts (`credential_expiry`).

Blockers alert as `preflight_blocker` (Variable `hr_dataverse_alerts`, see `dataverse_provider.alerts`).
Runs daily and on demand (Trigger DAG → the form below).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param

from dataverse_provider.alerts import alert_on
from dataverse_provider.operators.credential_expiry import DataverseCredentialExpiryOperator
from dataverse_provider.operators.entity_access import DataverseEntityAccessCheckOperator
from dataverse_provider.operators.hr_coverage import DataverseHrCoverageOperator
from dataverse_provider.operators.token_validation import DataverseTokenValidationOperator
from dataverse_provider.trigger_params import CONN_ID, conn_id_param
from hr_deployment.dag_defaults import retrying

with DAG(
    dag_id="hr_connection_check",
    schedule="@daily",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    tags=["dataverse", "hr", "checks"],
    doc_md=__doc__,
    render_template_as_native_obj=True,  # params reach the operators as int / list, not text
    default_args=retrying(execution_timeout=timedelta(minutes=10)),  # see hr_deployment.dag_defaults
    params={
        CONN_ID: conn_id_param("Airflow connection (type Microsoft Dataverse) to check."),
        "secret_warn_days": Param(
            30, type="integer", minimum=0, maximum=730, title="Warn days before secret expiry",
            description="Warn when the client secret expires within this many days "
                        "(needs 'Client secret expires on' in the connection).",
        ),
        "credential_warn_days": Param(
            None, type=["null", "integer"], minimum=0, maximum=730, title="Warn days before credential expiry",
            description="credential_expiry fails (and alerts) when the secret or certificate in use expires within "
                        "this many days. Empty: credential_warn_days of the Variable hr_dataverse_alerts (30).",
        ),
        "tables": Param(
            [], type=["null", "array"], items={"type": "string"}, title="Tables",  # nullable: optional in the form
            description="Table logical names to check, e.g. cdm_worker. Empty: every table of the entity catalog.",
        ),
    },
) as dag:
    validate_token = DataverseTokenValidationOperator(
        task_id="validate_token",
        dataverse_conn_id="{{ params.conn_id }}",
        secret_warn_days="{{ params.secret_warn_days }}",
        on_failure_callback=alert_on("preflight_blocker"),
    )
    check_entity_access = DataverseEntityAccessCheckOperator(
        task_id="check_entity_access",
        dataverse_conn_id="{{ params.conn_id }}",
        tables="{{ params.tables }}",
        on_failure_callback=alert_on("preflight_blocker"),
    )
    DataverseCredentialExpiryOperator(
        task_id="credential_expiry",
        dataverse_conn_id="{{ params.conn_id }}",
        warn_days="{{ params.credential_warn_days }}",
        on_failure_callback=alert_on("credential_expiry"),
    )
    report_new_hr_tables = DataverseHrCoverageOperator(
        task_id="report_new_hr_tables",
        dataverse_conn_id="{{ params.conn_id }}",
    )
    validate_token >> [check_entity_access, report_new_hr_tables]
