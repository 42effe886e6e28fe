"""What orchestration costs: ``airflow dags test hr_dataverse_sync`` against the same load called
directly (``python -m bench.airflow_overhead``; ``make bench`` runs it after the load benchmark).

``airflow dags test`` runs every task one after another in one process (no executor, no pool), so
the direct run loads the tables one after another too, each with the slots its DAG task has (one,
or ``partition_slots`` for a large table). Both start from an empty SQLite warehouse against the
same emulator (latency model on) and are timed as whole processes, interpreter start included.
The difference is what the DAG costs on top of the load: CLI start-up and DAG parsing, the
metadata-DB bookkeeping of each task instance (each builds its own client and warehouse), the
tasks before the loads (integration switch, token validation, entity access check) and after them
(run summary, URS characteristic mapping, data quality). The JSON line splits the DAG's time into
those parts, from the task start/end lines of the ``dags test`` log.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from .emulator_process import EmulatorError, EmulatorProcess
from .run import ROOT, BenchError, run_loader
from .settings import BenchSettings
from .targets import Target

DEFAULT_ROWS = 20_000
TIMEOUT_S = 3600
LOAD_TASKS = ("load_table", "load_large_table")
BEFORE_LOADS = ("integration_enabled", "validate_token", "probe_changes", "check_entity_access", "regular_tables",
                "large_tables")
_DAG_TEST_LINE = re.compile(r"^(?P<ts>\d{4}-\d\d-\d\dT[\d:.]+)Z?\s.*?\[DAG TEST\] (?P<what>starting|end task) "
                            r"task_id=(?P<task>\S+) map_index=(?P<index>-?\d+)", re.MULTILINE)


def airflow_env(settings: BenchSettings, home: Path, info: dict[str, Any], warehouse: Path) -> dict[str, str]:
    """A private Airflow home and the two connections the DAG uses, as environment variables."""
    connection = {
        "conn_type": "dataverse", "host": info["dataverse_url"], "login": info["client_id"],
        "password": info["client_secret"],
        "extra": {"tenant_id": info["tenant_id"], "authority_host": info["authority_host"],
                  "ca_bundle": info["ca_bundle"], "max_concurrency": settings.max_concurrency,
                  "client_secret_expires_on": (date.today() + timedelta(days=365)).isoformat()},
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({
        "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_DATAVERSE_DEFAULT": json.dumps(connection),
        "AIRFLOW_CONN_HR_WAREHOUSE": json.dumps({"conn_type": "generic",
                                                 "extra": {"sqlalchemy_url": f"sqlite:///{warehouse}"}}),
        "HR_DATAVERSE_PARTITION_SLOTS": str(settings.large_table_slots),
        "HR_DATAVERSE_SYNC_SCHEDULE": "none",
    })
    return env


def _airflow(env: dict[str, str], log: Path, *args: str) -> float:
    """Run one ``airflow`` CLI command; returns its wall seconds. Raises ``BenchError`` on failure."""
    started = time.monotonic()
    with log.open("a") as out:
        out.write(f"\n$ airflow {' '.join(args)}\n")
        out.flush()
        proc = subprocess.run([sys.executable, "-m", "airflow", *args], cwd=ROOT, env=env, stdout=out,
                              stderr=subprocess.STDOUT, timeout=TIMEOUT_S, check=False)
    if proc.returncode != 0:
        raise BenchError(f"airflow {args[0]} {args[1] if len(args) > 1 else ''} failed ({proc.returncode}); see {log}")
    return time.monotonic() - started


def task_seconds(log: str) -> dict[str, float]:
    """Seconds per task id (mapped instances added up) from ``airflow dags test``'s log lines
    ``[DAG TEST] starting task_id=… map_index=…`` and ``[DAG TEST] end task task_id=… map_index=…``."""
    started: dict[tuple[str, str], datetime] = {}
    totals: dict[str, float] = {}
    for match in _DAG_TEST_LINE.finditer(log):
        when = datetime.fromisoformat(match["ts"])
        key = (match["task"], match["index"])
        if match["what"] == "starting":
            started[key] = when
        elif key in started:
            totals[key[0]] = totals.get(key[0], 0.0) + (when - started.pop(key)).total_seconds()
    return totals


def measure_overhead(settings: BenchSettings) -> dict[str, Any]:
    out = settings.out_dir
    home = out / "airflow"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    log = out / "airflow-overhead.log"
    log.write_text("")
    warehouse = (home / "hr_warehouse.db").resolve()
    target = Target("sqlite", f"sqlite:///{warehouse}", None)
    with EmulatorProcess(settings, out / "emulator", out / "emulator-airflow.log") as emu:
        env = airflow_env(settings, home.resolve(), emu.info, warehouse)
        setup = _airflow(env, log, "db", "migrate")
        setup += _airflow(env, log, "pools", "set", "dataverse_api", str(settings.pool_slots),
                          "Concurrent Dataverse Web API requests")
        target.reset()
        before = emu.request_totals()
        dag_log = out / "airflow-dags-test.log"
        dag_log.write_text("")
        dag_wall = _airflow(env, dag_log, "dags", "test", "hr_dataverse_sync", "--conf", json.dumps({"mode": "full"}))
        dag_requests = emu.request_totals()["total"] - before["total"]

        target.reset()
        before = emu.request_totals()
        started = time.monotonic()
        direct = run_loader({
            "info": emu.info, "url": target.url, "schema": None, "mode": "full", "run_id": "bench-direct",
            "pool": settings.pool_slots, "large_slots": settings.large_table_slots,
            "max_concurrency": settings.max_concurrency, "serial": True,
        }, settings, "airflow-direct", None)
        direct_wall = time.monotonic() - started
        direct_requests = emu.request_totals()["total"] - before["total"]
    rows = sum(t["rows_upserted"] for t in direct["tables"])
    tasks = task_seconds(dag_log.read_text())
    loads = sum(v for k, v in tasks.items() if k in LOAD_TASKS)
    return {
        "backend": "sqlite", "run": "airflow_overhead", "workers": settings.workers, "rows": rows,
        "airflow_dags_test_s": round(dag_wall, 1), "direct_s": round(direct_wall, 1),
        "direct_in_process_s": direct["wall_seconds"],
        "overhead_s": round(dag_wall - direct_wall, 1),
        "overhead_pct": round(100 * (dag_wall - direct_wall) / direct_wall, 1),
        "airflow_http_requests": dag_requests, "direct_http_requests": direct_requests,
        # Where the DAG's time went: its load tasks against the direct load, the tasks before them
        # (integration switch, pre-flight checks), the tasks after them (mapping, quality), the rest.
        "airflow_load_tasks_s": round(loads, 1),
        "airflow_tasks_before_loads_s": round(sum(tasks.get(t, 0.0) for t in BEFORE_LOADS), 1),
        "airflow_tasks_after_loads_s": round(sum(v for k, v in tasks.items()
                                                 if k not in LOAD_TASKS and k not in BEFORE_LOADS), 1),
        "airflow_outside_tasks_s": round(dag_wall - sum(tasks.values()), 1),
        "airflow_task_seconds": {k: round(v, 1) for k, v in tasks.items()},
        "airflow_setup_s": round(setup, 1), "tables_failed_direct": [
            t["table"] for t in direct["tables"] if t["status"] == "failed" and t["table"] != "cdm_workerpersonaldetail"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.airflow_overhead", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows in the HR data set (default %(default)s)")
    p.add_argument("--latency-ms", type=float, default=BenchSettings.latency_ms)
    p.add_argument("--latency-per-row-ms", type=float, default=BenchSettings.latency_per_row_ms)
    p.add_argument("--out", type=Path, default=Path(".bench"))
    a = p.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = BenchSettings(rows=a.rows, backends=("sqlite",), latency_ms=a.latency_ms,
                                 latency_per_row_ms=a.latency_per_row_ms, out_dir=a.out)
    except ValueError as exc:
        p.error(str(exc))
    settings.out_dir.mkdir(parents=True, exist_ok=True)
    try:
        line = measure_overhead(settings)
    except (BenchError, EmulatorError) as exc:
        line = {"backend": "sqlite", "run": "airflow_overhead", "error": str(exc)}
    print(json.dumps(line), flush=True)
    with (settings.out_dir / f"airflow-overhead-{settings.rows}.jsonl").open("w") as fh:
        fh.write(json.dumps(line) + "\n")
    return 1 if "error" in line else 0


if __name__ == "__main__":
    raise SystemExit(main())
