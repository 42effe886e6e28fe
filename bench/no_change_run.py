"""A scheduled ``hr_dataverse_sync`` run when nothing changed, end to end on the deployment topology
(``python -m bench.no_change_run``; ``make bench`` runs it after the load benchmark).

Starts ``make stack``'s processes (``scripts/stack.py``: emulator, api-server, scheduler,
dag-processor, triggerer, two Celery workers on PostgreSQL and Redis), unpauses the sync, triggers
one run with the scheduled run's settings (empty ``conf``: mode *auto*, every table) through the
REST API and waits for it (the first full load), then triggers ``--runs`` more with nothing changed
in the emulator. For each it prints the wall time the API records (``queued_at`` → ``end_date``),
the time the client saw (trigger → final state, polled every 0.5 s), the task instances' states and
durations, and the Dataverse requests the emulator counted during the run
(``GET /_emulator/requests``, before and after). Every table is change-tracked (as the connection
check asks; ``--untracked`` to serve tables without it). The stack is torn down on every exit path.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from stack import StackError, build_plan, running_stack, stack_settings  # noqa: E402
from stack_test import Api, CheckFailed, emulator_requests, wait  # noqa: E402

DAG_ID = "hr_dataverse_sync"
LOAD_TASKS = ("load_table", "load_large_table")
RUN_TIMEOUT = 900.0


def _seconds(start: str | None, end: str | None) -> float | None:
    from datetime import datetime

    if not start or not end:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 2)


def timed_run(api: Api, info: dict[str, Any], conf: dict[str, Any]) -> dict[str, Any]:
    """Trigger one run, wait for it, and return its timings, task states and request count."""
    before = emulator_requests(info)
    started = time.monotonic()
    run_id = api.call("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": conf})["dag_run_id"]
    run: dict[str, Any] = {}

    def finished() -> bool:
        run.update(api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}").json())
        return run.get("state") in ("success", "failed")
    deadline = time.monotonic() + RUN_TIMEOUT
    while not finished():
        if time.monotonic() > deadline:
            raise CheckFailed(f"run {run_id} did not finish within {RUN_TIMEOUT:.0f} s")
        time.sleep(0.5)
    client_wall = time.monotonic() - started
    tis = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 500}).json()
    tasks: dict[str, dict[str, Any]] = {}
    for ti in tis.get("task_instances", []):
        entry = tasks.setdefault(ti["task_id"], {"states": {}, "seconds": 0.0})
        entry["states"][ti["state"]] = entry["states"].get(ti["state"], 0) + 1
        entry["seconds"] = round(entry["seconds"] + (ti.get("duration") or 0.0), 2)
    loads = sum(n for t in LOAD_TASKS for s, n in tasks.get(t, {}).get("states", {}).items() if s == "success")
    return {
        "run_id": run_id, "state": run["state"], "wall_s": _seconds(run.get("queued_at"), run.get("end_date")),
        "queued_to_start_s": _seconds(run.get("queued_at"), run.get("start_date")),
        "client_wall_s": round(client_wall, 2), "dataverse_requests": emulator_requests(info) - before,
        "load_tasks_run": loads, "tasks": tasks,
    }


def measure(runs: int, scale: int, untracked: str, workdir: Path, redis_db: int) -> dict[str, Any]:
    settings = stack_settings(workdir.resolve(), scale=scale, redis_db=redis_db)
    settings["EMULATOR_UNTRACKED"] = untracked
    plan = build_plan(workdir, scale=scale, redis_db=redis_db, settings=settings)
    started = time.monotonic()
    with running_stack(plan) as stack:
        up_s = time.monotonic() - started
        api = Api(plan.api_url, *stack.admin)
        wait(lambda: api.get(f"/api/v2/dags/{DAG_ID}").status_code == 200, f"DAG {DAG_ID} parsed", 180)
        api.call("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})
        info = stack.emulator_info()
        first = timed_run(api, info, {})
        print(json.dumps({"run": "first (full) run", **{k: v for k, v in first.items() if k != "tasks"}}),
              file=sys.stderr, flush=True)
        measured = []
        for _ in range(runs):
            one = timed_run(api, info, {})
            print(json.dumps({"run": "no change", **one}), file=sys.stderr, flush=True)
            measured.append(one)
    walls = [r["wall_s"] for r in measured if r["wall_s"] is not None]
    return {
        "run": "no_change_scheduled", "topology": "make stack (CeleryExecutor, 2 workers)", "scale_workers": scale,
        "untracked_tables": [t for t in untracked.split(",") if t], "stack_up_s": round(up_s, 1),
        "first_run_wall_s": first["wall_s"], "first_run_requests": first["dataverse_requests"],
        "runs": len(measured), "states": [r["state"] for r in measured],
        "wall_s": walls, "wall_s_median": statistics.median(walls) if walls else None,
        "queued_to_start_s": [r["queued_to_start_s"] for r in measured],
        "dataverse_requests": [r["dataverse_requests"] for r in measured],
        "load_tasks_run": [r["load_tasks_run"] for r in measured],
        "task_seconds_last": {t: v["seconds"] for t, v in measured[-1]["tasks"].items()} if measured else {},
        "task_states_last": {t: v["states"] for t, v in measured[-1]["tasks"].items()} if measured else {},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.no_change_run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3, help="no-change runs to time (default %(default)s)")
    p.add_argument("--scale", type=int, default=200, help="HR workers in the emulator (default %(default)s)")
    p.add_argument("--untracked", default="", help="tables the emulator serves without change tracking "
                                                   "(comma list; default none)")
    p.add_argument("--out", type=Path, default=Path(".bench"))
    p.add_argument("--redis-db", type=int, default=13)
    a = p.parse_args(sys.argv[1:] if argv is None else argv)
    a.out.mkdir(parents=True, exist_ok=True)
    try:
        line = measure(a.runs, a.scale, a.untracked, a.out / "stack-no-change", a.redis_db)
    except (StackError, CheckFailed, requests.RequestException) as exc:
        line = {"run": "no_change_scheduled", "error": str(exc)}
    print(json.dumps(line), flush=True)
    with (a.out / "no-change-run.jsonl").open("w") as fh:
        fh.write(json.dumps(line) + "\n")
    return 1 if "error" in line else 0


if __name__ == "__main__":
    raise SystemExit(main())
