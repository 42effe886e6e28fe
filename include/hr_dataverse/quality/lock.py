"""One quality run at a time per report folder: the sync DAG's last stage and the scheduled quality
DAG may start together, and GX rewrites its project file while a run adds assets."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = ".lock"


@contextmanager
def quality_lock(root: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<root>/.lock`` (waits for a concurrent run to finish)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
