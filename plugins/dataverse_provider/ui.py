"""Airflow UI plugin: the HR data-quality reports, reachable from the Airflow UI (Airflow 3.1+).

* ``fastapi_apps``: ``/hr-quality/`` on the API server serves the report folder read-only (GET/HEAD):
  ``index.html`` (every run), ``latest/``, ``runs/<run>/`` and the GX Data Docs under ``docs/`` —
  never the GX project (``gx/``). ``/hr-quality/dag-runs/<dag_id>/<run_id>/`` opens the report of a
  quality task in that DAG run. Only signed-in Airflow users get the pages (the UI's session
  cookie is sent with them): reports show sample rows of HR data.
* ``external_views``: "Data quality" in the Browse menu (latest report) and a "Data quality" tab on
  every DAG run (that run's report, or a page saying the run has none). Both open inside the UI.
* ``DataQualityReportLink``: the extra link of ``HrDataQualityOperator`` to its run's report.

Loading the plugin imports nothing heavy: the FastAPI app is built on its first request.
Reports are read from the report storage URL, the same one the quality tasks publish to
(``dataverse_provider.report_storage``: ``$HR_REPORT_STORAGE_URL/quality``, else ``$HR_QUALITY_DIR``
or ``<checkout>/reports/quality``), so a worker on another machine and the API server agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlparse

from airflow.plugins_manager import AirflowPlugin
from airflow.sdk import BaseOperatorLink

from dataverse_provider.lazy_asgi import LazyApp

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey
    from fastapi import FastAPI

URL_PREFIX = "/hr-quality"


def base_path() -> str:
    """The path part of ``[api] base_url`` (Airflow served under a sub-path behind a proxy), or ''."""
    from airflow.configuration import conf

    return urlparse(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")


def dag_run_report_url(dag_id: str, run_id: str) -> str:
    return f"{base_path()}{URL_PREFIX}/dag-runs/{quote(dag_id, safe='')}/{quote(run_id, safe='')}/"


class DataQualityReportLink(BaseOperatorLink):
    """Extra link from a data-quality task to the report of its DAG run."""

    name = "Data quality report"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return dag_run_report_url(ti_key.dag_id, ti_key.run_id)


class HrDataQualityPlugin(AirflowPlugin):
    name = "hr_data_quality"
    fastapi_apps = [{"app": LazyApp(lambda: build_reports_app(), "dataverse_provider.ui:build_reports_app"),
                     "url_prefix": URL_PREFIX, "name": "HR data-quality reports"}]
    # The UI fills {DAG_ID}/{RUN_ID} (URL-encoded) and shows the page in an iframe under url_route.
    external_views = [
        {"name": "Data quality", "href": f"{base_path()}{URL_PREFIX}/latest/", "destination": "nav",
         "category": "browse", "url_route": "hr-data-quality"},
        {"name": "Data quality", "href": f"{base_path()}{URL_PREFIX}/dag-runs/{{DAG_ID}}/{{RUN_ID}}/",
         "destination": "dag_run", "url_route": "hr-data-quality-run"},
    ]


# --- the reports app --------------------------------------------------------------------------


def build_reports_app(root: str | None = None, *, require_login: bool = True) -> FastAPI:
    """The read-only reports app. ``root``: report folder or URL (default: resolved per request, the
    report storage of ``dataverse_provider.report_storage``); ``require_login``: serve only
    signed-in Airflow users. Files are read through ``ObjectStoragePath``, so the API server serves
    what workers published to ``file://``, ``abfs://`` or ``s3://`` storage alike."""
    from fastapi import Depends, FastAPI
    from fastapi.responses import HTMLResponse, RedirectResponse, Response

    from dataverse_provider.report_storage import quality_storage
    from hr_dataverse.quality.paths import (
        INDEX_HTML,
        RUNS_DIR,
        SERVED,
        SUMMARY_HTML,
        dag_run_report_id,
        run_folder,
    )

    dependencies = []
    if require_login:
        from airflow.api_fastapi.core_api.security import requires_authenticated

        dependencies.append(Depends(requires_authenticated()))
    app = FastAPI(title="HR data-quality reports", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=dependencies)

    def not_found(message: str) -> Response:
        body = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>No report</title></head>'
                f'<body><h1>No data-quality report</h1><p>{_escape(message)}</p>'
                f'<p><a href="{base_path()}{URL_PREFIX}/">All data-quality runs</a></p></body></html>')
        return HTMLResponse(body, status_code=404)

    # Redirects are relative, so they work under any mount point and proxy path. (Handlers take no
    # Request: its annotation would not resolve, FastAPI being imported here and not at module level.)
    @app.api_route("/dag-runs/{dag_id}/{run_id}/", methods=["GET", "HEAD"])
    def dag_run_report(dag_id: str, run_id: str) -> Response:
        folder = run_folder(dag_run_report_id(dag_id, run_id))
        if not (quality_storage(root) / RUNS_DIR / folder / SUMMARY_HTML).is_file():
            return not_found(f"DAG run {run_id} of {dag_id} has no data-quality report (yet).")
        return RedirectResponse(f"../../../{RUNS_DIR}/{folder}/", status_code=307)

    @app.api_route("/{path:path}", methods=["GET", "HEAD"])
    def serve(path: str) -> Response:
        base = quality_storage(root)
        parts = [p for p in path.split("/") if p]
        if (parts and parts[0] not in SERVED) or any(p in (".", "..") or "\\" in p for p in parts):
            return not_found(f"/{path} is not part of the reports.")
        target = base.joinpath(*parts) if parts else base
        if not _inside(target, base / parts[0] if parts else base):  # symlinks out of a local folder
            return not_found(f"/{path} is not part of the reports.")
        if target.is_dir():
            if parts and not path.endswith("/"):  # relative links in the pages need the trailing slash
                return RedirectResponse(f"{parts[-1]}/", status_code=307)
            target = next((target / n for n in (SUMMARY_HTML, INDEX_HTML) if (target / n).is_file()), target / INDEX_HTML)
        if not target.is_file():
            return not_found("No quality run has written this report yet." if parts[:1] == ["latest"]
                             else f"/{path} does not exist.")
        return Response(target.read_bytes(), media_type=_media_type(target.name),
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"})

    return app


def _inside(target: Any, top: Any) -> bool:
    """On local storage, the real path of ``target`` stays under ``top`` (no symlink leads out)."""
    if target.protocol not in ("file", "local"):
        return True  # object stores have no symlinks; '..' was refused above
    from pathlib import Path

    return Path(target.path).resolve().is_relative_to(Path(top.path).resolve())


def _media_type(name: str) -> str:
    import mimetypes

    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _escape(text: str) -> str:
    from html import escape

    return escape(text)
