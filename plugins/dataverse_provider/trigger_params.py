"""Trigger-form Params shared by the DAGs that run the URS mapping and the data-quality checks
(``hr_dataverse_sync``, ``hr_urs_mapping``, ``hr_data_quality``), and every DAG's ``conn_id``.

Both settings Params are JSON objects (the form shows a JSON editor) validated by JSON Schema when a
run is triggered, so a typo in a key or a wrong type is refused in the form. Both default to null,
which sets nothing: only keys a person types in override the deployment's settings (the Variables
``hr_urs_mapping_settings`` / ``hr_data_quality_settings``; see ``run_settings``). Being nullable also
keeps the form from marking them required. Their keys are generated from the settings dataclasses
(``MappingSettings``, ``QualitySettings``; ``hr_dataverse.settings_schema``), whose modules import
only the standard library, so parsing a DAG file stays fast. The task re-validates with the
dataclasses (they stay the authority on ranges).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import Param

from dataverse_provider.hooks.dataverse import DataverseHook

CONN_ID = "conn_id"
URS_MAPPING = "urs_mapping"
DATA_QUALITY = "data_quality"

def mapping_properties() -> dict[str, dict[str, Any]]:
    """Keys of the urs_mapping object: run switches first, then the ``MappingSettings`` fields."""
    from hr_dataverse.settings_schema import schema_properties
    from hr_dataverse.urs.settings import MappingSettings

    fields = schema_properties(MappingSettings)
    return {
        **{k: fields[k] for k in ("enabled", "dry_run")},
        "full_remap": {"type": "boolean", "title": "Full remap",
                       "description": "Re-evaluate every HR row, not only what changed since the last mapping run "
                                      "(still writes only differences)."},
        **fields,
    }


def quality_properties() -> dict[str, dict[str, Any]]:
    """Keys of the data_quality object: the ``QualitySettings`` fields a run may override."""
    from hr_dataverse.quality.settings import QualitySettings
    from hr_dataverse.settings_schema import schema_properties

    return schema_properties(QualitySettings)


def urs_mapping_param() -> Param:
    properties = mapping_properties()
    return Param(
        None, type=["null", "object"], properties=properties, additionalProperties=False,
        title="URS characteristic mapping", section="URS characteristic mapping",
        description="Leave empty to run with the deployment's settings (Variable hr_urs_mapping_settings, "
                    "else the built-in defaults: enabled, not a dry run). Keys set here apply to this run only, "
                    'e.g. {"dry_run": true} or {"enabled": false}. Keys: ' + ", ".join(properties)
                    + " (see the README, Characteristic mapping).",
    )


def data_quality_param() -> Param:
    properties = quality_properties()
    return Param(
        None, type=["null", "object"], properties=properties, additionalProperties=False,
        title="Data-quality overrides", section="Data quality",
        description="Leave empty to run with the deployment's settings (Variable hr_data_quality_settings). "
                    'Keys set here apply to this run only, e.g. {"severity": {"option_domain": "error", '
                    '"cdm_workerpersonaldetail": "off"}, "freshness_hours": 48}. Keys: '
                    + ", ".join(properties) + ".",
    )


def conn_id_param(description: str = "Airflow connection (type Microsoft Dataverse) this run reads and writes "
                                     "through.", *, optional: bool = False) -> Param:
    """The ``conn_id`` Param of a DAG: ``DataverseHook.default_conn_name`` unless ``optional`` (then
    empty, for a DAG that works without Dataverse)."""
    if optional:
        return Param(None, type=["null", "string"], title="Dataverse connection", description=description)
    return Param(DataverseHook.default_conn_name, type="string", minLength=1, title="Dataverse connection",
                 description=description)


def table_names(tables: Sequence[str] | str | None) -> list[str]:
    """Table names from a list, or from comma-separated text (templated params render as text)."""
    if not tables:
        return []
    if isinstance(tables, str):
        tables = tables.strip().strip("[]").replace("'", "").replace('"', "").split(",")
    return [t.strip() for t in tables if t and t.strip()]
