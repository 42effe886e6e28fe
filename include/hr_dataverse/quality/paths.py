"""Where data-quality reports live (standard library only: the Airflow UI plugin imports this).

``$HR_QUALITY_DIR`` when set, else ``<checkout>/reports/quality`` (git-ignored)::

    <root>/gx/                 GX project: suites, validation definitions, results (not served)
    <root>/docs/               GX Data Docs site, rebuilt on every run, every run's results kept
    <root>/runs/<run>/         summary.html + summary.json of one run
    <root>/latest/             the same for the newest run
    <root>/index.html          the runs with their status, newest first
    <root>/history.json        per-run totals behind the trend column
"""

from __future__ import annotations

import os
import re
from pathlib import Path

QUALITY_DIR_ENV = "HR_QUALITY_DIR"
# include/hr_dataverse/quality/paths.py -> the checkout root.
DEFAULT_QUALITY_DIR = Path(__file__).resolve().parents[3] / "reports" / "quality"
RUNS_DIR = "runs"
LATEST_DIR = "latest"
DOCS_DIR = "docs"
SUMMARY_HTML = "summary.html"
SUMMARY_JSON = "summary.json"
INDEX_HTML = "index.html"
HISTORY_JSON = "history.json"
SERVED = (RUNS_DIR, LATEST_DIR, DOCS_DIR, INDEX_HTML)  # what the UI plugin may serve; never gx/
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def quality_root(configured: str | os.PathLike[str] | None = None) -> Path:
    """``configured``, else ``$HR_QUALITY_DIR``, else ``<checkout>/reports/quality``."""
    chosen = configured or os.environ.get(QUALITY_DIR_ENV) or DEFAULT_QUALITY_DIR
    return Path(chosen).expanduser().resolve()


def run_folder(run_id: str) -> str:
    """A run id as a portable folder name (Airflow run ids hold ':' and '+')."""
    name = _UNSAFE.sub("_", run_id).strip("._") or "_"
    return name[:150]


def dag_run_report_id(dag_id: str, run_id: str) -> str:
    """The report id of a quality run inside an Airflow DAG run: run ids repeat across DAGs."""
    return f"{dag_id}__{run_id}"
