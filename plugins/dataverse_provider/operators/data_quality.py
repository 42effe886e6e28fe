"""``HrDataQualityOperator``: the warehouse data-quality checks (GX Core) as one Airflow task.

Runs ``hr_dataverse.quality`` inside ``execute`` (GX is imported there, never at DAG-parse time),
writes the report (``<quality root>/runs/<dag_id>__<run_id>/summary.html`` + ``latest/``) and
publishes it to the report storage URL (``dataverse_provider.report_storage``), logs one
line per failed check, returns a small summary with the report path (XCom ``return_value``; pushed
before failing too) and raises ``AirflowFailException`` (no retry: data will not fix itself) after
the report is written when a check of severity ``error`` failed. Its extra link opens the report.

Settings: code default (with the task's ``severity``) < the ``hr_data_quality_settings`` Variable <
keys set in the trigger form's ``params[params_key]`` (``run_settings``), logged first. The form
object (default ``data_quality``) is a dict like
``{"severity": {"option_domain": "error", "cdm_workerpersonaldetail": "off"}, "freshness_hours": 48}``
(see ``QualitySettings.from_params`` and ``hr_dataverse.quality.severity``), null when unset
(``trigger_params.data_quality_param``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from dataverse_provider.trigger_params import table_names
from dataverse_provider.ui import DataQualityReportLink
from hr_dataverse.vocabulary import Severity

if TYPE_CHECKING:
    from airflow.sdk import Context

    from hr_dataverse.quality.results import QualityRun
    from hr_dataverse.quality.settings import QualitySettings

MAX_LOGGED_FAILURES = 20


class HrDataQualityOperator(BaseOperator):
    """Check the HR warehouse and report.

    :param warehouse_conn_id: the warehouse connection (see ``dataverse_provider.warehouse``); without
        one, ``$HR_WAREHOUSE_URL`` or the embedded SQLite file.
    :param dataverse_conn_id: when set, the option sets of the catalog's choice columns are read from
        Dataverse metadata first (and saved for later runs); else the saved ones are used, else the
        checks fall back to missing labels.
    :param quality_dir: report root, a local folder or URL (default: the report storage,
        ``$HR_REPORT_STORAGE_URL/quality``, else ``$HR_QUALITY_DIR`` or ``<checkout>/reports/quality``).
    :param tables: only these catalog tables (list or comma-separated text); default all.
    :param severity: severity overrides set on the task (the trigger form's are merged on top).
    :param params_key: the DAG param holding trigger-form overrides.
    :param catalog_path: entity catalog YAML (default ``$HR_DATAVERSE_CATALOG`` or the packaged one).
    :param check_loads: the DAG loads the tables in the same run (``hr_dataverse_sync``): when a required
        table's load failed or did not happen, the report says "Loads failed" and names the stale tables.
    """

    template_fields: Sequence[str] = ("warehouse_conn_id", "dataverse_conn_id", "quality_dir", "tables", "severity")
    operator_extra_links = (DataQualityReportLink(),)
    ui_color = "#eaf1fb"

    def __init__(
        self,
        *,
        warehouse_conn_id: str = "hr_warehouse",
        dataverse_conn_id: str | None = None,
        quality_dir: str | None = None,
        tables: Sequence[str] | str | None = None,
        severity: Mapping[str, str] | str | None = None,
        params_key: str = "data_quality",
        catalog_path: str | None = None,
        check_loads: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id
        self.dataverse_conn_id = dataverse_conn_id
        self.quality_dir = quality_dir
        self.tables = tables
        self.severity = severity
        self.params_key = params_key
        self.catalog_path = catalog_path
        self.check_loads = check_loads

    def execute(self, context: Context) -> dict[str, Any]:
        """Works in a private scratch copy of the report tree (GX needs a local folder) and publishes
        it to the report storage (``dataverse_provider.report_storage``) before reporting."""
        import shutil

        from dataverse_provider.report_storage import (
            StorageConfigError,
            pull,
            push,
            quality_storage,
            scratch_dir,
            storage_lock,
        )
        from hr_dataverse.quality.paths import RUNS_DIR

        try:
            storage = quality_storage(self.quality_dir)
        except StorageConfigError as exc:
            raise AirflowFailException(f"data-quality configuration: {exc}") from None
        work = scratch_dir("hr-quality-")
        try:
            with storage_lock(storage):
                pulled = pull(storage, work)
                run, html = self._run(context, work)
                push(work, storage, pulled, prune_under=RUNS_DIR)
        finally:
            shutil.rmtree(work, ignore_errors=True)  # the report exists only at the storage URL
        return self._report(context, run, storage, html.relative_to(work).parts)

    def _run(self, context: Context, work: Path) -> tuple[QualityRun, Path]:
        from hr_dataverse.quality.paths import dag_run_report_id
        from hr_dataverse.quality.runner import QualityRunError, run_and_report
        from hr_dataverse.warehouse import WarehouseConfigError, WarehouseError

        catalog, settings, url = self._configure(context, work)
        report_id = dag_run_report_id(self.dag_id, str(context.get("run_id") or "manual"))
        selected = table_names(self.tables) or None
        try:
            loads = self._loads(url, catalog, selected, str(context.get("run_id"))) if self.check_loads else None
            run, paths = run_and_report(url, catalog=catalog, settings=settings, run_id=report_id,
                                        tables=selected, loads=loads)
        except WarehouseConfigError as exc:
            raise AirflowFailException(f"data-quality configuration: {exc}") from None
        except (QualityRunError, WarehouseError) as exc:  # e.g. the warehouse is down: worth a retry
            raise AirflowException(f"the data-quality checks could not run: {exc}") from None
        except ValueError as exc:  # a table name the catalog does not have
            raise AirflowFailException(f"data-quality configuration: {exc}") from None
        return run, paths.html

    def _report(self, context: Context, run: QualityRun, storage: Any, html: tuple[str, ...]) -> dict[str, Any]:
        from dataverse_provider.report_storage import display

        report = display(storage.joinpath(*html))
        summary = run.summary(report_path=report)
        self._log(run, report)
        if run.has_errors:
            context["ti"].xcom_push(key="return_value", value=summary)
            totals = summary["totals"]
            raise AirflowFailException(
                f"data quality: {totals['errors']} check(s) of severity error failed "
                f"({totals['warnings']} warning(s)); report: {report}")
        return summary

    @staticmethod
    def _loads(url: str | None, catalog: Any, selected: list[str] | None, run_id: str) -> Any:
        """How this DAG run's loads went for the required tables checked (``quality/loads.py``)."""
        from hr_dataverse.quality.loads import load_outcome
        from hr_dataverse.warehouse import Warehouse

        wanted = [t.name for t in catalog if t.required and (selected is None or t.name in selected)]
        warehouse = Warehouse(url)
        try:
            return load_outcome(warehouse, run_id, wanted)
        finally:
            warehouse.dispose()

    def _configure(self, context: Context, root: Path) -> tuple[Any, QualitySettings, str | None]:
        """Catalog, settings (task values, then the trigger form's) and warehouse URL; bad input fails
        the task with the problem named, never a stack trace. ``root``: the local working copy."""
        from dataverse_provider.environment import configured_catalog
        from dataverse_provider.run_settings import log_settings, quality_layers
        from dataverse_provider.warehouse import checked_warehouse_url
        from hr_dataverse.quality.option_sets import load_option_domains
        from hr_dataverse.quality.settings import QualitySettings, parse_severity
        from hr_dataverse.warehouse import WarehouseError

        try:
            catalog = configured_catalog(self.catalog_path)
            domains = self._fetch_domains(catalog, root) if self.dataverse_conn_id else load_option_domains(root)
            task_severity = parse_severity(self.severity)
            layers = quality_layers((context.get("params") or {}).get(self.params_key), task_severity)
            log_settings(layers, self.log)
            mapping = self._mapping_settings(context)
            catalog = catalog.with_mapping(mapping.enabled)  # mapping-only tables optional while it is off
            settings = QualitySettings(quality_dir=root, severity=task_severity,
                                       option_domains=domains, mapping=mapping)
            settings = settings.with_params(layers.overrides())
            url = checked_warehouse_url(self.warehouse_conn_id)
        except (ValueError, WarehouseError) as exc:  # CatalogError, QualityConfigError, WarehouseConfigError
            raise AirflowFailException(f"data-quality configuration: {exc}") from None
        return catalog, settings, url

    @staticmethod
    def _mapping_settings(context: Context) -> Any:
        """The settings the mapping ran with (deployment Variable + this run's form), so the
        mapping-completeness check applies the same rules."""
        from dataverse_provider.run_settings import effective_mapping
        from dataverse_provider.trigger_params import URS_MAPPING

        return effective_mapping((context.get("params") or {}).get(URS_MAPPING))[0]

    def _fetch_domains(self, catalog: Any, root: Any) -> dict[str, dict[str, list[int]]] | None:
        """Option sets from Dataverse metadata (saved for later runs); when Dataverse cannot be read,
        the saved ones: the checks should not fail because the metadata is out of reach."""
        from dataverse_provider.hooks.dataverse import DataverseHook
        from hr_dataverse.dataverse import DataverseError
        from hr_dataverse.quality.option_sets import (
            fetch_option_domains,
            load_option_domains,
            save_option_domains,
        )

        hook = DataverseHook(dataverse_conn_id=self.dataverse_conn_id)
        try:
            domains = fetch_option_domains(hook.get_conn(), catalog)
        except DataverseError as exc:  # ConfigError included
            self.log.warning("option sets not read from Dataverse (%s); using the saved ones", exc)
            return load_option_domains(root)
        finally:
            hook.close()
        save_option_domains(root, domains)
        return domains

    def _log(self, run: QualityRun, report: str) -> None:
        if run.stale_tables:
            self.log.error("%s", (run.loads or {}).get("message"))
        totals = run.totals()
        self.log.info("data quality %s: %d checks, %d passed, %d errors, %d warnings; report: %s", run.status,
                      totals["evaluated"], totals["passed"], totals["errors"], totals["warnings"], report)
        failures = run.failures()
        for check in failures[:MAX_LOGGED_FAILURES]:
            (self.log.error if check.severity == Severity.ERROR else self.log.warning)(
                "%s [%s] %s", check.severity.upper(), check.id, check.message)
        if len(failures) > MAX_LOGGED_FAILURES:
            self.log.warning("... and %d more failed checks (see the report)", len(failures) - MAX_LOGGED_FAILURES)

