"""Airflow integration for Microsoft Dataverse (Dynamics 365 Human Resources)."""
