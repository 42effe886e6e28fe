"""HR → Universal Resource Scheduling mapping (workers, skills, certificates, rating models).

A DAG task needs ``MappingSettings`` (``from_mapping(params)``) and ``run_mapping``; no Airflow
imports in this package.

Names below are loaded on first use, so importing ``hr_dataverse.urs.settings`` (the trigger form's
schema is generated from it when a DAG file is parsed) loads neither msal, requests nor SQLAlchemy.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "MappingError": "errors", "Plan": "plan", "build_plan": "plan", "DesiredState": "rules",
    "HrData": "rules", "Scope": "rules", "desired_state": "rules", "MappingResult": "runner",
    "run_mapping": "runner", "MappingConfigError": "settings", "MappingSettings": "settings",
    "MappedRow": "state", "MappingState": "state", "Blocker": "write_path",
    "WritePathBlocked": "write_path", "check_write_path": "write_path",
}
__all__ = [
    "Blocker", "WritePathBlocked", "check_write_path",
    "DesiredState", "HrData", "MappedRow", "MappingConfigError", "MappingError", "MappingResult",
    "MappingSettings", "MappingState", "Plan", "Scope", "build_plan", "desired_state", "run_mapping",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
