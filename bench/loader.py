"""The loading process of one benchmark run: ``python -m bench.loader '<json>'``.

It runs what the ``hr_dataverse_sync`` DAG runs, without Airflow: ``sync_table`` for every catalog
table, one thread per table like the DAG's mapped load tasks, each holding slots of one shared
``SlotPool`` (the ``dataverse_api`` pool) and passing them on as its ``ConcurrencyBudget``: one slot
for a table read page by page, ``large_slots`` for a ``partition_by_key`` table, whose key ranges
the engine then reads in parallel. The Dataverse client is shared (it is thread-safe); each table
opens its own warehouse connection, as each task does.

The last stdout line is one JSON object: wall seconds, per-table results, client statistics, this
process's CPU seconds and peak RSS (``ru_maxrss``). Logs go to stderr.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import threading
import time
from dataclasses import asdict
from typing import Any

from dataverse_provider.environment import baseline_overlap, configured_catalog
from hr_dataverse.catalog import TableSpec
from hr_dataverse.dataverse import DataverseClient, DataverseSettings
from hr_dataverse.sync import ConcurrencyBudget, RunMetadata, TableSyncResult, sync_table
from hr_dataverse.sync.start_order import start_order, table_sizes
from hr_dataverse.warehouse import Warehouse

from .slots import SlotPool


def client_settings(info: dict[str, Any], max_concurrency: int) -> DataverseSettings:
    """The connection as the Airflow hook builds it: library defaults except the pool size."""
    return DataverseSettings(
        environment_url=info["dataverse_url"], tenant_id=info["tenant_id"], client_id=info["client_id"],
        client_secret=info["client_secret"], authority_host=info["authority_host"], ca_bundle=info["ca_bundle"],
        max_concurrency=max_concurrency,
    )


def load_all(args: dict[str, Any]) -> dict[str, Any]:
    """Sync every catalog table as ``args`` says (see ``run.py``'s ``loader_args``)."""
    specs = [s for s in configured_catalog() if not s.fno_entity]  # Dataverse tables (F&O reloads are not benched)
    pool = SlotPool(args["pool"])
    results: dict[str, TableSyncResult] = {}
    timeline: dict[str, tuple[int, float]] = {}  # table -> (slots, seconds from the start until it began)
    started = time.monotonic()
    with DataverseClient(client_settings(args["info"], args["max_concurrency"])) as client:
        warehouse = Warehouse(args["url"], schema=args.get("schema"))
        try:
            # The DAG's order (sync_tasks.resolve_tables): key-range tables, then biggest first.
            stored = {s.table_name: s.rows_total or 0 for s in warehouse.states()}
            order = start_order(specs, table_sizes(client, specs, stored))
            # One metadata request for every table of the run (RunMetadata; run_metadata false: one per table).
            metadata = (RunMetadata.fetch(client, [s.name for s in specs], warehouse=warehouse)
                        if args.get("run_metadata", True) else None)
        finally:
            warehouse.dispose()
        def work(spec: TableSpec, priority: int) -> None:
            slots = args["large_slots"] if spec.partition_by_key else 1
            with pool.hold(slots, priority):
                timeline[spec.name] = (slots, time.monotonic() - started)
                results[spec.name] = sync_one(client, spec, args, slots, metadata)

        if args.get("serial"):  # one table after another, in catalog order: how `airflow dags test` runs them
            for spec in specs:
                timeline[spec.name] = (args["large_slots"] if spec.partition_by_key else 1, time.monotonic() - started)
                results[spec.name] = sync_one(client, spec, args, args["large_slots"] if spec.partition_by_key else 1,
                                              metadata)
        else:
            threads = [threading.Thread(target=work, args=(spec, rank), name=f"load-{spec.name}")
                       for rank, spec in enumerate(order)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        stats = asdict(client.stats)
    wall = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        "pool_peak": pool.peak,
        "client": stats,
        "tables": [{**results[s.name].to_dict(), "slots": timeline[s.name][0],
                    "started_s": round(timeline[s.name][1], 3)} for s in specs if s.name in results],
    }


def sync_one(client: DataverseClient, spec: TableSpec, args: dict[str, Any], slots: int,
             metadata: RunMetadata | None = None) -> TableSyncResult:
    """One table, as the DAG's load task: a failure is recorded, not raised (the run summary reports it)."""
    started = time.monotonic()
    warehouse = Warehouse(args["url"], schema=args.get("schema"))
    try:
        return sync_table(client, warehouse, spec, mode=args["mode"], run_id=args["run_id"],
                          concurrency=ConcurrencyBudget(slots), baseline_overlap=baseline_overlap(),
                          metadata=metadata)
    except Exception as exc:  # noqa: BLE001 - reported per table in the run's JSON, like the DAG's summary
        return TableSyncResult.failure(spec.name, args["mode"], f"{type(exc).__name__}: {exc}",
                                       seconds=time.monotonic() - started)
    finally:
        warehouse.dispose()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.loader '<json arguments>' (run by bench/run.py)", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    print(json.dumps(load_all(json.loads(argv[0]))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
