"""``make stack-test``: the compose topology (``make stack``) checked end to end, then torn down.

1. starts the stack (emulator, init, api-server, scheduler, dag-processor, triggerer, two Celery workers);
2. signs in with the admin password airflow-init set and checks the pool it sized; unpauses
   ``hr_dataverse_sync`` and its asset-scheduled downstream DAGs and triggers a full sync, all
   through the REST API (not ``dags test``); waits for success;
3. asserts: load tasks ran on both workers (their task logs are in each worker's own log folder);
   the PostgreSQL warehouse holds exactly the emulator's rows (primary keys of every loaded table);
4. changes a job title in the emulator, triggers the next run (delta, that table only), and finds the
   change in the warehouse;
5. waits for the asset-scheduled ``hr_urs_mapping`` and ``hr_data_quality`` runs to succeed, and for
   every DAG run to finish;
6. fetches the first run's data-quality report from the API server's plugin while the report exists
   only at the storage URL (no process's own folder holds a copy: quality tasks delete their scratch copy);
7. with the downstream DAGs paused, triggers a run shaped like the scheduled one (empty conf) with
   nothing changed: it must be quiet (``probe_changes``), load only the tables change tracking cannot
   answer for, record every tracked table as unchanged, skip mapping and quality, and send at most
   ``NO_CHANGE_MAX_REQUESTS`` Dataverse requests (the emulator's count; not a timing check).

The emulator serves every table change-tracked (``EMULATOR_UNTRACKED`` empty), as the connection check asks.

Exits 0 when every check passed; the stack is stopped and its databases dropped on every exit path.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import ROOT, Plan, Stack, StackError, build_plan, running_stack, stack_settings  # noqa: E402

DAG_ID = "hr_dataverse_sync"
DOWNSTREAM = ("hr_urs_mapping", "hr_data_quality")
TEST_EMPLOYEE = "000001"
RUN_TIMEOUT = 600.0
# The quiet run's requests (emulator counts, default catalog, every table tracked): 35 probes (one per tracked
# table), 1 WhoAmI (token validation), 6 for the access check of the one Dataverse table that loads (the optional
# cdm_workerpersonaldetail the app user cannot read: metadata + 4 attribute-type reads + the refused one-row read;
# the 35 tables the probe found unchanged are vouched for, 0 requests), 2 for that table's refused load (metadata,
# $count): 44. Checking every table again would add ~220 (5-7 each), loading a tracked table at least 3; 60 admits neither.
NO_CHANGE_MAX_REQUESTS = 60


class CheckFailed(Exception):
    pass


class Api:
    """The Airflow REST API with a token from the auth manager's login."""

    def __init__(self, base: str, user: str, password: str) -> None:
        self.base = base
        resp = requests.post(f"{base}/auth/token", json={"username": user, "password": password}, timeout=30)
        resp.raise_for_status()
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.session.get(f"{self.base}{path}", timeout=30, **kw)

    def call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = self.session.request(method, f"{self.base}{path}", json=body, timeout=30)
        if resp.status_code >= 300:
            raise CheckFailed(f"{method} {path}: {resp.status_code} {resp.text[:300]}")
        return resp.json()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=60, help="HR workers in the emulator (default 60)")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".stack" / "test")
    parser.add_argument("--redis-db", type=int, default=14)
    args = parser.parse_args(argv)
    if args.workdir.exists():
        shutil.rmtree(args.workdir)
    started = time.monotonic()
    settings = stack_settings(args.workdir.resolve(), scale=args.scale, redis_db=args.redis_db)
    settings["EMULATOR_UNTRACKED"] = ""
    plan = build_plan(args.workdir, scale=args.scale, redis_db=args.redis_db, settings=settings)
    try:
        with running_stack(plan) as stack:
            print(f"[1/7] stack up in {time.monotonic() - started:.0f} s: {plan.api_url}", flush=True)
            run_checks(plan, stack)
    except (StackError, CheckFailed) as exc:
        print(f"\nSTACK TEST FAILED: {exc}\n(logs: {plan.workdir / 'logs'})", file=sys.stderr)
        return 1
    print(f"stack-test passed in {time.monotonic() - started:.0f} s (stack torn down)")
    return 0


def run_checks(plan: Plan, stack: Stack) -> None:
    api = Api(plan.api_url, *stack.admin)  # the password airflow-init set from _AIRFLOW_WWW_USER_PASSWORD
    check_pool(plan, api)
    for dag_id in (DAG_ID, *DOWNSTREAM):
        wait(lambda d=dag_id: api.get(f"/api/v2/dags/{d}").status_code == 200, f"DAG {dag_id} parsed", 180)
        api.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    first = trigger_and_wait(api, {"mode": "full"})
    print(f"[2/7] {DAG_ID} run {first} (full) succeeded, triggered through the REST API", flush=True)

    per_worker = load_tasks_per_worker(plan, first)
    if not all(per_worker.values()):
        raise CheckFailed(f"load tasks did not run on both workers: {per_worker}")
    print(f"[3/7] load tasks per worker: {per_worker}")
    warehouse = sa.create_engine(warehouse_url(plan))
    try:
        compared = compare_with_emulator(stack.emulator_info(), warehouse)
        print(f"      warehouse equals the emulator: {compared}", flush=True)

        title = mutate_title(stack.emulator_info())
        second = trigger_and_wait(api, {"mode": "delta", "tables": ["cdm_worker"]})  # lean: one table
        with warehouse.connect() as conn:
            got = conn.execute(sa.text("SELECT cdm_profession FROM cdm_worker WHERE cdm_workernumber = :n "
                                       "AND _deleted_at IS NULL"), {"n": TEST_EMPLOYEE}).scalar()
        if got != title:
            raise CheckFailed(f"the job title change did not arrive through run {second}: {got!r} != {title!r}")
        print(f"[4/7] mutation arrived through run {second}: worker {TEST_EMPLOYEE} is now {title!r}", flush=True)
    finally:
        warehouse.dispose()

    for dag_id in DOWNSTREAM:
        wait(lambda d=dag_id: any(r["state"] == "success" for r in dag_runs(api, d)),
             f"an asset-scheduled {dag_id} run succeeded", RUN_TIMEOUT,
             failed=lambda d=dag_id: [r["dag_run_id"] for r in dag_runs(api, d) if r["state"] == "failed"])
    # Quality tasks work in scratch copies while they run: check the storage once every run is over.
    wait(lambda: not [r for d in (DAG_ID, *DOWNSTREAM) for r in dag_runs(api, d) if r["state"] in ("queued", "running")],
         "every DAG run finished", RUN_TIMEOUT)
    print("[5/7] asset-scheduled DAGs ran: " + ", ".join(
        f"{d}: {sum(r['state'] == 'success' for r in dag_runs(api, d))} successful run(s)" for d in DOWNSTREAM))
    check_report_served(plan, api, first)
    check_no_change_run(plan, api, stack.emulator_info())


def check_no_change_run(plan: Plan, api: Api, info: dict[str, Any]) -> None:
    """A run shaped like the scheduled one with nothing changed: quiet, nothing tracked loaded, few requests."""
    for dag_id in DOWNSTREAM:  # their runs would send requests of their own while this one is counted
        api.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": True})
    before = emulator_requests(info)
    run_id = trigger_and_wait(api, {})
    sent = emulator_requests(info) - before
    xcom = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/probe_changes/xcomEntries/return_value",
                   params={"deserialize": "true"})
    probe = xcom.json().get("value") or {}
    probe = json.loads(probe) if isinstance(probe, str) else probe
    access = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/check_entity_access/xcomEntries/"
                     "return_value", params={"deserialize": "true"}).json().get("value") or {}
    access = json.loads(access) if isinstance(access, str) else access
    tis = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
    states = {t["task_id"]: t["state"] for t in tis if t["map_index"] == -1}
    loads = sorted(t["rendered_map_index"] or "" for t in tis if t["task_id"].startswith("load_") and t["map_index"] >= 0)
    warehouse = sa.create_engine(warehouse_url(plan))
    try:
        with warehouse.connect() as conn:
            history = dict(conn.execute(sa.text("SELECT table_name, message FROM _hr_sync_runs WHERE run_id = :r"),
                                        {"r": run_id}).all())
    finally:
        warehouse.dispose()
    unchanged = sorted(probe.get("unchanged", []))
    problems = []
    if not probe.get("quiet") or not unchanged:
        problems.append(f"not quiet: {probe.get('reasons')}")
    if loads != sorted(probe.get("load", [])):
        problems.append(f"loaded {loads}, the probe planned {probe.get('load')}")
    if sorted(access.get("vouched", [])) != unchanged:
        problems.append(f"the access check vouched for {access.get('vouched')}, the probe found {unchanged} unchanged")
    if any(not (history.get(t) or "").startswith("unchanged") for t in unchanged):
        problems.append(f"tracked tables not recorded as unchanged: {history}")
    if (states.get("map_characteristics"), states.get("data_quality")) != ("skipped", "skipped"):
        problems.append(f"mapping/quality not skipped: {states}")
    if sent > NO_CHANGE_MAX_REQUESTS:
        problems.append(f"{sent} Dataverse requests, more than {NO_CHANGE_MAX_REQUESTS}")
    if problems:
        raise CheckFailed(f"no-change run {run_id}: " + "; ".join(problems))
    print(f"[7/7] no-change run {run_id}: quiet, {len(unchanged)} tables unchanged, loaded only {loads}, "
          f"{sent} Dataverse requests (at most {NO_CHANGE_MAX_REQUESTS})", flush=True)


def emulator_requests(info: dict[str, Any]) -> int:
    """Dataverse Web API requests the emulator served so far (its admin endpoint, loopback only)."""
    resp = requests.get(f"{info['dataverse_url'].rstrip('/')}/_emulator/requests", verify=info["ca_bundle"],
                        timeout=30)
    resp.raise_for_status()
    return int(resp.json()["total"])


def check_pool(plan: Plan, api: Api) -> None:
    """airflow-init created the pool from configuration (the same function sizes it here)."""
    from hr_deployment.pools import DATAVERSE_POOL, configured_pool_size

    expected = configured_pool_size(plan.process("airflow-init").env)
    slots = api.get(f"/api/v2/pools/{DATAVERSE_POOL}").json().get("slots")
    if slots != expected:
        raise CheckFailed(f"pool {DATAVERSE_POOL}: {slots} slots, configuration says {expected}")
    print(f"      pool {DATAVERSE_POOL}: {slots} slots, created by airflow-init from configuration", flush=True)


def trigger_and_wait(api: Api, conf: dict[str, Any]) -> str:
    run = api.call("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": conf})
    run_id = run["dag_run_id"]

    def state() -> str:
        return api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}").json()["state"]
    wait(lambda: state() in ("success", "failed"), f"run {run_id} finished", RUN_TIMEOUT)
    if state() != "success":
        tis = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
        failed = sorted({t["task_id"] for t in tis if t["state"] in ("failed", "upstream_failed")})
        raise CheckFailed(f"run {run_id} failed; failed tasks: {failed}")
    return run_id


def dag_runs(api: Api, dag_id: str) -> list[dict[str, Any]]:
    return api.get(f"/api/v2/dags/{dag_id}/dagRuns").json().get("dag_runs", [])


def load_tasks_per_worker(plan: Plan, run_id: str) -> dict[str, int]:
    """Load-task logs of the run in each worker's own log folder: where the task really ran."""
    counts = {}
    for proc in plan.processes:
        if proc.service == "airflow-worker":
            logs = proc.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}"
            counts[proc.name] = len(list(logs.glob("task_id=load_*/**/attempt=*.log")))
    return counts


def warehouse_url(plan: Plan) -> str:
    return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{plan.settings['HR_WAREHOUSE_DB']}"


def compare_with_emulator(info: dict[str, Any], engine: sa.Engine) -> str:
    """Every table loaded in the last run: the warehouse's live primary keys equal the emulator's."""
    from dataverse_emulator.testing import client_settings
    from dataverse_provider.environment import configured_catalog
    from hr_dataverse.dataverse import DataverseClient, get_entity, iter_pages

    with engine.connect() as conn:
        loaded = [r[0] for r in conn.execute(sa.text(
            "SELECT table_name FROM _hr_sync_runs WHERE status <> 'failed' AND run_id = "
            "(SELECT run_id FROM _hr_sync_runs ORDER BY started_at DESC LIMIT 1)"))]
    if not loaded:
        raise CheckFailed("the warehouse has no loaded table")
    specs = {t.name: t for t in configured_catalog()}
    total = 0
    with DataverseClient(client_settings(info)) as client:
        for table in sorted(loaded):
            spec = specs[table]
            entity_set = spec.entity_set or get_entity(client, table, lookup_targets=False).entity_set_name
            source = {row[spec.primary_key] for page in iter_pages(client, entity_set, select=[spec.primary_key])
                      for row in page.rows}
            with engine.connect() as conn:
                target = {str(r[0]) for r in conn.execute(sa.text(
                    f'SELECT "{spec.primary_key}" FROM "{table}" WHERE _deleted_at IS NULL'))}
            if source != target:
                raise CheckFailed(f"{table}: warehouse {len(target)} rows, emulator {len(source)}; "
                                  f"missing {sorted(source - target)[:3]}, extra {sorted(target - source)[:3]}")
            total += len(source)
    return f"{len(loaded)} tables, {total} rows"


def mutate_title(info: dict[str, Any]) -> str:
    title = f"Stack Test Analyst {int(time.time())}"
    spec = json.dumps([{"action": "change_job_title", "worker_number": TEST_EMPLOYEE, "title": title}])
    subprocess.run([sys.executable, "-m", "dataverse_emulator", "mutate", "--url", info["dataverse_url"],
                    "--ca-bundle", info["ca_bundle"], spec], check=True, capture_output=True, timeout=60)
    return title


def check_report_served(plan: Plan, api: Api, run_id: str) -> None:
    """The plugin on the API server serves the run's report; the file exists only at the storage URL."""
    from urllib.parse import quote

    resp = api.get(f"/hr-quality/dag-runs/{DAG_ID}/{quote(run_id, safe='')}/")
    if resp.status_code != 200 or "<html" not in resp.text.lower():
        raise CheckFailed(f"the API server did not serve the data-quality report of {run_id}: {resp.status_code}")
    storage = plan.workdir / "storage"
    stored = list(storage.rglob("summary.html"))
    elsewhere = [p for p in plan.workdir.rglob("summary.html") if storage not in p.parents]
    if not stored or elsewhere:
        raise CheckFailed(f"reports: {len(stored)} at the storage URL, copies elsewhere: {elsewhere[:3]}")
    anonymous = requests.get(resp.url, timeout=30)
    if anonymous.status_code != 401:
        raise CheckFailed(f"the report was served without signing in ({anonymous.status_code})")
    print(f"[6/7] the API server's plugin served {resp.url.split('/hr-quality/')[1]} "
          f"({len(resp.content)} bytes) from the storage URL only ({len(stored)} summaries there)", flush=True)


def wait(ready: Any, what: str, timeout: float, failed: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return
        except (requests.RequestException, KeyError, ValueError):
            pass
        if failed is not None and failed():
            raise CheckFailed(f"not true: {what} (failed runs: {failed()})")
        if time.monotonic() > deadline:
            raise CheckFailed(f"not true within {timeout:.0f} s: {what}")
        time.sleep(2)


if __name__ == "__main__":
    sys.exit(main())
