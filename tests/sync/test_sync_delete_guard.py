"""No silent loss on a short read: a full read that returns fewer rows than Dataverse counts (the
emulator's partial-table defect) or that would delete more than the threshold applies no delete and
says so with the counts; an allowed genuine mass deletion goes through (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sync_helpers import mismatches

from hr_dataverse.catalog import load_catalog
from hr_dataverse.sync import DeleteGuardSettings, HoldCause, SourceCount, sync_table
from hr_dataverse.sync.delete_guard import DeleteEvidence, judge

TRACKED, UNTRACKED = "cdm_worker", "cdm_workeraddress"
WITHHELD = 12


def live_rows(wh: Any, table: str) -> int:
    target = wh.table(table)
    with wh.engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(target).where(target.c._deleted_at.is_(None)))


@pytest.mark.parametrize("how", ["full", "expired_token", "untracked"])
def test_a_short_read_applies_no_deletes_and_reports_the_counts(emulator, client, warehouses, how):
    app, wh = emulator.app, warehouses.open()
    table = UNTRACKED if how == "untracked" else TRACKED
    spec = load_catalog().get(table)
    total = app.store.count(table)
    first = sync_table(client, wh, spec, run_id="run-1")
    assert first.rows_total == total and first.deletes_held is None

    app.config.defect_partial_table, app.config.defect_rows = table, WITHHELD  # reads leave out 12 rows
    if how == "expired_token":
        app.clock.advance(8 * 86400)  # past the 7-day retention: the delta link expires -> full resync
    held = sync_table(client, wh, spec, run_id="run-2", mode="full" if how == "full" else "auto")

    assert held.status == "warning" and held.rows_deleted == 0 and not held.delta_link_stored
    assert held.deletes_held is not None
    assert held.deletes_held["cause"] == HoldCause.SHORT_READ
    assert (held.deletes_held["read"], held.deletes_held["source_count"], held.deletes_held["live"],
            held.deletes_held["would_delete"]) == (total - WITHHELD, total, total, WITHHELD)
    message = held.deletes_held["message"]
    assert f"read {total - WITHHELD} rows, Dataverse counts {total} (exact $count)" in message
    assert "NO rows were soft-deleted" in message and "Likely cause: the read came back incomplete" in message
    assert message in held.warnings
    assert live_rows(wh, table) == total  # nothing lost
    run = wh.runs(run_id="run-2", table=table)[0]
    assert run.status == "warning" and run.rows_deleted == 0 and "NO rows were soft-deleted" in run.message
    assert wh.get_state(table).delta_link is None  # the next run reads the whole table again

    app.config.defect_partial_table = None  # the source serves every row again
    healed = sync_table(client, wh, spec, run_id="run-3")
    assert healed.mode_used in ("full", "full_every_run") and healed.deletes_held is None
    assert healed.rows_deleted == 0 and healed.status == ("warning" if how == "untracked" else "success")
    assert mismatches(app, wh, spec) == []


def test_a_genuine_mass_deletion_is_held_until_allowed(emulator, client, warehouses):
    app, wh = emulator.app, warehouses.open()
    spec = load_catalog().get(TRACKED)
    sync_table(client, wh, spec, run_id="run-1")
    gone = sorted(r[spec.primary_key] for r in app.store.iter_rows(TRACKED))[:15]
    for row_id in gone:  # 15 of 40 workers: above the allowance of max(10, 5 %)
        app.store.delete(TRACKED, row_id)
    total = app.store.count(TRACKED)

    held = sync_table(client, wh, spec, run_id="run-2", mode="full")
    assert held.rows_deleted == 0 and held.deletes_held["cause"] == HoldCause.MASS_DELETE
    assert (held.deletes_held["read"], held.deletes_held["source_count"], held.deletes_held["would_delete"],
            held.deletes_held["allowance"]) == (total, total, 15, 10)
    assert "allow_mass_delete" in held.deletes_held["message"]
    assert live_rows(wh, TRACKED) == total + 15

    allowed = sync_table(client, wh, spec, run_id="run-3", mode="full",
                         delete_guard=DeleteGuardSettings(allow_mass_delete=True))
    assert (allowed.status, allowed.rows_deleted, allowed.deletes_held) == ("success", 15, None)
    assert allowed.delta_link_stored and live_rows(wh, TRACKED) == total
    assert mismatches(app, wh, spec) == []


def test_allow_mass_delete_never_overrides_a_read_shorter_than_the_exact_count(emulator, client, sqlite_warehouses):
    app, wh = emulator.app, sqlite_warehouses.open()
    spec = load_catalog().get(TRACKED)
    sync_table(client, wh, spec, run_id="run-1")
    app.config.defect_partial_table, app.config.defect_rows = TRACKED, WITHHELD
    held = sync_table(client, wh, spec, run_id="run-2", mode="full",
                      delete_guard=DeleteGuardSettings(allow_mass_delete=True))
    assert held.rows_deleted == 0 and held.deletes_held["cause"] == HoldCause.SHORT_READ


GUARD = DeleteGuardSettings()


@pytest.mark.parametrize(("evidence", "count", "settings", "cause"), [
    # exact count: any shortfall is proof, whatever the settings
    (DeleteEvidence(99, 100, 1), SourceCount(100, "$count"), GUARD, HoldCause.SHORT_READ),
    (DeleteEvidence(99, 100, 1), SourceCount(100, "$count"), DeleteGuardSettings(allow_mass_delete=True),
     HoldCause.SHORT_READ),
    (DeleteEvidence(100, 101, 1), SourceCount(100, "$count"), GUARD, None),  # a genuine single delete
    # a snapshot (RetrieveTotalRecordCount) may lag up to 24 h: held while it disagrees, or until allowed
    (DeleteEvidence(9_990, 10_000, 10), SourceCount(10_000, "RetrieveTotalRecordCount"), GUARD,
     HoldCause.SHORT_READ_SNAPSHOT),
    (DeleteEvidence(9_990, 10_000, 10), SourceCount(10_000, "RetrieveTotalRecordCount"),
     DeleteGuardSettings(allow_mass_delete=True), None),
    (DeleteEvidence(9_990, 10_000, 10), SourceCount(9_990, "RetrieveTotalRecordCount"), GUARD, None),  # refreshed
    # a snapshot lagging behind new rows hides a short read: the threshold still catches a large one
    (DeleteEvidence(10_500, 12_000, 1_500), SourceCount(10_000, "RetrieveTotalRecordCount"), GUARD,
     HoldCause.MASS_DELETE),
    # no count at all: only the threshold
    (DeleteEvidence(80, 100, 20), SourceCount(None, "unavailable"), GUARD, HoldCause.MASS_DELETE),
    (DeleteEvidence(95, 100, 5), SourceCount(None, "unavailable"), GUARD, None),
    (DeleteEvidence(0, 100, 100), SourceCount(0, "$count"), GUARD, HoldCause.MASS_DELETE),  # emptied table
    # an empty read with no count is no evidence, even under the allowance; a person can confirm it
    (DeleteEvidence(0, 5, 5), SourceCount(None, "unavailable"), GUARD, HoldCause.EMPTY_READ),
    (DeleteEvidence(0, 5, 5), SourceCount(None, "unavailable"), DeleteGuardSettings(allow_mass_delete=True), None),
    (DeleteEvidence(90, 100, 0), SourceCount(100, "$count"), GUARD, None),  # nothing to delete: no hold
])
def test_guard_rules(evidence, count, settings, cause):
    hold = judge("t", evidence, count, settings)
    assert (hold.cause if hold else None) == cause
    if hold:
        assert hold.message.startswith("table 't': NO rows were soft-deleted: ")
        assert f"read {evidence.read} rows" in hold.message


def test_guard_settings_are_validated():
    with pytest.raises(ValueError, match="max_delete_fraction must be between 0 and 1"):
        DeleteGuardSettings(max_delete_fraction=5)
    assert DeleteGuardSettings(max_delete_fraction=0.1, min_delete_allowance=0).allowance(1_000) == 100


def test_a_short_read_of_a_table_counted_by_snapshot_is_held_and_genuine_deletes_go_through(
        emulator_factory, make_client, sqlite_warehouses):
    emu = emulator_factory(scale=1_200)
    app, wh, client = emu.app, sqlite_warehouses.open(), make_client(emu)
    spec = load_catalog().get("mshr_hcmworkerskillentity")
    assert app.store.count(spec.name) >= 5000  # counted by RetrieveTotalRecordCount, not $count
    sync_table(client, wh, spec, run_id="run-1")

    app.config.defect_partial_table, app.config.defect_rows = spec.name, 40
    held = sync_table(client, wh, spec, run_id="run-2", mode="full")
    app.config.defect_partial_table = None
    assert held.source_count_method == "RetrieveTotalRecordCount" and held.rows_deleted == 0
    assert held.deletes_held["cause"] == HoldCause.SHORT_READ_SNAPSHOT
    assert held.deletes_held["would_delete"] == 40 and "snapshot" in held.deletes_held["message"]

    gone = sorted(r[spec.primary_key] for r in app.store.iter_rows(spec.name))[-30:]
    for row_id in gone:
        app.store.delete(spec.name, row_id)
    # RetrieveTotalRecordCount is a snapshot retaken about daily: a day later it agrees with the read.
    app.clock.advance(25 * 3600)
    done = sync_table(client, wh, spec, run_id="run-3", mode="full")
    assert (done.status, done.rows_deleted, done.deletes_held) == ("success", 30, None)
    assert mismatches(app, wh, spec) == []


def test_an_empty_read_of_a_counted_table_is_held_like_any_short_read(emulator, client, sqlite_warehouses):
    app, wh = emulator.app, sqlite_warehouses.open()
    spec = load_catalog().get("cdm_company")
    total = app.store.count(spec.name)
    sync_table(client, wh, spec, run_id="run-1")
    app.config.defect_partial_table, app.config.defect_rows = spec.name, total  # nothing is served
    held = sync_table(client, wh, spec, run_id="run-2", mode="full")
    assert held.rows_deleted == 0 and held.deletes_held["cause"] == HoldCause.SHORT_READ
    assert (held.deletes_held["read"], held.deletes_held["source_count"]) == (0, total)
    assert live_rows(wh, spec.name) == total
