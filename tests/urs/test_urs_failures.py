"""Writes Dataverse rejects or throttles: per-row errors, nothing half-written, a clean rerun."""

from __future__ import annotations

import pytest
from urs_clients import client_for
from urs_expectation import eligible_workers, expected_after_mapping, expected_links, urs_snapshot

from dataverse_emulator import mutations
from hr_dataverse.dataverse import writes
from hr_dataverse.urs import MappingError, MappingSettings, MappingState, run_mapping
from hr_dataverse.urs.rules import RATINGVALUE, TARGETS
from hr_dataverse.warehouse import Warehouse

P = "mshr_"


def _state_matches_dataverse(env, deleted_behind_our_back: str | None = None) -> MappingState:
    """Every mapped row exists in Dataverse under the recorded id."""
    state = MappingState(env.warehouse)
    for target in TARGETS:
        for mapped in state.rows(target.logical_name).values():
            if mapped.dataverse_id != deleted_behind_our_back:
                assert env.store.get(target.logical_name, mapped.dataverse_id) is not None, mapped
    return state


def test_unknown_navigation_property_fails_each_resource_and_nothing_else(env):
    before = urs_snapshot(env.store)
    resources_before = sum(1 for _ in env.store.iter_rows("bookableresource"))
    env.app.request_log.clear()

    bad = env.map(MappingSettings(worker_navigation="cdm_workerId", max_errors_reported=10_000))

    assert bad.status == "partial" and bad.errors_total == len(bad.errors) > 0
    creates = bad.plan.counts["bookableresource"]["create"]
    rejected = [e for e in bad.errors if e["table"] == "bookableresource"]
    assert len(rejected) == creates > 0
    for error in rejected:
        assert error["op"] == "create" and error["status"] == 400 and error["code"] == "0x80048d19"
        assert "undeclared property 'cdm_workerId'" in error["message"] and error["label"].startswith("worker ")
        assert error["request_id"]
    held_back = [e for e in bad.errors if e["table"] == "bookableresourcecharacteristic"]
    assert held_back and all(e["message"].startswith("not sent: the bookableresource row") and e["status"] is None
                             for e in held_back)
    assert {e["table"] for e in bad.errors} == {"bookableresource", "bookableresourcecharacteristic"}
    # Nothing half-written: no resource was created, the state records only what Dataverse holds.
    assert sum(1 for _ in env.store.iter_rows("bookableresource")) == resources_before
    state = _state_matches_dataverse(env)
    adopted = {k for k, m in state.rows("bookableresource").items()}
    assert adopted and all(m.origin == "adopted" for m in state.rows("bookableresource").values())
    # Unrelated rows went through: catalogues, and the characteristics of resources that already existed.
    assert bad.done["characteristic"]["create"] == bad.plan.counts["characteristic"]["create"] > 0
    links = {k: n for k, n in urs_snapshot(env.store)["link"].items() if k[0] in adopted}
    workers = {k: v for k, v in eligible_workers(env.store, env.today).items() if k in adopted}
    assert links == dict(expected_links(env.store, workers, env.today))
    # The failing chunk was isolated in a bounded number of requests.
    assert bad.write_requests <= 15, bad.write_requests_by_kind

    fixed = env.map()

    assert fixed.status == "success" and fixed.errors_total == 0
    after = urs_snapshot(env.store)
    expected = expected_after_mapping(env.store, before, env.today)
    assert all(after[t] == expected[t] for t in expected)
    env.app.request_log.clear()
    assert env.map().write_requests == 0 and env.writes() == []


def test_missing_rating_value_is_reported_for_its_row_only(env):
    env.map()
    store = env.store
    state = MappingState(env.warehouse)
    level = next(lv for lv in store.iter_rows(f"{P}hcmratinglevelentity")
                 if lv[f"{P}ratingmodelid"] == "Skills" and lv[f"{P}ratinglevelid"] == "4")
    value_id = state.rows("ratingvalue")[level[f"{P}hcmratinglevelentityid"]].dataverse_id
    writes.delete(env.client, RATINGVALUE, value_id)  # someone deletes "Advanced" in Dataverse
    skill = "Airflow"
    workers = [w for w in sorted(eligible_workers(store, env.today))
               if not any(r[f"{P}skillid"] == skill for r in store.find(f"{P}hcmworkerskillentity", f"{P}fk_worker_id", w))]
    a, b = workers[:2]
    mutations.add_skill(store, store.get("cdm_worker", a)["cdm_workernumber"], skill, "4")
    mutations.add_skill(store, store.get("cdm_worker", b)["cdm_workernumber"], skill, "3")
    env.sync()
    env.app.request_log.clear()

    result = env.map()

    assert result.status == "partial" and result.errors_total == 1
    error = result.errors[0]
    assert error["table"] == "bookableresourcecharacteristic" and error["op"] == "create"
    assert error["status"] == 404 and error["code"] == "0x80040217"
    assert value_id in error["message"] and error["label"].endswith(f"skill '{skill}'") and error["request_id"]
    links = urs_snapshot(store)["link"]
    assert links[(b, skill, 1, "Satisfactory")] == 1
    assert not [k for k in links if k[0] == a and k[1] == skill]
    mapped = _state_matches_dataverse(env, value_id).rows("bookableresourcecharacteristic", [a, b])
    assert sum(1 for m in mapped.values() if m.scope == b) == sum(1 for k in links if k[0] == b)
    assert sum(1 for m in mapped.values() if m.scope == a) == sum(1 for k in links if k[0] == a)
    # Bulk chunk refused as a whole, then isolated through $batch: the other row was written.
    assert [(e.path.rsplit("/", 1)[-1], e.status) for e in env.writes()] == [
        ("Microsoft.Dynamics.CRM.UpsertMultiple", 404), ("$batch", 200), ("$batch", 200)]

    env.app.request_log.clear()
    again = env.map()  # the watermark did not move: the row is tried again, the rest is a no-op
    assert again.status == "partial" and again.errors_total == 1 and again.errors[0]["key"] == error["key"]
    assert again.done["bookableresourcecharacteristic"]["create"] == 0


def test_throttled_bulk_write_is_retried_after_retry_after(env):
    before = urs_snapshot(env.store)
    env.app.faults.queue(status=429, count=1, retry_after=0, method="POST",
                         path_contains="bookableresourcecharacteristics/Microsoft.Dynamics.CRM.UpsertMultiple")
    env.app.request_log.clear()

    result = env.map()

    assert result.status == "success"
    statuses = [e.status for e in env.writes() if e.path.endswith("bookableresourcecharacteristics/"
                                                                  "Microsoft.Dynamics.CRM.UpsertMultiple")]
    assert statuses[:2] == [429, 204] and 429 not in statuses[2:]
    assert result.write_requests == len(env.writes()) - 1  # the transport's retry is not a second write call
    after = urs_snapshot(env.store)
    expected = expected_after_mapping(env.store, before, env.today)
    assert all(after[t] == expected[t] for t in expected)


def test_mapping_before_the_first_sync_says_what_is_missing(emulator, tmp_path):
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with client_for(emulator.info) as client, pytest.raises(MappingError) as err:
            run_mapping(client, warehouse, MappingSettings(), run_id="map-1")
    finally:
        warehouse.dispose()
    assert "HR table 'cdm_worker' is not in the warehouse yet: sync it before mapping" in str(err.value)
    assert len(emulator.app.request_log) == 0
