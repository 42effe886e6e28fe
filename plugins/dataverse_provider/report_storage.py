"""Where reports live when a task writes them and the API server reads them: one storage URL.

Everything a task writes for another component to read (data-quality reports, GX Data Docs, check
reports) goes to ``$HR_REPORT_STORAGE_URL`` through Airflow's ``ObjectStoragePath``:

* ``file:///shared/reports`` — one machine, or a volume every container mounts (the default is
  ``file://`` + ``$HR_REPORTS_DIR`` or ``<checkout>/reports``: ``environment.py``);
* ``abfs://<container>/<path>`` — ADLS Gen2 / Blob through the azure provider (connection given by
  ``$HR_REPORT_STORAGE_CONN_ID`` or as ``abfs://<conn_id>@<container>/<path>``; set its extra
  ``account_name``);
* ``s3://<bucket>/<path>`` — the same, once the amazon provider (+ s3fs) is installed.

Layout under the URL: ``quality/`` (the tree of ``hr_dataverse.quality.paths``) and
``checks/<dag>/<run>/<task>.json``. Without ``$HR_REPORT_STORAGE_URL`` the older settings still
apply: ``$HR_QUALITY_DIR`` for ``quality/``, ``$HR_REPORTS_DIR`` for ``checks/``.

GX needs a local folder, so a quality task works in a private scratch copy: :func:`pull` the tree,
run, :func:`push` it back. Guarantees: a push only adds or replaces files, and deletes only run
folders this task's own pruning removed, so a concurrent run's new folder is never deleted; on
``file://`` storage the whole pull-run-push holds a lock (:func:`storage_lock`), elsewhere two
runs finishing together can drop one run from ``index.html`` (its folder stays). Nothing here
reads a task's local path on behalf of another process.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from dataverse_provider.environment import quality_dir, reports_dir
from hr_dataverse.quality.lock import LOCK_FILE, quality_lock

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

STORAGE_URL_ENV = "HR_REPORT_STORAGE_URL"
STORAGE_CONN_ENV = "HR_REPORT_STORAGE_CONN_ID"
SCRATCH_ENV = "HR_SCRATCH_DIR"
QUALITY = "quality"
CHECKS = "checks"


class StorageConfigError(ValueError):
    """The report storage URL cannot be used; the message names the setting."""


def storage_root() -> ObjectStoragePath | None:
    """``$HR_REPORT_STORAGE_URL`` as a path (its connection applied), or None when it is not set."""
    url = os.environ.get(STORAGE_URL_ENV, "").strip().rstrip("/")
    if not url:
        return None
    if "://" not in url:
        raise StorageConfigError(f"{STORAGE_URL_ENV} must be a URL such as file:///shared/reports, "
                                 f"abfs://<container>/reports or s3://<bucket>/reports, got {url!r}")
    return _path(url)


def quality_storage(configured: str | os.PathLike[str] | None = None) -> ObjectStoragePath:
    """Where quality reports are published: ``configured`` (a local folder or URL), else
    ``$HR_REPORT_STORAGE_URL/quality``, else ``file://`` + ``quality_dir()`` (``$HR_QUALITY_DIR``)."""
    if configured:
        return _path(str(configured)) if "://" in str(configured) else _local(quality_dir(configured))
    root = storage_root()
    return root / QUALITY if root is not None else _local(quality_dir())


def checks_storage(configured: str | None = None) -> ObjectStoragePath:
    """Where check reports go: ``<configured>/checks``, else ``$HR_REPORT_STORAGE_URL/checks``, else
    ``<reports_dir()>/checks`` (``$HR_REPORTS_DIR``)."""
    root = None if configured else storage_root()
    return root / CHECKS if root is not None else _local(reports_dir(configured).resolve()) / CHECKS


def display(path: ObjectStoragePath) -> str:
    """How a stored file is named in logs and XCom summaries: a plain path for ``file://``, else the URL."""
    return path.path if path.protocol in ("file", "local") else str(path)


def write_text(path: ObjectStoragePath, text: str) -> None:
    """Write one file; on ``file://`` through a temporary name, so readers never see half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.protocol in ("file", "local"):
        local = Path(path.path)
        tmp = local.with_name(local.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(local)
    else:  # object stores replace an object whole on upload
        path.write_text(text, encoding="utf-8")


def scratch_dir(prefix: str) -> Path:
    """A new private folder under ``$HR_SCRATCH_DIR`` (else the system temp folder)."""
    base = os.environ.get(SCRATCH_ENV) or None
    if base:
        Path(base).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


@contextmanager
def storage_lock(root: ObjectStoragePath) -> Iterator[None]:
    """An exclusive lock on ``<root>/.lock`` for ``file://`` storage (one quality publish at a time);
    object stores have no lock: see the module docstring for what that can cost."""
    if root.protocol not in ("file", "local"):
        yield
        return
    with quality_lock(Path(root.path)):
        yield


def pull(root: ObjectStoragePath, local: Path) -> set[str]:
    """Copy every file under ``root`` into ``local``; returns their relative paths (POSIX)."""
    local.mkdir(parents=True, exist_ok=True)
    if not root.exists():
        return set()
    prefix = str(root).rstrip("/") + "/"
    copied: set[str] = set()
    for item in root.rglob("*"):
        rel = str(item)[len(prefix):]
        if not rel or rel.split("/")[-1] == LOCK_FILE or not item.is_file():
            continue
        target = local / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(item.read_bytes())
        copied.add(rel)
    return copied


def push(local: Path, root: ObjectStoragePath, pulled: set[str] = frozenset(), *,
         prune_under: str | None = None) -> int:
    """Upload every file of ``local`` to ``root`` (added or replaced); then delete the files that
    were pulled from under ``prune_under`` and are gone locally (this run pruned them). Returns the
    number of files uploaded."""
    present = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file() and p.name != LOCK_FILE}
    for rel in sorted(present):
        target = root.joinpath(*rel.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((local / rel).read_bytes())
    if prune_under:
        for rel in sorted(pulled - present):
            if rel.startswith(prune_under.rstrip("/") + "/"):
                gone = root.joinpath(*rel.split("/"))
                if gone.exists():
                    gone.unlink()
    return len(present)


def _local(folder: Path) -> ObjectStoragePath:
    return _path(Path(folder).expanduser().resolve().as_uri())


def _path(url: str) -> ObjectStoragePath:
    from airflow.sdk import ObjectStoragePath

    conn_id = os.environ.get(STORAGE_CONN_ENV, "").strip() or None
    if url.startswith(("file:", "local:")):
        return ObjectStoragePath(url)
    try:
        return ObjectStoragePath(url, conn_id=conn_id) if conn_id else ObjectStoragePath(url)
    except ValueError as exc:  # e.g. "No filesystem registered for scheme s3"
        raise StorageConfigError(f"{STORAGE_CONN_ENV}/{STORAGE_URL_ENV}: {exc} (install the provider of that "
                                 "scheme: abfs:// needs the azure provider, s3:// the amazon provider and s3fs)") from None
