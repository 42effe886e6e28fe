"""``DataverseEntityAccessCheckOperator``: every catalog table exists, is readable, is tracked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dataverse_provider.operators.check_base import DataverseCheckOperator
from dataverse_provider.trigger_params import table_names

if TYPE_CHECKING:
    from airflow.sdk import Context

    from dataverse_provider.hooks.dataverse import DataverseHook
    from hr_dataverse.checks import CheckReport


class DataverseEntityAccessCheckOperator(DataverseCheckOperator):
    """For each table of the entity catalog: exists (EntityDefinitions), readable (one-row probe),
    change tracking on (else a warning: full reload every run), row count.

    A missing or unreadable *required* table is a blocker and fails the task (no retry) listing every
    blocker; optional tables only warn. Returns ``{status, counts, warnings, report_path}``.

    :param tables: logical names to check; empty/None = every catalog table. Names outside the catalog
        are checked as required tables.
    :param catalog_path: catalog YAML (default: ``$HR_DATAVERSE_CATALOG`` or the packaged catalog).
    :param count_rows: also count rows per table.
    """

    template_fields: Sequence[str] = (*DataverseCheckOperator.template_fields, "tables", "catalog_path")

    def __init__(self, *, tables: Sequence[str] | None = None, catalog_path: str | None = None,
                 count_rows: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tables = tables
        self.catalog_path = catalog_path
        self.count_rows = count_rows

    def report_name(self) -> str:
        return "entity_access"

    def run_checks(self, hook: DataverseHook, context: Context) -> CheckReport:
        from hr_dataverse.catalog import CatalogError
        from hr_dataverse.checks import CheckReport, run_access_check

        try:
            tables = self.selected_tables(context)
        except CatalogError as exc:  # a broken catalog is a set-up mistake like any other
            report = CheckReport(self.report_name())
            report.blocker("catalog", self.catalog_path or "entity catalog", "The entity catalog is invalid: "
                           + "; ".join(exc.problems), "Correct the catalog file (its header documents every key) "
                           "or point HR_DATAVERSE_CATALOG at a valid one.")
            return report
        return run_access_check(hook.get_conn(), tables, count_rows=self.count_rows)

    def selected_tables(self, context: Context | None = None) -> list[Any]:
        """Catalog specs for the requested names (all when none are given), in catalog order. Tables
        only the URS mapping needs are required only while it is enabled for this run (the run's
        ``urs_mapping`` form value over the deployment's Variable)."""
        from dataverse_provider.environment import configured_catalog
        from dataverse_provider.run_settings import mapping_enabled

        form = ((context or {}).get("params") or {}).get("urs_mapping")
        catalog = configured_catalog(self.catalog_path)
        if any(t.required_for_mapping for t in catalog.tables):
            catalog = catalog.with_mapping(mapping_enabled(form))
        wanted = table_names(self.tables)
        dataverse = [t for t in catalog.tables if not t.fno_entity]  # F&O entities are not Dataverse tables
        if not wanted:
            return dataverse
        known = [t for t in dataverse if t.name in wanted]
        extra = [(name, True) for name in wanted if name not in catalog]
        return [*known, *extra]

