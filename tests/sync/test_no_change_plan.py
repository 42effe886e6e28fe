"""The cheap scheduled run against the emulator: a run is quiet (loads only what change tracking
cannot answer for) only when every tracked table's probe came back empty; a change, a failed probe,
a missing link or mode full/delta loads every table as before. Unchanged tables are recorded as
synced (freshness, history); mapping and quality are needed unless a quiet run's loads changed nothing."""

from __future__ import annotations

from dataclasses import replace

from dataverse_emulator.mutations import change_job_title
from hr_dataverse.catalog import load_catalog
from hr_dataverse.sync import sync_table
from hr_dataverse.sync.no_change import (
    UNCHANGED_MESSAGE,
    VOUCHED_REASON,
    LoadPlan,
    downstream_needed,
    plan_loads,
    vouched_by_probe,
)

TRACKED = ("cdm_company", "cdm_job", "cdm_worker")


def data_requests(emulator) -> int:
    return sum(1 for e in emulator.app.request_log.entries() if "/api/data/" in e.path)


def loaded(client, wh, names=TRACKED):
    specs = [load_catalog().get(n) for n in names]
    for spec in specs:
        sync_table(client, wh, spec, run_id="full")
    return specs


def test_nothing_changed_makes_a_quiet_run_of_one_request_per_table(emulator, make_client, warehouses):
    client, wh = make_client(emulator), warehouses.open()
    specs = loaded(client, wh)
    before = {n: wh.get_state(n) for n in TRACKED}
    emulator.app.request_log.clear()
    plan = plan_loads(client, wh, specs, mode="auto", run_id="quiet", workers=3)
    assert (plan.quiet, plan.load, plan.unchanged, plan.requests) == (True, (), TRACKED, 3)
    assert data_requests(emulator) == 3
    for name in TRACKED:
        state = wh.get_state(name)
        assert state.last_sync_at > before[name].last_sync_at and state.delta_link == before[name].delta_link
        assert state.rows_total == before[name].rows_total and state.last_run_id == "quiet"
        [row] = wh.runs("quiet", name)
        assert (row.mode, row.status, row.rows_upserted, row.requests, row.message) == (
            "delta", "success", 0, 1, UNCHANGED_MESSAGE)
    assert not downstream_needed(plan, [])
    assert LoadPlan.from_dict(plan.to_dict()) == plan
    assert vouched_by_probe(plan) == dict.fromkeys(TRACKED, VOUCHED_REASON)  # the access check leaves them out


def test_one_change_loads_every_table_as_before(emulator, make_client, warehouses):
    client, wh = make_client(emulator), warehouses.open()
    specs = loaded(client, wh)
    worker = next(emulator.app.store.iter_rows("cdm_worker"))["cdm_workernumber"]
    change_job_title(emulator.app.store, worker, "Payroll lead")
    plan = plan_loads(client, wh, specs, mode="auto", run_id="busy", workers=1)
    assert (plan.quiet, plan.load, plan.unchanged) == (False, TRACKED, ())
    assert plan.reasons["*"].startswith("cdm_worker: probe changed")
    assert wh.runs("busy") == []  # nothing recorded: the loads will
    assert downstream_needed(plan, [])
    assert vouched_by_probe(plan) == {} and vouched_by_probe(None) == {}  # every table loads: every one is checked


def test_no_evidence_means_no_skipping(emulator, make_client, warehouses):
    client, wh = make_client(emulator, max_attempts=1), warehouses.open()
    specs = loaded(client, wh, TRACKED[:2])
    for mode in ("full", "delta"):
        assert plan_loads(client, wh, specs, mode=mode, run_id=mode).load == TRACKED[:2]
    chosen = plan_loads(client, wh, specs, mode="auto", run_id="chosen", chosen=True)  # a person picked tables
    assert (chosen.quiet, chosen.load, chosen.requests) == (False, TRACKED[:2], 0)
    edited = replace(specs[0], columns=(*specs[0].columns, "cdm_newcolumn"))  # the catalog asks for more
    assert not plan_loads(client, wh, [edited, specs[1]], mode="auto", run_id="edited").quiet
    unlinked = plan_loads(client, wh, [*specs, load_catalog().get("cdm_worker")], mode="auto", run_id="new")
    assert (unlinked.quiet, unlinked.load) == (False, TRACKED)  # a required table never loaded: every table
    emulator.app.faults.queue(status=503, count=1, path_contains="/cdm_jobs")
    failed = plan_loads(client, wh, specs, mode="auto", run_id="failed")
    assert not failed.quiet and failed.load == TRACKED[:2] and "probe failed" in failed.reasons["*"]
    assert wh.runs("failed") == []
    for plan in (chosen, unlinked, failed):
        assert vouched_by_probe(plan) == {}


def test_tables_tracking_cannot_answer_for_load_alone_in_a_quiet_run(emulator, make_client, warehouses):
    client, wh = make_client(emulator), warehouses.open()
    specs = loaded(client, wh, TRACKED[:1])
    optional = replace(load_catalog().get("cdm_workerpersonaldetail"), required=False)
    fno = next(s for s in load_catalog() if s.fno_entity)
    plan = plan_loads(client, wh, [*specs, optional, fno], mode="auto", run_id="quiet")
    assert (plan.quiet, plan.unchanged, plan.load) == (True, TRACKED[:1], (optional.name, fno.name))
    assert list(vouched_by_probe(plan)) == list(TRACKED[:1])  # the tables that load are checked
    # A quiet run's loads decide whether mapping and quality run: a reload rewrote its table, a skip did not.
    assert not downstream_needed(plan, [{"status": "failed", "mode_used": "auto"},
                                        {"status": "success", "mode_used": "delta", "rows_upserted": 0}])
    assert downstream_needed(plan, [{"status": "success", "mode_used": "full_every_run", "rows_upserted": 0}])
    assert downstream_needed(plan, [{"status": "success", "mode_used": "delta", "rows_deleted": 2}])
