"""A SQLite commit waits for the file's write lock as long as ``commit_wait_s``, not the busy timeout."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from warehouse_fakes import COLUMNS, SPEC, TABLE, pages

from hr_dataverse.warehouse import Warehouse, WarehouseError


def _hold_write_lock(path: Path, seconds: float, held: threading.Event) -> threading.Thread:
    """Another process's commit, as SQLite sees it: the write lock held for ``seconds``."""
    def hold() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(seconds)
        other.execute("COMMIT")
        other.close()
    thread = threading.Thread(target=hold)
    thread.start()
    return thread


def _load(wh: Warehouse, run_id: str) -> int:
    with wh.begin_load(TABLE, run_id, "full") as load:
        for page in pages(0, 50, 25):
            load.stage_rows(page)
        held = threading.Event()
        holder = _hold_write_lock(Path(wh.engine.url.database), 1.5, held)
        held.wait(5)
        try:
            return load.commit(delta_link=f"link-{run_id}", source_count=50, reconcile_deletes=True).rows_upserted
        finally:
            holder.join()


def test_commit_outwaits_another_commit_longer_than_the_busy_timeout(tmp_path: Path) -> None:
    wh = Warehouse(f"sqlite:///{tmp_path / 'w.db'}", busy_timeout_s=0.2, commit_wait_s=30)
    wh.ensure_table(SPEC, COLUMNS)
    assert _load(wh, "run-1") == 50
    assert wh.get_state(TABLE).delta_link == "link-run-1"
    # Every pooled connection (the commit's among them) has its usual busy timeout back.
    pooled = [wh.engine.connect() for _ in range(wh.engine.pool.checkedin())]
    assert pooled and all(c.exec_driver_sql("PRAGMA busy_timeout").scalar() == 200 for c in pooled)
    for conn in pooled:
        conn.close()


def test_commit_gives_up_after_commit_wait_and_applies_nothing(tmp_path: Path) -> None:
    wh = Warehouse(f"sqlite:///{tmp_path / 'w.db'}", busy_timeout_s=0.2, commit_wait_s=0.3)
    wh.ensure_table(SPEC, COLUMNS)
    with pytest.raises(WarehouseError, match="commit failed, nothing was applied: database is locked"):
        _load(wh, "run-1")
    assert wh.get_state(TABLE) is None or wh.get_state(TABLE).delta_link is None
