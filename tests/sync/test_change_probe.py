"""Change detection for event-driven sync against the emulator: one request per probe, a one-row
page; following a delta link does not consume it (the sync still gets every change afterwards);
throttling and expiry are reported, and the pacer keeps the poller inside its request budget."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dataverse_emulator.mutations import change_job_title
from hr_dataverse.catalog import load_catalog
from hr_dataverse.sync import sync_table
from hr_dataverse.sync.change_probe import PollPacer, ProbeOutcome, ProbeResult, probe_changes

TABLE = "cdm_worker"


def data_requests(emulator) -> list[str]:
    return [f"{e.path}?{e.query}" for e in emulator.app.request_log.entries() if "/api/data/" in e.path]


def test_probe_sends_one_request_and_does_not_consume_the_link(emulator, make_client, warehouses):
    client = make_client(emulator)
    wh = warehouses.open()
    sync_table(client, wh, load_catalog().get(TABLE), run_id="full")
    link = wh.get_state(TABLE).delta_link
    emulator.app.request_log.clear()
    assert probe_changes(client, link).outcome is ProbeOutcome.UNCHANGED
    [only] = data_requests(emulator)
    assert "$deltatoken=" in only  # the stored link as-is, one request

    worker = next(emulator.app.store.iter_rows(TABLE))["cdm_workernumber"]
    change_job_title(emulator.app.store, worker, "Payroll lead")
    emulator.app.request_log.clear()
    assert probe_changes(client, link).outcome is ProbeOutcome.CHANGED
    assert probe_changes(client, link).outcome is ProbeOutcome.CHANGED  # still there: not consumed
    assert len(data_requests(emulator)) == 2  # one per probe: the nextLink of the one-row page is not followed

    delta = sync_table(client, wh, load_catalog().get(TABLE), run_id="delta")
    assert (delta.mode_used, delta.rows_upserted) == ("delta", 1)  # the sync got the change the probes saw
    assert probe_changes(client, wh.get_state(TABLE).delta_link).outcome is ProbeOutcome.UNCHANGED


def test_probe_reports_throttling_and_expired_links(emulator, make_client, warehouses):
    client = make_client(emulator, max_attempts=1)
    wh = warehouses.open()
    sync_table(client, wh, load_catalog().get(TABLE), run_id="full")
    link = wh.get_state(TABLE).delta_link
    emulator.app.faults.queue(status=429, count=1, retry_after=7, path_contains="/cdm_workers")
    throttled = probe_changes(client, link)
    assert (throttled.outcome, throttled.retry_after) == (ProbeOutcome.THROTTLED, 7.0)
    emulator.app.clock.advance(timedelta(days=8).total_seconds())  # past the 7-day retention
    expired = probe_changes(client, link)
    assert expired.outcome is ProbeOutcome.EXPIRED and expired.needs_sync


def test_pacer_keeps_the_budget_and_backs_off() -> None:
    pacer = PollPacer(interval=60, tables=5, budget_per_hour=600)
    assert (pacer.base, pacer.requests_per_hour()) == (60, 300.0)
    tight = PollPacer(interval=60, tables=20, budget_per_hour=600)
    assert (tight.base, tight.requests_per_hour()) == (120, 600.0)  # slower than asked, inside the budget
    assert pacer.next_delay(ProbeResult(ProbeOutcome.THROTTLED, retry_after=300)) == 300
    assert pacer.next_delay(ProbeResult(ProbeOutcome.THROTTLED)) == 240  # doubling: 60 * 2**2
    assert pacer.next_delay(ProbeResult(ProbeOutcome.FAILED)) == 480
    assert pacer.next_delay(ProbeResult(ProbeOutcome.UNCHANGED)) == 60  # recovered
    for _ in range(20):
        delay = pacer.next_delay(ProbeResult(ProbeOutcome.FAILED))
    assert delay == 3600  # capped
    with pytest.raises(ValueError, match="at least 5 seconds"):
        PollPacer(interval=1)
