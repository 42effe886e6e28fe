"""Airflow UI plugin: the HR sync history (the warehouse's ``_hr_sync_runs``), in the Airflow UI.

* ``fastapi_apps``: ``/hr-sync-history/`` on the API server renders the page
  (``hr_dataverse.history``) with filters ``?table=&since=&until=&run_id=``;
  ``/hr-sync-history/dag-runs/<dag_id>/<run_id>/`` shows one DAG run's table loads. Only signed-in
  Airflow users get it (the UI's session cookie is sent with the iframe's requests).
* ``external_views``: "Sync history" in the Browse menu, and a "Sync history" tab on every DAG run.

The warehouse is the one the sync writes to (``dataverse_provider.warehouse``: connection
``hr_warehouse``, else ``$HR_WAREHOUSE_URL``, else the embedded SQLite file). Loading the plugin
imports nothing heavy: the FastAPI app is built on its first request.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING
from urllib.parse import quote

from airflow.plugins_manager import AirflowPlugin

from dataverse_provider.lazy_asgi import LazyApp
from dataverse_provider.ui import base_path

if TYPE_CHECKING:
    from fastapi import FastAPI

    from hr_dataverse.warehouse import Warehouse

URL_PREFIX = "/hr-sync-history"


def dag_run_history_url(dag_id: str, run_id: str) -> str:
    return f"{base_path()}{URL_PREFIX}/dag-runs/{quote(dag_id, safe='')}/{quote(run_id, safe='')}/"


class HrSyncHistoryPlugin(AirflowPlugin):
    name = "hr_sync_history"
    fastapi_apps = [{"app": LazyApp(lambda: build_history_app(), "dataverse_provider.sync_history_ui:build_history_app"),
                     "url_prefix": URL_PREFIX, "name": "HR sync history"}]
    external_views = [
        {"name": "Sync history", "href": f"{base_path()}{URL_PREFIX}/", "destination": "nav",
         "category": "browse", "url_route": "hr-sync-history"},
        {"name": "Sync history", "href": f"{base_path()}{URL_PREFIX}/dag-runs/{{DAG_ID}}/{{RUN_ID}}/",
         "destination": "dag_run", "url_route": "hr-sync-history-run"},
    ]


def build_history_app(warehouse: Warehouse | None = None, *, require_login: bool = True) -> FastAPI:
    """The page app. ``warehouse``: default the sync's warehouse, opened on the first request."""
    from fastapi import Depends, FastAPI
    from fastapi.responses import HTMLResponse

    from hr_dataverse.history import HistoryFilter, HistoryFilterError, render_history_page
    from hr_dataverse.history.page import history_records

    dependencies = []
    if require_login:
        from airflow.api_fastapi.core_api.security import requires_authenticated

        dependencies.append(Depends(requires_authenticated()))
    app = FastAPI(title="HR sync history", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=dependencies)
    opened: list[Warehouse] = [warehouse] if warehouse is not None else []
    lock = threading.Lock()

    def target() -> Warehouse:
        with lock:
            if not opened:
                from dataverse_provider.warehouse import open_warehouse

                opened.append(open_warehouse())
            return opened[0]

    def page(table: str | None, since: str | None, until: str | None, run_id: str | None) -> HTMLResponse:
        home = f"{base_path()}{URL_PREFIX}/"
        headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
        try:
            flt = HistoryFilter.parse(table=table, since=since, until=until, run_id=run_id)
        except HistoryFilterError as exc:
            flt = HistoryFilter(run_id=(run_id or None))
            body = render_history_page([], flt, home=home, tables=_catalog_names(), error=str(exc))
            return HTMLResponse(body, status_code=400, headers=headers)
        body = render_history_page(history_records(target(), flt), flt, home=home, tables=_catalog_names())
        return HTMLResponse(body, headers=headers)

    @app.get("/")
    def history(table: str | None = None, since: str | None = None, until: str | None = None,
                run_id: str | None = None) -> HTMLResponse:
        return page(table, since, until, run_id)

    @app.get("/dag-runs/{dag_id}/{run_id}/")
    def dag_run(dag_id: str, run_id: str) -> HTMLResponse:  # the loads record the DAG run id
        return page(None, None, None, run_id)

    return app


def _catalog_names() -> list[str]:
    from dataverse_provider.environment import catalog_names

    return catalog_names()
