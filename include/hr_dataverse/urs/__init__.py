"""HR → Universal Resource Scheduling mapping (workers, skills, certificates, rating models).

A DAG task needs ``MappingSettings`` (``from_mapping(params)``) and ``run_mapping``; no Airflow
imports in this package.
"""

from __future__ import annotations

from .errors import MappingError
from .plan import Plan, build_plan
from .rules import DesiredState, HrData, Scope, desired_state
from .runner import MappingResult, run_mapping
from .settings import MappingConfigError, MappingSettings
from .state import MappedRow, MappingState
from .write_path import Blocker, WritePathBlocked, check_write_path

__all__ = [
    "Blocker", "WritePathBlocked", "check_write_path",
    "DesiredState", "HrData", "MappedRow", "MappingConfigError", "MappingError", "MappingResult",
    "MappingSettings", "MappingState", "Plan", "Scope", "build_plan", "desired_state", "run_mapping",
]
