"""A PostgreSQL commit rolled back to break a deadlock is tried again, whole, and succeeds.

Two concurrent loads can deadlock on PostgreSQL: each commit holds rows the other one updates (a
table's merge, and the lookup names another table's commit refreshes in it). The database rolls
one transaction back; the load must not be lost for that.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest
import sqlalchemy as sa
from warehouse_fakes import COLUMNS, SPEC, TABLE, Target, full_load, guid, pages

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_target(request: pytest.FixtureRequest) -> Target:
    import uuid

    from shared_helpers import drop_schemas

    url = request.getfixturevalue("postgres_url")
    target = Target("postgres", url, f"t_{uuid.uuid4().hex[:10]}", [])
    yield target
    for wh in target.opened:
        wh.dispose()
    drop_schemas(url, target.schema)


def _interfere(url: str, schema: str, ready: threading.Event, done: list[str]) -> None:
    """Hold the table's sync-state row, wait until the commit waits for it, then update a row the
    commit's merge holds: a lock cycle, and the commit (which waited first) is the one rolled back."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn, conn.begin():
            conn.exec_driver_sql(f'UPDATE "{schema}"._hr_sync_state SET last_run_id = last_run_id '
                                 f"WHERE table_name = '{TABLE}'")
            ready.set()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # until another backend waits for a lock
                waiting = conn.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database() AND pid <> pg_backend_pid()").scalar()
                if waiting:
                    break
                time.sleep(0.05)
            conn.exec_driver_sql(f'UPDATE "{schema}".{TABLE} SET cdm_workernumber = \'held\' '
                                 f"WHERE cdm_workerid = '{guid(0)}'")
        done.append("committed")
    finally:
        engine.dispose()


def test_a_commit_rolled_back_by_a_deadlock_is_tried_again(pg_target: Target, caplog) -> None:
    wh = pg_target.open()
    wh.ensure_table(SPEC, COLUMNS)
    full_load(wh, "run-1", "link-1", count=20)
    ready, done = threading.Event(), []
    with wh.begin_load(TABLE, "run-2", "full") as load:
        for page in pages(0, 20, 10, version=2):
            load.stage_rows(page)
        other = threading.Thread(target=_interfere, args=(pg_target.url, pg_target.schema, ready, done))
        other.start()
        assert ready.wait(10)
        with caplog.at_level(logging.WARNING, logger="hr_dataverse.warehouse.load"):
            result = load.commit(delta_link="link-2", source_count=20, reconcile_deletes=True)
        other.join(30)
    assert done == ["committed"]  # the other transaction went through once ours was rolled back
    assert "commit attempt 1 of 3 rolled back by the database (deadlock detected" in caplog.text
    assert (result.rows_upserted, result.rows_total) == (20, 20)
    state = wh.get_state(TABLE)
    assert (state.delta_link, state.last_run_id) == ("link-2", "run-2")
    with wh.engine.connect() as conn:  # the retried commit came after the other one: its row won
        number = conn.scalar(sa.select(wh.table(TABLE).c.cdm_workernumber)
                             .where(wh.table(TABLE).c.cdm_workerid == guid(0)))
    assert number == "W000000"
