"""Data-quality checks of the HR warehouse with Great Expectations Core 1.x, and their reports.

``run_and_report(warehouse_url, settings=QualitySettings(...), run_id=...)`` runs every check and
writes the summary; ``run.has_errors`` says whether a check of severity ``error`` failed. Modules:
``rules`` (the checks), ``severity``, ``settings``, ``runner`` (GX, imported only when checks run),
``report`` (HTML/JSON summary, trend), ``option_sets``, ``paths`` (where reports live).

Names below are loaded on first use, so importing ``hr_dataverse.quality.paths`` (the Airflow UI
plugin does) loads neither SQLAlchemy nor GX.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "QualityConfigError": "settings", "QualitySettings": "settings", "QualityRun": "results",
    "CheckResult": "results", "QualityRunError": "runner", "run_quality": "runner", "run_and_report": "runner",
    "ReportPaths": "report", "write_report": "report", "quality_root": "paths",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
