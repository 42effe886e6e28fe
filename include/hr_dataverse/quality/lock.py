"""One quality run at a time per report folder: the sync DAG's last stage and the scheduled quality
DAG may start together, and GX rewrites its project file while a run adds assets."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from ..locks import file_lock

LOCK_FILE = ".lock"


def quality_lock(root: Path) -> AbstractContextManager[None]:
    """Hold an exclusive lock on ``<root>/.lock`` (waits for a concurrent run to finish)."""
    return file_lock(root / LOCK_FILE)
