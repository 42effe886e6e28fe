"""What this deployment's environment variables configure, read here at the edge: the pipeline core
(``hr_dataverse``) reads no environment and takes these values as arguments. No Airflow imports, so
the scripts and the bench resolve them the same way as the tasks.

=================================  ==========================================  =================================
variable                           what                                        default
=================================  ==========================================  =================================
``HR_WAREHOUSE_URL``               the warehouse when no Airflow connection    ``<checkout>/data/hr_warehouse.db``
                                   ``hr_warehouse`` is defined
``HR_DATAVERSE_CATALOG``           the entity catalog file                     the packaged ``catalog.yaml``
``HR_REPORTS_DIR``                 local reports root (check reports)          ``<checkout>/reports``
``HR_QUALITY_DIR``                 local data-quality report root              ``<checkout>/reports/quality``
``HR_DATAVERSE_BASELINE_OVERLAP``  read a baseline's key ranges while its      on (``1``)
                                   key walk still runs (``0``: after it)
=================================  ==========================================  =================================
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import hr_dataverse

if TYPE_CHECKING:
    from hr_dataverse.catalog import Catalog

WAREHOUSE_URL_ENV = "HR_WAREHOUSE_URL"
CATALOG_ENV = "HR_DATAVERSE_CATALOG"
REPORTS_ENV = "HR_REPORTS_DIR"
QUALITY_DIR_ENV = "HR_QUALITY_DIR"
BASELINE_OVERLAP_ENV = "HR_DATAVERSE_BASELINE_OVERLAP"
# include/hr_dataverse/__init__.py -> the checkout root (also the image's project folder).
CHECKOUT = Path(hr_dataverse.__file__).resolve().parents[2]
DEFAULT_SQLITE_FILE = CHECKOUT / "data" / "hr_warehouse.db"
DEFAULT_REPORTS_DIR = CHECKOUT / "reports"
DEFAULT_QUALITY_DIR = DEFAULT_REPORTS_DIR / "quality"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def warehouse_url() -> str:
    """``$HR_WAREHOUSE_URL`` when set, else the embedded SQLite file ``<checkout>/data/hr_warehouse.db``."""
    return os.environ.get(WAREHOUSE_URL_ENV) or f"sqlite:///{DEFAULT_SQLITE_FILE}"


def catalog_file() -> Path:
    """The catalog file to use: ``$HR_DATAVERSE_CATALOG``, else the packaged default."""
    from hr_dataverse.catalog import DEFAULT_CATALOG

    return Path(os.environ.get(CATALOG_ENV) or DEFAULT_CATALOG)


def configured_catalog(path: str | os.PathLike[str] | None = None) -> Catalog:
    """The catalog at ``path``, else :func:`catalog_file`; raises ``CatalogError`` naming every problem."""
    from hr_dataverse.catalog import load_catalog as read

    return read(path or catalog_file())


def parsed_catalog() -> Catalog | None:
    """:func:`configured_catalog` for DAG-parse time: cached per catalog file version and process (several
    DAG files parsed in one process read it); None when the file cannot be read or is invalid."""
    path = catalog_file()
    try:
        version = path.stat().st_mtime_ns
    except OSError:
        version = None
    return _parsed(str(path), version)


@cache
def _parsed(path: str, version: int | None) -> Catalog | None:
    from hr_dataverse.catalog import CatalogError

    try:
        return configured_catalog(path)
    except CatalogError:
        return None


def catalog_names() -> list[str]:
    """The table names of :func:`parsed_catalog`; [] when the catalog cannot be read."""
    catalog = parsed_catalog()
    return catalog.names() if catalog is not None else []


def reports_dir(configured: str | os.PathLike[str] | None = None) -> Path:
    """The local reports folder: ``configured``, else ``$HR_REPORTS_DIR``, else ``<checkout>/reports``."""
    return Path(configured or os.environ.get(REPORTS_ENV) or DEFAULT_REPORTS_DIR)


def quality_dir(configured: str | os.PathLike[str] | None = None) -> Path:
    """The local quality report root: ``configured``, else ``$HR_QUALITY_DIR``, else ``<checkout>/reports/quality``."""
    return Path(configured or os.environ.get(QUALITY_DIR_ENV) or DEFAULT_QUALITY_DIR).expanduser().resolve()


def baseline_overlap() -> bool:
    """``$HR_DATAVERSE_BASELINE_OVERLAP`` (default on); raises ``ValueError`` when it is not a 1/0 flag."""
    raw = os.environ.get(BASELINE_OVERLAP_ENV, "").strip().lower()
    if not raw:
        return True
    if raw in _TRUE or raw in _FALSE:
        return raw in _TRUE
    raise ValueError(f"{BASELINE_OVERLAP_ENV} must be 1 or 0 (true/false), got {raw!r}")
