"""Run the data-quality checks with Great Expectations Core 1.x against the warehouse.

GX is imported here, inside functions only (about 5 s; never at DAG-parse time). Before the import
the ``great_expectations`` logger is set to WARNING (left alone if someone configured it), so the
~200 INFO lines GX logs on import and its per-run chatter stay out of task logs; the file
context's progress bars are turned off.

One run: read warehouse facts, build the plan (``rules.py``), then in a file-backed GX context at
``<root>/gx`` recreate the SQL data source (SQLite or PostgreSQL), one query asset per table (its
live rows), two suites per asset (column checks with SUMMARY results, custom-SQL checks with
COMPLETE results) and their validation definitions; run them, store the results, rebuild the Data
Docs site ``<root>/docs`` for this run (every earlier run stays listed). Returns a ``QualityRun``.

The data source's connection string is stored as ``${HR_QUALITY_GX_WAREHOUSE_URL}`` and the URL is
given to the GX context as its ``runtime_environment`` (GX substitutes it from there; the process
environment is never touched), so no password lands in GX's project file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import sqlalchemy as sa

from ..catalog import Catalog, load_catalog
from ..vocabulary import Severity
from ..warehouse import Warehouse
from .facts import WarehouseFacts, gather_facts
from .interpret import interpret
from .lock import quality_lock
from .offline_docs import make_offline
from .paths import DOCS_DIR
from .report import ReportPaths, write_report
from .results import CheckResult, QualityRun
from .rules import COLUMNS, QUERIES, Asset, Check, Plan, build_plan
from .settings import QualitySettings

GX_LOGGER = "great_expectations"
WAREHOUSE_URL_VAR = "HR_QUALITY_GX_WAREHOUSE_URL"
DATASOURCE = "hr_warehouse"
DOCS_SITE = "hr_quality"
BATCH = "live"
_GX_SEVERITY = {Severity.ERROR: "critical", Severity.WARNING: "warning"}  # GX's own severity names


class QualityRunError(RuntimeError):
    """The checks could not run at all (warehouse unreachable, GX project unusable)."""


def run_quality(
    warehouse: Warehouse | str | sa.URL,
    *,
    catalog: Catalog | None = None,
    settings: QualitySettings | None = None,
    run_id: str | None = None,
    tables: Iterable[str] | None = None,
    now: datetime | None = None,
    loads: Any = None,
) -> QualityRun:
    """Run every check of ``catalog`` (default: the packaged one) against ``warehouse`` (a
    ``Warehouse`` or a URL), writing GX's project under ``settings.quality_dir``.

    :param run_id: names the run in GX and in the report folder (default: the UTC time).
    :param tables: only these catalog tables (and the URS mapping check when ``_hr_urs_mapping`` is
        listed; without ``tables`` everything runs).
    :param loads: the ``LoadOutcome`` of the pipeline run this check follows (``loads.py``); stale
        tables make the run's status "loads failed" whatever the checks find.
    :raises QualityRunError: the warehouse or the GX project cannot be used.
    """
    settings = settings or QualitySettings()
    catalog = catalog or load_catalog()
    now = now or datetime.now(UTC)
    run_id = run_id or now.strftime("%Y%m%dT%H%M%SZ")
    owned = not isinstance(warehouse, Warehouse)
    wh = Warehouse(warehouse) if owned else warehouse
    root = settings.root
    started = datetime.now(UTC)
    try:
        with quality_lock(root):
            try:
                facts = gather_facts(wh, catalog)
            except sa.exc.SQLAlchemyError as exc:
                raise QualityRunError(f"cannot read the warehouse {_masked(wh.engine.url)}: "
                                      f"{str(exc).splitlines()[0]}") from None
            plan = build_plan(catalog, facts, settings, now, tables)
            checks, pages, docs, version = _validate(plan, facts, wh.engine.url, root, run_id, now, settings)
    finally:
        if owned:
            wh.dispose()
    return QualityRun(run_id=run_id, started_at=started.isoformat(timespec="seconds"),
                      finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
                      warehouse=_masked(wh.engine.url), checks=checks, notes=plan.notes, data_docs=docs,
                      validation_pages=pages, gx_version=version, loads=loads.to_dict() if loads else None)


def run_and_report(
    warehouse: Warehouse | str | sa.URL,
    *,
    catalog: Catalog | None = None,
    settings: QualitySettings | None = None,
    run_id: str | None = None,
    tables: Iterable[str] | None = None,
    loads: Any = None,
) -> tuple[QualityRun, ReportPaths]:
    """``run_quality`` then ``write_report`` into the same root: what a pipeline step calls. The
    caller decides what ``run.has_errors`` means (the Airflow operator fails the task)."""
    settings = settings or QualitySettings()
    run = run_quality(warehouse, catalog=catalog, settings=settings, run_id=run_id, tables=tables, loads=loads)
    return run, write_report(run, settings.root, keep_runs=settings.keep_runs)


def import_gx() -> Any:
    """``great_expectations`` with its logging quieted first (see the module docstring)."""
    logger = logging.getLogger(GX_LOGGER)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)
    import great_expectations as gx

    return gx


def _validate(plan: Plan, facts: WarehouseFacts, url: sa.URL, root: Path, run_id: str, now: datetime,
              settings: QualitySettings) -> tuple[list[CheckResult], dict[str, dict[str, str]], str | None, str]:
    gx = import_gx()
    from great_expectations.core.run_identifier import RunIdentifier

    ctx = _context(gx, root, url)
    run = RunIdentifier(run_name=run_id, run_time=now)
    results: list[CheckResult] = []
    resources: list[Any] = []
    pages: dict[str, dict[str, str]] = {}
    try:
        if DATASOURCE in ctx.data_sources.all():
            ctx.data_sources.delete(DATASOURCE)
        add = ctx.data_sources.add_sqlite if facts.dialect == "sqlite" else ctx.data_sources.add_postgres
        source = add(DATASOURCE, connection_string=f"${{{WAREHOUSE_URL_VAR}}}")
    except Exception as exc:  # noqa: BLE001 - GX wraps driver errors in many types; report them plainly
        raise QualityRunError(f"GX cannot use the warehouse {_masked(url)}: {exc}") from None
    for asset in plan.assets.values():
        try:
            results += _validate_asset(ctx, gx, source, asset, plan, facts, run, settings, resources, pages, root)
        except Exception as exc:  # noqa: BLE001 - e.g. the connection dropped mid-run; say where
            raise QualityRunError(f"GX failed while checking {asset.name}: {type(exc).__name__}: {exc}") from exc
    ctx.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=resources)
    make_offline(root / DOCS_DIR)  # the pages' CDN scripts and styles, served from the site itself
    order = {c.id: i for i, c in enumerate(plan.checks)}
    results.sort(key=lambda r: order.get(r.id, len(order)))
    docs = root / DOCS_DIR / "index.html"
    return results, pages, (docs.relative_to(root).as_posix() if docs.exists() else None), gx.__version__


def _validate_asset(ctx: Any, gx: Any, source: Any, asset: Asset, plan: Plan, facts: WarehouseFacts, run: Any,
                    settings: QualitySettings, resources: list[Any], pages: dict[str, dict[str, str]],
                    root: Path) -> list[CheckResult]:
    """Both check groups of one asset; records their Data Docs resources and pages."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    batch = source.add_query_asset(asset.name, query=asset.query).add_batch_definition_whole_table(BATCH)
    live_rows = facts.tables[asset.name].live_rows if asset.name in facts.tables else None
    results: list[CheckResult] = []
    for group in (COLUMNS, QUERIES):
        checks = plan.for_asset(asset.name, group)
        if not checks:
            continue
        suite_name = asset.name if group == COLUMNS else f"{asset.name}.queries"
        definition = _replace_suite(ctx, gx, suite_name, checks, batch)
        outcome = definition.run(result_format=_result_format(group, asset.index_columns, settings), run_id=run)
        by_id = {c.id: c for c in checks}
        for item in outcome.results:
            check = by_id.pop(item.expectation_config.meta["check_id"])
            raised = item.exception_info.get("raised_exception") if item.exception_info else False
            message = item.exception_info.get("exception_message") if raised else None
            results.append(interpret(check, success=bool(item.success), result=dict(item.result or {}),
                                     error=message, live_rows=live_rows, sample_size=settings.sample_size))
        for check in by_id.values():  # never silently lose a check
            results.append(interpret(check, success=False, result={}, error="GX returned no result for it",
                                     live_rows=live_rows, sample_size=settings.sample_size))
        result_id = ValidationResultIdentifier(expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite_name),
                                               run_id=run, batch_identifier=outcome.batch_id)
        resources += [result_id, ExpectationSuiteIdentifier(name=suite_name)]
        pages.setdefault(asset.name, {})[group] = _page(ctx, result_id, root)
    return results


def _context(gx: Any, root: Path, url: sa.URL) -> Any:
    """The file-backed GX project under ``<root>/gx`` with our Data Docs site and no progress bars; the
    warehouse URL is a runtime config variable (never written to the project)."""
    from great_expectations.data_context.types.base import ProgressBarsConfig

    runtime = {WAREHOUSE_URL_VAR: url.render_as_string(hide_password=False)}
    try:
        ctx = gx.get_context(mode="file", project_root_dir=str(root), runtime_environment=runtime)
    except Exception as exc:  # noqa: BLE001 - a damaged project surfaces as one of many GX types
        raise QualityRunError(f"the GX project in {root / 'gx'} cannot be opened: {exc}") from None
    site = {"class_name": "SiteBuilder", "show_how_to_buttons": False,
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(root / DOCS_DIR)}}
    sites = ctx.list_data_docs_sites()
    if sites.get(DOCS_SITE) != site:
        if DOCS_SITE in sites:
            ctx.update_data_docs_site(DOCS_SITE, site)
        else:
            ctx.add_data_docs_site(DOCS_SITE, site)
    if "local_site" in ctx.list_data_docs_sites():  # the scaffold's default site: one site is enough
        ctx.delete_data_docs_site("local_site")
    bars = ctx.variables.progress_bars
    bars = bars if isinstance(bars, dict) else vars(bars) if bars is not None else {}
    if any(bars.get(k, True) for k in ("globally", "metric_calculations")) or ctx.config.analytics_enabled is not False:
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        ctx.config.analytics_enabled = False
        ctx.variables.save()
    return ctx


def _replace_suite(ctx: Any, gx: Any, name: str, checks: list[Check], batch: Any) -> Any:
    """Store this run's suite and validation definition under ``name``; returns the definition.
    Delete-then-add: the checks are regenerated every run, and add_or_update compares every
    expectation with the stored ones (seconds per run)."""
    from great_expectations.exceptions import DataContextError

    for store in (ctx.validation_definitions, ctx.suites):
        with suppress(DataContextError):  # absent on the first run
            store.delete(name)
    suite = ctx.suites.add(gx.ExpectationSuite(name=name, expectations=[_expectation(c) for c in checks]))
    return ctx.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))


def _expectation(check: Check) -> Any:
    import great_expectations.expectations as gxe

    kwargs = dict(check.kwargs)
    if check.expectation == "UnexpectedRowsExpectation":
        kwargs["description"] = check.description  # Data Docs show it instead of the SQL
    return getattr(gxe, check.expectation)(
        **kwargs, meta=check.meta(), severity=_GX_SEVERITY[check.severity],
        notes=f"{check.severity.upper()} ({check.id}): {check.description}")


def _result_format(group: str, index_columns: tuple[str, ...], settings: QualitySettings) -> dict[str, Any]:
    if group == QUERIES:
        return {"result_format": "COMPLETE"}  # GX returns at most 200 unexpected rows, plus their count
    result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": settings.sample_size}
    if index_columns:
        result_format["unexpected_index_column_names"] = list(index_columns)
    return result_format


def _page(ctx: Any, result_id: Any, root: Path) -> str:
    urls = ctx.get_docs_sites_urls(resource_identifier=result_id, site_name=DOCS_SITE, only_if_exists=False)
    path = Path(unquote(urlparse(urls[0]["site_url"]).path))
    return path.relative_to(root).as_posix()


def _masked(url: sa.URL) -> str:
    return url.render_as_string(hide_password=True)
