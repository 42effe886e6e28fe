"""Airflow integration for Microsoft Dataverse (Dynamics 365 Human Resources): the reusable provider.

Hook, operators, change trigger, connection type, UI plugins and the task seam (``edge``). It never
imports ``hr_deployment``, this deployment's glue (a test keeps it so).
"""
