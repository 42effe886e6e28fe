"""Trigger-form Params shared by the DAGs that run the URS mapping and the data-quality checks
(``hr_dataverse_sync``, ``hr_urs_mapping``, ``hr_data_quality``).

Both are JSON objects (the form shows a JSON editor) validated by JSON Schema when a run is
triggered, so a typo in a key or a wrong type is refused in the form. Both default to null, which
sets nothing: only keys a person types in override the deployment's settings (the Variables
``hr_urs_mapping_settings`` / ``hr_data_quality_settings``; see ``run_settings``). Being nullable also
keeps the form from marking them required. The schemas restate the keys of
``hr_dataverse.urs.MappingSettings`` and of ``QualitySettings.from_params`` by hand: importing those
modules pulls msal, requests and SQLAlchemy, too slow for DAG parsing. The task re-validates with
them (they stay the authority on ranges); a test keeps the key lists in step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import Param

from hr_dataverse.vocabulary import Severity

URS_MAPPING = "urs_mapping"
DATA_QUALITY = "data_quality"
SEVERITIES = [s.value for s in Severity]

# Keys of the urs_mapping object: run switches first, then MappingSettings overrides (defaults in brackets).
MAPPING_PROPERTIES: dict[str, dict[str, Any]] = {
    "enabled": {"type": "boolean", "title": "Map characteristics",
                "description": "false: the mapping step is skipped; what earlier runs wrote to URS stays."},
    "dry_run": {"type": "boolean", "title": "Dry run",
                "description": "Compute and log the plan (creates, updates, deactivations, removals per table, "
                               "with counts and the first rows) without writing to Dataverse."},
    "full_remap": {"type": "boolean", "title": "Full remap",
                   "description": "Re-evaluate every HR row, not only what changed since the last mapping run "
                                  "(still writes only differences)."},
    "worker_column": {"type": "string", "minLength": 1, "title": "Worker lookup column",
                      "description": "UNCONFIRMED: logical name of the Worker lookup on bookableresource "
                                     "[cdm_workerid]."},
    "worker_navigation": {"type": "string", "minLength": 1, "title": "Worker navigation property",
                          "description": "UNCONFIRMED: its navigation property for @odata.bind [cdm_WorkerId]."},
    "resource_type": {"type": "integer", "enum": [1, 2, 3, 4, 5, 6, 7, 8], "title": "Resource type",
                      "description": "resourcetype of resources the mapping creates [1 = Generic]."},
    "resource_timezone": {"type": "integer", "minimum": -1500, "maximum": 1500, "title": "Resource time zone",
                          "description": "Dataverse time-zone code of created resources [85 = GMT]."},
    "create_missing_resources": {"type": "boolean", "title": "Create missing resources",
                                 "description": "false: only resources already linked to a worker get "
                                                "characteristics [true]."},
    "active_employment_only": {"type": "boolean", "title": "Active employment only",
                               "description": "Only workers with an employment current today get a resource "
                                              "[true]."},
    "active_worker_status": {"type": ["integer", "null"], "title": "Active worker status",
                             "description": "cdm_status a worker must have; null ignores it [754400000]."},
    "expired_certificates": {"type": "string", "enum": ["remove", "keep"], "title": "Expired certificates",
                             "description": "UNCONFIRMED policy: take expired certifications off the resource "
                                            "or keep them [remove]."},
    "level_value_rule": {"type": "string", "enum": ["factor", "rank"], "title": "Rating level → value",
                         "description": "ratingvalue.value from the level's factor, or its rank 1..n [factor]."},
    "hr_prefix": {"type": "string", "pattern": "^[a-z][a-z0-9]*_$", "title": "HR table prefix",
                  "description": "Prefix of the HR virtual tables [mshr_]."},
    "bulk_chunk_size": {"type": "integer", "minimum": 1, "title": "Rows per *Multiple request [200]"},
    "batch_size": {"type": "integer", "minimum": 1, "maximum": 1000, "title": "Operations per $batch [100]"},
    "changeset_size": {"type": "integer", "minimum": 1, "title": "Operations per change set [10]"},
    "watermark_overlap_s": {"type": "number", "minimum": 0, "title": "Watermark overlap, seconds [300]"},
    "max_errors_reported": {"type": "integer", "minimum": 0, "title": "Row errors kept in the summary [20]"},
    "sample_rows": {"type": "integer", "minimum": 0, "title": "Plan rows shown per table and operation [5]"},
}

QUALITY_PROPERTIES: dict[str, dict[str, Any]] = {
    "severity": {"type": "object", "additionalProperties": {"type": "string", "enum": SEVERITIES},
                 "title": "Severity overrides",
                 "description": "Key: a check id, a kind (completeness, not_null, has_values, unique, references, "
                                "option_domain, dates, freshness, mapping), a table or an fnmatch pattern; value: "
                                "error (fails the run), warning (reported only) or off."},
    "freshness_hours": {"type": "number", "exclusiveMinimum": 0, "title": "Freshness window, hours",
                        "description": "The last successful sync of each table must be at most this old [26]."},
    "exact_count_tolerance": {"type": "integer", "minimum": 0, "title": "Row-count tolerance (exact counts)"},
    "snapshot_count_tolerance": {"type": "number", "minimum": 0, "exclusiveMaximum": 1,
                                 "title": "Row-count tolerance (snapshot counts, a fraction)"},
}


def urs_mapping_param() -> Param:
    return Param(
        None, type=["null", "object"], properties=MAPPING_PROPERTIES, additionalProperties=False,
        title="URS characteristic mapping", section="URS characteristic mapping",
        description="Leave empty to run with the deployment's settings (Variable hr_urs_mapping_settings, "
                    "else the built-in defaults: enabled, not a dry run). Keys set here apply to this run only, "
                    'e.g. {"dry_run": true} or {"enabled": false}. Keys: ' + ", ".join(MAPPING_PROPERTIES)
                    + " (see the README, Characteristic mapping).",
    )


def data_quality_param() -> Param:
    return Param(
        None, type=["null", "object"], properties=QUALITY_PROPERTIES, additionalProperties=False,
        title="Data-quality overrides", section="Data quality",
        description="Leave empty to run with the deployment's settings (Variable hr_data_quality_settings). "
                    'Keys set here apply to this run only, e.g. {"severity": {"option_domain": "error", '
                    '"cdm_workerpersonaldetail": "off"}, "freshness_hours": 48}. Keys: '
                    + ", ".join(QUALITY_PROPERTIES) + ".",
    )


def table_names(tables: Sequence[str] | str | None) -> list[str]:
    """Table names from a list, or from comma-separated text (templated params render as text)."""
    if not tables:
        return []
    if isinstance(tables, str):
        tables = tables.strip().strip("[]").replace("'", "").replace('"', "").split(",")
    return [t.strip() for t in tables if t and t.strip()]
