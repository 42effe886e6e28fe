"""Key-range partitioned full loads: the same warehouse as a sequential read, within the budget."""

from __future__ import annotations

import threading
import time
import uuid
from bisect import bisect_right
from dataclasses import replace

import pytest
from sync_helpers import data_columns, mismatches, warehouse_rows

from dataverse_emulator.guid_order import sql_guid_key
from hr_dataverse.catalog import load_catalog
from hr_dataverse.dataverse import ChangePage
from hr_dataverse.sync import ConcurrencyBudget, sync_table
from hr_dataverse.sync.parallel import read_partitions
from hr_dataverse.sync.partitions import BoundarySampler, KeyRange, guid_boundaries, key_ranges


@pytest.mark.parametrize("table", ["cdm_worker", "cdm_workeraddress"])
def test_partitioned_full_load_equals_the_sequential_one(emulator_factory, make_client, warehouses, table):
    emulator = emulator_factory(latency_ms=20)  # requests overlap, so the budget is really exercised
    store = emulator.app.store
    client = make_client(emulator, max_concurrency=3)
    spec = replace(load_catalog().get(table), partition_by_key=True)
    budget = ConcurrencyBudget(3)
    parallel_wh, sequential_wh = warehouses.open("parallel"), warehouses.open("sequential")

    parallel = sync_table(client, parallel_wh, spec, run_id="run-1", page_size=5, concurrency=budget)
    sequential = sync_table(client, sequential_wh, spec, run_id="run-1", page_size=5,
                            concurrency=ConcurrencyBudget(1))
    assert parallel.partitions >= 4 and sequential.partitions == 1
    assert parallel.mode_used == sequential.mode_used and parallel.rows_total == store.count(table)
    assert 2 <= budget.peak <= 3
    assert data_columns(warehouse_rows(parallel_wh, spec)) == data_columns(warehouse_rows(sequential_wh, spec))
    assert mismatches(emulator.app, parallel_wh, spec) == []

    # The next run goes on from the partitioned load's baseline with every catalog column.
    row = next(store.iter_rows(table))
    pk = spec.primary_key
    store.delete(table, row[pk])
    changed = list(store.iter_rows(table))[3]
    store.update(table, changed[pk], {"statuscode": 2, "statecode": 1})
    again = sync_table(client, parallel_wh, spec, run_id="run-2", page_size=5, concurrency=budget)
    assert again.mode_used == ("full_every_run" if table == "cdm_workeraddress" else "delta")
    assert again.rows_deleted == 1
    assert mismatches(emulator.app, parallel_wh, spec) == []


def test_guid_boundaries_balance_random_keys_in_dataverse_order():
    boundaries = guid_boundaries(8)
    assert len(boundaries) == 7 and boundaries == sorted(boundaries, key=sql_guid_key)
    keys = sorted((str(uuid.uuid4()) for _ in range(8000)), key=sql_guid_key)
    sort_keys = [sql_guid_key(k) for k in keys]
    cuts = [0, *(bisect_right(sort_keys, sql_guid_key(b)) for b in boundaries), len(keys)]
    sizes = [b - a for a, b in zip(cuts, cuts[1:], strict=False)]
    assert len(sizes) == 8 and min(sizes) > 800 and max(sizes) < 1200  # 1000 each, give or take


def test_key_ranges_cover_everything_with_half_open_filters():
    lo, hi = str(uuid.uuid4()), str(uuid.uuid4())
    ranges = key_ranges([lo, hi])
    assert ranges == [KeyRange(None, lo), KeyRange(lo, hi), KeyRange(hi, None)]
    assert ranges[0].filter("cdm_workerid") == f"cdm_workerid lt {lo}"
    assert ranges[1].filter("cdm_workerid") == f"(cdm_workerid ge {lo}) and (cdm_workerid lt {hi})"
    assert ranges[2].filter("cdm_workerid") == f"cdm_workerid ge {hi}"
    assert key_ranges([]) == [KeyRange(None, None)] and KeyRange(None, None).filter("x") is None


@pytest.mark.parametrize("expected_rows", [10_000, 300, 0])
def test_sampled_boundaries_are_balanced_and_memory_stays_bounded(expected_rows):
    sampler = BoundarySampler(8, expected_rows)
    most_kept = 0
    for n in range(10_000):
        sampler.add(f"k{n:05d}")
        most_kept = max(most_kept, len(sampler.keys))
    assert most_kept <= 32
    cuts = [0, *(int(b[1:]) for b in sampler.boundaries()), 10_000]
    sizes = [b - a for a, b in zip(cuts, cuts[1:], strict=False)]
    # 1250 each, give or take one sampling step (coarser when the expected count was far too low)
    assert len(sizes) == 8 and min(sizes) >= 900 and max(sizes) <= 1800


def test_budget_bounds_concurrent_holders_and_follows_the_dop_hint(client):
    budget = ConcurrencyBudget(2)
    inside, most = [0], [0]
    lock = threading.Lock()

    def hold() -> None:
        with budget:
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.02)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=hold) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == budget.peak == 2
    with pytest.raises(ValueError, match="at least 1"):
        ConcurrencyBudget(0)
    assert ConcurrencyBudget.for_client(client).limit == 2  # max_concurrency=2 in the test settings
    client.whoami()  # the emulator answers with x-ms-dop-hint: 5
    client.dop_hint = 1
    assert ConcurrencyBudget.for_client(client).limit == 1


def _pages(key_range: KeyRange, produced: list[int], fail: bool = False):
    for n in range(5):
        if fail and n == 2:
            raise RuntimeError(f"range {key_range.lower} broke")
        produced[0] += 1
        yield ChangePage([{"range": key_range.lower, "n": n}], [], None, None)


def test_parallel_reader_keeps_few_pages_in_memory_and_returns_every_page():
    produced, consumed, most_ahead = [0], 0, 0
    ranges = key_ranges([f"{n}" for n in range(1, 6)])
    for page in read_partitions(ranges, lambda r: _pages(r, produced), ConcurrencyBudget(2)):
        consumed += 1
        most_ahead = max(most_ahead, produced[0] - consumed)
        time.sleep(0.005)  # a slow consumer (the warehouse)
        assert page.upserts
    assert consumed == 6 * 5
    assert most_ahead <= 2 + 2  # one queued page per worker plus the one each worker holds


def test_parallel_reader_reraises_a_worker_error_and_stops_the_others():
    before = threading.active_count()
    produced = [0]
    ranges = key_ranges(["1", "2", "3"])

    def source(key_range: KeyRange):
        return _pages(key_range, produced, fail=key_range.lower == "2")

    with pytest.raises(RuntimeError, match="range 2 broke"):
        for _ in read_partitions(ranges, source, ConcurrencyBudget(2)):
            time.sleep(0.005)
    assert threading.active_count() == before
