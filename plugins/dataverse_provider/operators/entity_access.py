"""``DataverseEntityAccessCheckOperator``: every catalog table exists, is readable, is tracked.

Given the change probe's plan of the same run (``change_plan``), it leaves out only the tables a
quiet plan proved unchanged (``hr_dataverse.sync.no_change.vouched_by_probe``): they do not load,
and the report and the log name each as vouched for by the probe. Every table that loads is checked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    blocker; optional tables only warn. Returns ``{status, counts, warnings, report_path}``, plus
    ``vouched`` (the tables left out) when given a ``change_plan``.

    :param tables: logical names to check; empty/None = every catalog table. Names outside the catalog
        are checked as required tables.
    :param catalog_path: catalog YAML (default: ``$HR_DATAVERSE_CATALOG`` or the packaged catalog).
    :param count_rows: also count rows per table.
    :param change_plan: this run's change-probe plan (``LoadPlan.to_dict()``; e.g. the ``probe_changes``
        task's XComArg, which also makes that task upstream). A quiet plan's unchanged tables are not
        checked (``vouched`` in the summary and the report); None or any other plan: every table is.
    """

    template_fields: Sequence[str] = (*DataverseCheckOperator.template_fields, "tables", "catalog_path",
                                      "change_plan")

    def __init__(self, *, tables: Sequence[str] | None = None, catalog_path: str | None = None,
                 count_rows: bool = True, change_plan: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tables = tables
        self.catalog_path = catalog_path
        self.count_rows = count_rows
        self.change_plan = change_plan

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
        vouched = self.vouched()
        if vouched:
            self.log.info("%d table(s) not checked: vouched for by this run's change probe (read through their "
                          "delta link, unchanged, not loaded in this run): %s", len(vouched), ", ".join(vouched))
        return run_access_check(hook.get_conn(), tables, count_rows=self.count_rows, vouched=vouched)

    def vouched(self) -> dict[str, str]:
        """The tables ``change_plan`` vouches for (name → why); empty without a quiet plan."""
        from hr_dataverse.sync.no_change import LoadPlan, vouched_by_probe

        plan = self.change_plan
        return vouched_by_probe(LoadPlan.from_dict(plan) if isinstance(plan, Mapping) and plan else None)

    def summary_extra(self, report: CheckReport) -> dict[str, Any]:
        from hr_dataverse.checks.access_check import VOUCHED

        if self.change_plan is None:  # not part of a sync run: the connection check's summary shape
            return {}
        return {"vouched": [e.target for e in report if e.check == VOUCHED]}

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

