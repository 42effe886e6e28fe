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
from hr_dataverse.sync.partitions import (
    KeyRange,
    RangeCutter,
    dataverse_guid_order,
    guid_boundaries,
    key_ranges,
)


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


def test_one_slot_reads_a_partitioned_table_once_as_one_tracked_read(emulator, make_client, sqlite_warehouses):
    """HR_DATAVERSE_PARTITION_SLOTS=1 (the load task's budget is min(slots, max_concurrency)): a catalog
    partition_by_key table is ONE change-tracking page chain, no key walk beside it and no key ranges,
    so each row is read once; with 3 slots the baseline walk and the ranges read it twice."""
    spec = load_catalog().get("mshr_hcmworkerskillentity")
    assert spec.partition_by_key
    rows = emulator.app.store.count(spec.name)
    page_size = max(1, rows // 6)  # several pages: a table of one page is never partitioned anyway
    client = make_client(emulator, max_concurrency=3)

    def data_reads(wh, budget):
        emulator.app.request_log.clear()
        result = sync_table(client, wh, spec, run_id="run-1", page_size=page_size, concurrency=budget)
        reads = [e for e in emulator.app.request_log.entries() if e.rows or e.tracked]
        return result, reads

    single, reads = data_reads(sqlite_warehouses.open("single"), ConcurrencyBudget(1))
    assert single.partitions == 1 and single.mode_used == "full" and single.rows_total == rows
    assert reads and all(e.tracked for e in reads)  # every data request belongs to the tracked read
    assert not any("filter" in e.query for e in reads)  # no key range
    assert sum(e.rows for e in reads) == rows and len(reads) == -(-rows // page_size)  # each row once, page by page
    assert sqlite_warehouses.open("single").get_state(spec.name).delta_link  # the next run is a delta

    ranged, ranged_reads = data_reads(sqlite_warehouses.open("ranged"), ConcurrencyBudget(3))
    assert ranged.partitions > 1 and any("filter" in e.query for e in ranged_reads)
    assert sum(e.rows for e in ranged_reads) == 2 * rows  # the baseline walk and the ranges: twice


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


def _in_range(key: str, r: KeyRange) -> bool:
    k = sql_guid_key(key)
    return (r.lower is None or sql_guid_key(r.lower) <= k) and (r.upper is None or k < sql_guid_key(r.upper))


def _cut(pages: list[list[str]]) -> list[KeyRange]:
    cutter = RangeCutter()
    ranges = [r for page in pages if (r := cutter.page(page[0] if page else None)) is not None]
    return [*ranges, cutter.finish()]


def test_range_cutter_gives_one_range_per_baseline_page_covering_every_key():
    keys = sorted((str(uuid.uuid4()) for _ in range(1000)), key=sql_guid_key)
    pages = [keys[i:i + 100] for i in range(0, 1000, 100)]
    ranges = _cut(pages)
    assert len(ranges) == 10 and ranges[0].lower is None and ranges[-1].upper is None
    for page, key_range in zip(pages, ranges, strict=True):
        assert all(_in_range(k, key_range) for k in page)  # each range is exactly its page
    newcomer = str(uuid.uuid4())  # a key created during the load still falls in exactly one range
    assert sum(_in_range(newcomer, r) for r in ranges) == 1


def test_range_cutter_keeps_ranges_sorted_and_covering_when_the_stream_is_not_in_key_order():
    keys = [str(uuid.uuid4()) for _ in range(1000)]  # not sorted: a server that pages in another order
    ranges = _cut([keys[i:i + 50] for i in range(0, 1000, 50)])
    lowers = [sql_guid_key(r.lower) for r in ranges[1:]]
    assert lowers == sorted(lowers) and len(set(lowers)) == len(lowers)
    assert all(sum(_in_range(k, r) for r in ranges) == 1 for k in keys)


def test_client_guid_order_agrees_with_the_emulators_sql_server_order():
    keys = [str(uuid.uuid4()) for _ in range(500)] + ["00000000-0000-0000-0000-000000000001",
                                                      "ffffffff-0000-0000-0000-000000000000"]
    assert sorted(keys, key=dataverse_guid_order) == sorted(keys, key=sql_guid_key)


@pytest.mark.parametrize("overlap", [True, False])
def test_key_ranges_are_read_while_the_baseline_is_still_paging(emulator_factory, make_client, warehouses,
                                                                 overlap):
    emulator = emulator_factory(latency_ms=20)
    client = make_client(emulator, max_concurrency=2)
    spec = replace(load_catalog().get("cdm_worker"), partition_by_key=True)
    emulator.app.request_log.clear()
    result = sync_table(client, warehouses.open("w"), spec, run_id="run-1", page_size=5,
                        concurrency=ConcurrencyBudget(2), baseline_overlap=overlap)
    log = [e for e in emulator.app.request_log.entries() if e.path.endswith("/cdm_workers")]
    baseline = [e for e in log if "%24filter" not in e.query and "$filter" not in e.query]
    ranges = [e for e in log if all(e is not b for b in baseline)]
    assert len(baseline) >= 4 and result.partitions == len(ranges) >= 4
    if overlap:  # the first range was asked for after the baseline's first page, long before its last
        assert baseline[0].finished <= ranges[0].started < baseline[-1].started
    else:  # the conservative setting: no range before the whole baseline was read
        assert baseline[-1].finished <= ranges[0].started
    assert result.delta_link_stored and result.rows_total == emulator.app.store.count("cdm_worker")


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


def test_a_range_walk_that_reads_dataverse_runs_beside_the_workers_within_the_budget():
    budget = ConcurrencyBudget(2)
    events: list[str] = []

    def walk():  # stands in for the baseline: each step is a request inside a budget slot
        for n in range(6):
            with budget:
                time.sleep(0.01)
            yield KeyRange(str(n), str(n + 1))
        events.append("walk done")

    def slow_source(key_range: KeyRange):
        time.sleep(0.05)  # slower than the walk: it must not hold the walk up
        yield ChangePage([{"range": key_range.lower}], [], None, None)
        events.append(f"range {key_range.lower} read")

    got = [p.upserts[0]["range"] for p in read_partitions(walk(), slow_source, budget, ranges_read_dataverse=True)]
    assert sorted(got) == [str(n) for n in range(6)]
    assert events.index("walk done") < events.index("range 2 read")  # the walk did not wait for the data
    assert budget.peak <= 2

