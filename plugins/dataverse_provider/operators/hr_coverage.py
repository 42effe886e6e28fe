"""``DataverseHrCoverageOperator``: the "new HR tables available" report (never fails the run)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dataverse_provider.operators.check_base import DataverseCheckOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from dataverse_provider.hooks.dataverse import DataverseHook
    from hr_dataverse.checks import CheckReport


class DataverseHrCoverageOperator(DataverseCheckOperator):
    """Lists the HR tables (``cdm_``, ``mshr_``, ``mserp_``) the environment has and the catalog does not
    sync, and the catalog tables that exist but are empty (dual-write map off), each with its one-line
    fix, in the task log and the JSON report. Only warnings: it never blocks a run.

    :param catalog_path: catalog YAML (default: ``$HR_DATAVERSE_CATALOG`` or the packaged catalog).
    :param count_rows: also look for empty catalog tables.
    """

    template_fields: Sequence[str] = (*DataverseCheckOperator.template_fields, "catalog_path")

    def __init__(self, *, catalog_path: str | None = None, count_rows: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.catalog_path = catalog_path
        self.count_rows = count_rows

    def report_name(self) -> str:
        return "hr_coverage"

    def run_checks(self, hook: DataverseHook, context: Context) -> CheckReport:
        from dataverse_provider.environment import configured_catalog
        from hr_dataverse.catalog import CatalogError
        from hr_dataverse.checks import CheckReport
        from hr_dataverse.checks.coverage_report import run_coverage_report

        try:
            catalog = configured_catalog(self.catalog_path)
        except CatalogError as exc:
            report = CheckReport(self.report_name())
            report.warning("catalog", self.catalog_path or "entity catalog", "The entity catalog is invalid: "
                           + "; ".join(exc.problems), "Correct the catalog file (its header documents every key).")
            return report
        dataverse = [t.name for t in catalog if not t.fno_entity]
        return run_coverage_report(hook.get_conn(), dataverse, count_rows=self.count_rows)
