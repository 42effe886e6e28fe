"""Dynamics 365 Human Resources pipeline logic on the Dataverse Web API (no Airflow imports)."""
