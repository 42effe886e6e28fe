"""Asset schedules of the DAGs downstream of the sync, built when their DAG files are parsed.

Table names and categories come from the entity catalog YAML (``hr_dataverse.catalog`` needs only
PyYAML), read once per catalog file version and process: several DAG files parsed in one process need them.
An unreadable catalog gives no names, so the DAG files still load; the runs report the catalog's
problems.
"""

from __future__ import annotations

from airflow.sdk import AssetAny

from hr_deployment.assets import table_asset

# The tables whose changes call for a mapping run (worker skills and certificates), by suffix so a
# catalog of ``mserp_`` tables works too; the default names when the catalog lists neither.
MAPPING_TRIGGER_SUFFIXES = ("hcmworkerskillentity", "hcmworkercertificateentity")
DEFAULT_MAPPING_TRIGGERS = ("mshr_hcmworkerskillentity", "mshr_hcmworkercertificateentity")


def catalog_names() -> list[str]:
    """The catalog's table names (``$HR_DATAVERSE_CATALOG`` or the packaged file), cached per file version."""
    from dataverse_provider.environment import catalog_names as names

    return names()


def catalog_categories() -> list[str]:
    """The categories the catalog uses, cached per catalog file version; [] when it cannot be read."""
    from dataverse_provider.environment import parsed_catalog

    catalog = parsed_catalog()
    return catalog.categories() if catalog is not None else []


def mapping_trigger_tables() -> list[str]:
    """The worker-skill and worker-certificate tables of the catalog."""
    return [n for n in catalog_names() if n.endswith(MAPPING_TRIGGER_SUFFIXES)] or list(DEFAULT_MAPPING_TRIGGERS)


def mapping_schedule() -> AssetAny:
    """Any event on the worker-skill or worker-certificate table."""
    return AssetAny(*(table_asset(n) for n in mapping_trigger_tables()))


def warehouse_schedule() -> AssetAny | None:
    """Any event on any catalog table; None (manual only) when the catalog cannot be read."""
    names = catalog_names()
    return AssetAny(*(table_asset(n) for n in names)) if names else None
