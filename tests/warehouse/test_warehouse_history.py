"""Run-history columns added later (throttling, retries, warnings) are added to an existing
warehouse on first use; old rows read as zeros, new rows carry the counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from warehouse_fakes import Target

from hr_dataverse.warehouse import RequestCounts, RunStats

OLD_RUNS_DDL = """CREATE TABLE {name} (
    id {id_type} PRIMARY KEY, run_id TEXT NOT NULL, table_name TEXT NOT NULL, mode TEXT NOT NULL,
    status TEXT NOT NULL, started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP,
    rows_upserted BIGINT NOT NULL DEFAULT 0, rows_deleted BIGINT NOT NULL DEFAULT 0,
    pages INTEGER NOT NULL DEFAULT 0, requests INTEGER NOT NULL DEFAULT 0, message TEXT)"""


def test_old_history_table_gains_the_new_columns(target: Target) -> None:
    engine = sa.create_engine(target.url)
    name = f'"{target.schema}"._hr_sync_runs' if target.schema else "_hr_sync_runs"
    started = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        if target.schema:
            conn.exec_driver_sql(f'CREATE SCHEMA "{target.schema}"')
        conn.exec_driver_sql(OLD_RUNS_DDL.format(name=name, id_type="BIGSERIAL" if target.schema else "INTEGER"))
        conn.execute(sa.text(f"INSERT INTO {name} (run_id, table_name, mode, status, started_at, requests) "
                             "VALUES ('old', 'cdm_job', 'full', 'success', :s, 7)"), {"s": started})
    engine.dispose()

    wh = target.open()
    (old,) = wh.runs()
    assert (old.run_id, old.requests, old.throttled, old.retries, old.wait_seconds, old.warnings) == \
        ("old", 7, 0, 0, 0.0, ())
    wh.record_run("new", "cdm_job", "delta", status="failed", started_at=started + timedelta(hours=1),
                  stats=RunStats(counts=RequestCounts(requests=9, throttled=3, wait_seconds=12.5, retries=4),
                                 warnings=("first warning", "second")))
    new = wh.runs(run_id="new")[0]
    assert (new.requests, new.throttled, new.wait_seconds, new.retries) == (9, 3, 12.5, 4)
    assert new.warnings == ("first warning", "second")
    columns = {c["name"] for c in sa.inspect(wh.engine).get_columns("_hr_sync_runs", schema=target.schema)}
    assert {"throttled", "wait_seconds", "retries", "warnings"} <= columns

    # A second warehouse object on the migrated table adds nothing and reads both rows.
    again = target.open()
    assert [r.run_id for r in again.run_history()] == ["old", "new"]
    assert [r.run_id for r in again.run_history(since=started + timedelta(minutes=30))] == ["new"]
    assert [r.run_id for r in again.run_history(table="cdm_job", until=started + timedelta(minutes=30))] == ["old"]
