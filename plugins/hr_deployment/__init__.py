"""This deployment's Airflow glue, used by the DAGs in ``dags/``: task bodies, table assets, the
``dataverse_api`` pool, schedules, the integration switch, the trigger form's categories and what
``airflow-init`` runs. It builds on the reusable provider (``dataverse_provider``); the provider never
imports it."""
