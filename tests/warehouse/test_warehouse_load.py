"""Staging + merge: typed values, idempotent upserts, soft deletes, reconciliation, atomic state."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from warehouse_fakes import (
    COLUMNS,
    SPEC,
    TABLE,
    Target,
    contents,
    delta_load,
    delta_pages,
    full_load,
    guid,
    row,
)

from hr_dataverse.warehouse import RequestCounts, RunStats, Warehouse, WarehouseError


def live_ids(wh: Warehouse) -> set[str]:
    t = wh.table(TABLE)
    with wh.engine.connect() as conn:
        return set(conn.scalars(sa.select(t.c.cdm_workerid).where(t.c._deleted_at.is_(None))))


def one(wh: Warehouse, i: int) -> dict:
    t = wh.table(TABLE)
    with wh.engine.connect() as conn:
        return dict(conn.execute(sa.select(t).where(t.c.cdm_workerid == guid(i))).one()._mapping)


def test_staged_rows_are_typed_and_invisible_until_commit(target: Target) -> None:
    wh = target.open()
    wh.ensure_table(SPEC, COLUMNS)
    load = wh.begin_load(TABLE, "run-1", "full")
    assert load.stage_rows([row(1, version=7, modifiedon="2024-09-02T05:04:05+02:00"), row(2, statecode=1)]) == 2
    assert live_ids(wh) == set() and wh.get_state(TABLE).delta_link is None  # staging never touches live
    result = load.commit(delta_link="https://org/api/data/v9.2/cdm_workers?$deltatoken=1", source_count=2,
                         stats=RunStats(pages=1, counts=RequestCounts(requests=1)))
    assert (result.rows_upserted, result.rows_deleted, result.rows_total, result.rows_deleted_total) == (2, 0, 2, 0)
    got = one(wh, 1)
    assert got["cdm_workerid"] == guid(1)  # upper-case wire GUID stored lower-case
    assert got["cdm_workernumber"] == "W000001" and got["cdm_description"] == "line one\nline\ttwo \\ 1"
    assert got["cdm_dependents"] == 1 and got["versionnumber"] == 7 and got["_source_version"] == 7
    assert Decimal(str(got["cdm_fte"])) == Decimal("1.0") and Decimal(str(got["cdm_salary"])) == Decimal("1001.25")
    assert got["cdm_score"] == pytest.approx(1 / 3) and got["cdm_isactive"] is True
    assert got["modifiedon"] == datetime(2024, 9, 2, 3, 4, 5, tzinfo=UTC)  # UTC, aware on both backends
    assert got["cdm_birthdate"] == date(1990, 5, 17)
    assert got["_cdm_companyid_value"] == guid(10_001) and got["cdm_companyid_name"] == "Company 1"
    assert got["cdm_type"] == 754400001 and got["cdm_type_label"] == "Contractor"  # from the annotation
    assert got["statecode_label"] == "Active"  # no annotation: label from the metadata options
    assert one(wh, 2)["statecode_label"] == "Inactive"
    assert got["_deleted_at"] is None and got["_run_id"] == "run-1" and got["_synced_at"] == result.synced_at
    state = wh.get_state(TABLE)
    assert state.mode == "full" and state.delta_link.endswith("$deltatoken=1") and state.source_count == 2
    assert state.last_full_load_at == state.last_sync_at == result.synced_at and state.last_run_id == "run-1"
    assert (state.rows_total, state.rows_deleted, state.last_rows_upserted) == (2, 0, 2)
    [run] = wh.runs("run-1")
    assert (run.table_name, run.mode, run.status, run.rows_upserted, run.pages, run.requests) == (
        TABLE, "full", "success", 2, 1, 1)
    assert run.started_at <= run.finished_at == result.synced_at


def test_version_from_etag_and_missing_annotation(target: Target) -> None:
    wh = target.open()
    wh.ensure_table(SPEC, COLUMNS)
    bare = {k: v for k, v in row(3).items() if "@OData" not in k and k != "versionnumber"}
    bare["@odata.etag"] = 'W/"915244"'
    with wh.begin_load(TABLE, "run-1", "full") as load:
        load.stage_rows([bare])
        load.commit(source_count=1)
    got = one(wh, 3)
    assert got["_source_version"] == 915244 and got["versionnumber"] is None
    assert got["cdm_companyid_name"] is None  # lookups have no fallback for the readable value
    assert got["cdm_type_label"] == "Contractor"  # choices fall back to the metadata options


def test_bad_values_are_named_and_abort(target: Target) -> None:
    wh = target.open()
    wh.ensure_table(SPEC, COLUMNS)
    with pytest.raises(WarehouseError) as info, wh.begin_load(TABLE, "run-1", "full") as load:
        load.stage_rows([row(1), row(2, cdm_dependents="many")])
    assert str(info.value) == (f"table 'cdm_worker', row {guid(2).upper()}: column 'cdm_dependents': cannot store "
                               "'many' as integer (Dataverse type Integer)")
    with pytest.raises(WarehouseError, match="a row has no primary key 'cdm_workerid'"), \
            wh.begin_load(TABLE, "run-1", "full") as load:
        load.stage_rows([{"cdm_workernumber": "x"}])
    with pytest.raises(WarehouseError, match="deleted row id 'nope' is not a GUID"), \
            wh.begin_load(TABLE, "run-1", "delta") as load:
        load.stage_deletes(["nope"])
    assert live_ids(wh) == set() and wh.runs() == []


def test_reupsert_is_idempotent_and_latest_event_wins(target: Target) -> None:
    wh = target.open()
    full_load(wh, "run-1", "link-1", count=100)
    first = contents(wh)
    full_load(wh, "run-1", "link-1", count=100)  # the same pages again, as after a retry
    assert contents(wh) == first
    with wh.begin_load(TABLE, "run-2", "delta") as load:  # one key several times in one load
        load.stage_rows([row(5, version=2, cdm_workernumber="first")])
        load.stage_rows([row(5, version=3, cdm_workernumber="second")])
        load.stage_deletes([guid(6)])
        load.stage_rows([row(6, version=4, cdm_workernumber="back")])  # delete then re-create: live
        load.stage_rows([row(7, version=2)])
        load.stage_deletes([guid(7)])  # update then delete: deleted
        result = load.commit(delta_link="link-2")
    assert (result.rows_upserted, result.rows_deleted) == (2, 1)
    assert one(wh, 5)["cdm_workernumber"] == "second" and one(wh, 5)["_source_version"] == 3
    assert one(wh, 6)["cdm_workernumber"] == "back" and one(wh, 6)["_deleted_at"] is None
    assert one(wh, 7)["_deleted_at"] is not None
    assert wh.get_state(TABLE).rows_total == 99


def test_a_key_read_twice_by_a_full_load_keeps_its_last_version(target: Target) -> None:
    # A load without deletes takes the merge's fast path (no latest-per-key filter, unseen rows counted
    # from totals): a key read twice must still end with its last version and be counted once.
    wh = target.open()
    full_load(wh, "run-1", "link-1", count=3)
    with wh.begin_load(TABLE, "run-2", "delta") as load:
        load.stage_deletes([guid(2)])
        load.commit(delta_link="link-2")
    with wh.begin_load(TABLE, "run-3", "full") as load:
        load.stage_rows([row(2, version=6, cdm_workernumber="first"), row(0, version=5)])
        load.stage_rows([row(2, version=7, cdm_workernumber="last"), row(0, version=8, cdm_workernumber="zero")])
        result = load.commit(delta_link="link-3", source_count=2, reconcile_deletes=True)
    assert (result.rows_upserted, result.rows_reconciled, result.rows_total, result.rows_deleted_total) == (2, 1, 2, 1)
    assert one(wh, 2)["cdm_workernumber"] == "last" and one(wh, 2)["_source_version"] == 7
    assert one(wh, 2)["_deleted_at"] is None  # revived by the full load
    assert one(wh, 0)["cdm_workernumber"] == "zero" and one(wh, 0)["_source_version"] == 8
    assert live_ids(wh) == {guid(0), guid(2)} and one(wh, 1)["_deleted_at"] is not None


def test_soft_delete_is_idempotent_and_reappearance_revives(target: Target) -> None:
    wh = target.open()
    full_load(wh, "run-1", "link-1", count=10)
    with wh.begin_load(TABLE, "run-2", "delta") as load:
        load.stage_deletes([guid(3).upper(), guid(4), guid(999)])  # 999 never existed: ignored
        result = load.commit(delta_link="link-2")
    assert (result.rows_deleted, result.rows_total, result.rows_deleted_total) == (2, 8, 2)
    deleted_at = one(wh, 3)["_deleted_at"]
    assert deleted_at is not None and one(wh, 3)["cdm_workernumber"] == "W000003"  # soft: row kept
    with wh.begin_load(TABLE, "run-3", "delta") as load:  # the same delete replayed
        load.stage_deletes([guid(3)])
        assert load.commit(delta_link="link-3").rows_deleted == 0
    assert one(wh, 3)["_deleted_at"] == deleted_at and one(wh, 3)["_run_id"] == "run-2"
    with wh.begin_load(TABLE, "run-4", "delta") as load:
        load.stage_rows([row(3, version=5)])
        load.commit(delta_link="link-4")
    assert one(wh, 3)["_deleted_at"] is None and one(wh, 3)["_source_version"] == 5
    state = wh.get_state(TABLE)
    assert (state.rows_total, state.rows_deleted, state.mode, state.delta_link) == (9, 1, "delta", "link-4")
    assert state.source_count == 10  # deltas without a count keep the full load's
    assert state.last_full_load_at < state.last_sync_at  # delta loads keep the full-load time


def test_full_load_reconciles_rows_the_source_no_longer_has(target: Target) -> None:
    wh = target.open()
    full_load(wh, "run-1", "link-1", count=20)
    with wh.begin_load(TABLE, "run-2", "full") as load:  # e.g. after an expired delta token
        for i in range(0, 20, 2):
            load.stage_rows([row(i, version=2)])
        load.stage_rows([row(50, version=2)])
        result = load.commit(delta_link="link-2", source_count=11, reconcile_deletes=True,
                             status="warning", stats=RunStats(message="delta token expired; full resync"))
    assert (result.rows_upserted, result.rows_reconciled, result.rows_deleted, result.rows_total) == (11, 10, 10, 11)
    assert live_ids(wh) == {guid(i) for i in [*range(0, 20, 2), 50]}
    assert wh.runs("run-2")[0].message == "delta token expired; full resync"
    with wh.begin_load(TABLE, "run-3", "full_every_run") as load:  # table without change tracking
        load.stage_rows([row(0, version=3)])
        load.commit(delta_link="ignored", source_count=1, reconcile_deletes=True)
    assert live_ids(wh) == {guid(0)}
    assert wh.get_state(TABLE).delta_link is None and wh.get_state(TABLE).mode == "full_every_run"


def test_reconciling_an_empty_load_needs_confirmation(target: Target) -> None:
    wh = target.open()
    full_load(wh, "run-1", "link-1", count=5)
    with pytest.raises(WarehouseError, match="refusing to mark every row deleted"), \
            wh.begin_load(TABLE, "run-2", "full") as load:
        load.commit(delta_link="link-2", reconcile_deletes=True)
    assert len(live_ids(wh)) == 5 and wh.get_state(TABLE).delta_link == "link-1"
    with wh.begin_load(TABLE, "run-3", "full") as load:
        load.commit(delta_link="link-3", source_count=0, reconcile_deletes=True)
    assert live_ids(wh) == set()


def test_abort_and_failed_commit_leave_the_previous_state(target: Target) -> None:
    wh = target.open()
    full_load(wh, "run-1", "link-1", count=30)
    before, state_before = contents(wh), wh.get_state(TABLE)
    load = wh.begin_load(TABLE, "run-2", "delta")
    for upserts, deletes in delta_pages():
        load.stage_rows(upserts)
        load.stage_deletes(deletes)
    load.abort()
    load.abort()  # harmless twice
    with pytest.raises(WarehouseError, match="already committed or aborted"):
        load.stage_rows([row(1)])
    with pytest.raises(RuntimeError), wh.begin_load(TABLE, "run-3", "delta") as load:
        load.stage_rows([row(1, version=9)])
        raise RuntimeError("reader failed")  # the context manager aborts
    with pytest.raises(WarehouseError, match="a delta load must store the new delta link"), \
            wh.begin_load(TABLE, "run-4", "delta") as load:
        load.stage_rows([row(1, version=9)])
        load.commit()
    assert contents(wh) == before and wh.get_state(TABLE) == state_before
    assert [r.run_id for r in wh.runs()] == ["run-1"]


def test_state_operations(target: Target) -> None:
    wh = target.open()
    assert wh.get_state(TABLE) is None and wh.clear_tracking(TABLE) is False and wh.states() == []
    full_load(wh, "run-1", "link-1", count=3)
    assert wh.clear_tracking(TABLE) is True
    state = wh.get_state(TABLE)
    assert state.delta_link is None and state.rows_total == 3  # counts and history are kept
    started = datetime(2024, 1, 1, tzinfo=UTC)
    wh.record_run("run-2", TABLE, "delta", status="failed", started_at=started, stats=RunStats(message="403 on read"))
    failed = wh.runs(table=TABLE)[-1]
    assert (failed.run_id, failed.status, failed.message, failed.started_at) == (
        "run-2", "failed", "403 on read", started)
    with pytest.raises(WarehouseError, match="unknown run status 'oops'"):
        wh.record_run("run-3", TABLE, "delta", status="oops", started_at=started)
    assert [s.table_name for s in target.open().states()] == [TABLE]


def test_concurrent_loads_of_different_tables(target: Target) -> None:
    """Two sessions (as two Airflow tasks) stage interleaved into one warehouse and both commit."""
    other = SPEC.__class__(**{**SPEC.__dict__, "name": "cdm_employee"})
    wh_a, wh_b = target.open(), target.open()
    wh_a.ensure_table(SPEC, COLUMNS)
    wh_b.ensure_table(other, COLUMNS)
    with wh_a.begin_load(TABLE, "run-1", "full") as a, wh_b.begin_load("cdm_employee", "run-1", "full") as b:
        for i in range(0, 40, 10):
            a.stage_rows([row(j) for j in range(i, i + 10)])
            b.stage_rows([row(j) for j in range(i + 100, i + 110)])
        b.commit(delta_link="link-b", source_count=40)
        a.commit(delta_link="link-a", source_count=40)
    assert wh_a.get_state(TABLE).rows_total == 40 and wh_a.get_state("cdm_employee").delta_link == "link-b"


def test_partitioned_full_load(target: Target) -> None:
    """Key ranges read in parallel stage into one session; one commit reconciles and stores the link."""
    wh = target.open()
    full_load(wh, "run-1", "link-1", count=30)
    with wh.begin_load(TABLE, "run-2", "full") as load:
        for part in (range(0, 10), range(10, 20)):  # rows 20..29 are gone from the source
            load.stage_rows([row(i, version=2) for i in part])
            assert wh.get_state(TABLE).delta_link == "link-1"  # staged parts alone store nothing
        result = load.commit(delta_link="link-2", source_count=20, reconcile_deletes=True, stats=RunStats(pages=2))
    assert (result.rows_upserted, result.rows_reconciled, result.rows_total, result.rows_deleted_total) == (
        20, 10, 20, 10)
    assert live_ids(wh) == {guid(i) for i in range(20)}
    state = wh.get_state(TABLE)
    assert (state.delta_link, state.source_count, state.last_rows_upserted) == ("link-2", 20, 20)
    assert wh.runs("run-2")[0].pages == 2


def test_delta_after_full_load(target: Target) -> None:
    wh = target.open()
    full_load(wh, "run-1", "link-1")
    delta_load(wh, "run-2", "link-2")
    expected_live = ({guid(i) for i in range(200)} - {guid(i) for i in range(150, 175)}
                     | {guid(i) for i in range(1000, 1050)})
    assert live_ids(wh) == expected_live
    assert one(wh, 0)["cdm_workernumber"] == "U0" and one(wh, 1000)["_run_id"] == "run-2"
