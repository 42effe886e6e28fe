"""Where data-quality reports live (standard library only: the Airflow UI plugin imports this).

The root is the caller's (``QualitySettings.quality_dir``; the deployment resolves ``$HR_QUALITY_DIR``)::

    <root>/gx/                 GX project: suites, validation definitions, results (not served)
    <root>/docs/               GX Data Docs site, rebuilt on every run, every run's results kept
    <root>/runs/<run>/         summary.html + summary.json of one run
    <root>/latest/             the same for the newest run
    <root>/index.html          the runs with their status, newest first
    <root>/history.json        per-run totals behind the trend column
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from ..filenames import portable_name

RUNS_DIR = "runs"
LATEST_DIR = "latest"
DOCS_DIR = "docs"
SUMMARY_HTML = "summary.html"
SUMMARY_JSON = "summary.json"
INDEX_HTML = "index.html"
HISTORY_JSON = "history.json"
SERVED = (RUNS_DIR, LATEST_DIR, DOCS_DIR, INDEX_HTML)  # what the UI plugin may serve; never gx/


def quality_root(root: str | PathLike[str]) -> Path:
    """``root`` as an absolute path (``~`` expanded)."""
    return Path(root).expanduser().resolve()


def run_folder(run_id: str) -> str:
    """A run id as a portable folder name (Airflow run ids hold ':' and '+')."""
    return portable_name(run_id)


def dag_run_report_id(dag_id: str, run_id: str) -> str:
    """The report id of a quality run inside an Airflow DAG run: run ids repeat across DAGs."""
    return f"{dag_id}__{run_id}"
