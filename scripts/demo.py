"""``make demo``: the incremental sync test, end to end, against the local Dataverse emulator.

1. starts the emulator (seeded HR data set) as a subprocess;
2. migrates Airflow's metadata DB (``$AIRFLOW_HOME``, default ``.airflow/`` in the checkout) and
   sizes the ``dataverse_api`` pool;
3. runs ``airflow dags test hr_dataverse_sync`` in full mode into a fresh SQLite warehouse;
4. makes HR changes in the emulator with its ``mutate`` command: a job-title change on test
   employee 000001, a hire, a termination and a deletion;
5. runs the DAG again in delta mode;
6. prints per-table counts (and live rows per catalog category: worker, organization, skills,
   compensation, benefits — worker benefit enrollments from the emulator's F&O OData endpoint —
   and leave and absence) and the changes as read back from the warehouse.

Exits 0 when every change arrived through a delta, 1 when one did not or a step failed (its log
is under ``--workdir``). The emulator is stopped on every exit path. No Airflow import here: the
DAG runs in ``airflow`` subprocesses that reach the emulator over loopback HTTPS.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from hr_dataverse.defaults import DEFAULT_MAX_CONCURRENCY
from hr_dataverse.warehouse import Warehouse
from hr_deployment.pools import DATAVERSE_POOL, POOL_DESCRIPTION, configured_pool_size

ROOT = Path(__file__).resolve().parents[1]
DAG_ID = "hr_dataverse_sync"
TEST_EMPLOYEE = "000001"
NEW_TITLES = ("Senior HR Analyst", "Principal HR Analyst")  # the first that differs from the current one
HIRE = {"first_name": "Dana", "last_name": "Demo"}
MAX_CONCURRENCY = DEFAULT_MAX_CONCURRENCY  # the demo connection's; the emulator's x-ms-dop-hint may lower it
INACTIVE = "Inactive"


class DemoError(Exception):
    """A step failed; the message says which and where its log is."""


@dataclass
class Check:
    ok: bool
    text: str


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=3000, help="HR workers in the emulator (default 3000)")
    parser.add_argument("--seed", type=int, default=42, help="emulator data seed")
    parser.add_argument("--dop-hint", type=int, default=5, help="x-ms-dop-hint the emulator returns")
    parser.add_argument("--workdir", type=Path, default=ROOT / "data" / "demo",
                        help="warehouse, logs and the emulator's CA (recreated on each run)")
    args = parser.parse_args(argv)
    if args.scale < 10:
        parser.error("--scale must be at least 10 (the demo changes several workers)")
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # so `kill` also stops the emulator
    started = time.monotonic()
    try:
        checks = run_demo(args)
    except DemoError as exc:
        print(f"\nDEMO FAILED: {exc}", file=sys.stderr)
        return 1
    failed = [c for c in checks if not c.ok]
    print(f"\n{len(checks) - len(failed)} of {len(checks)} changes arrived "
          f"({time.monotonic() - started:.0f} s).")
    if failed:
        print("DEMO FAILED: " + "; ".join(c.text for c in failed), file=sys.stderr)
        return 1
    return 0


def _exit_on_sigterm(*_: object) -> None:
    raise SystemExit(143)


def run_demo(args: argparse.Namespace) -> list[Check]:
    workdir: Path = args.workdir.resolve()
    if workdir.exists():
        shutil.rmtree(workdir)
    (workdir / "logs").mkdir(parents=True)
    url = f"sqlite:///{workdir / 'hr_warehouse.db'}"
    with emulator(args, workdir) as info:
        print(f"[1/6] Emulator: {args.scale} workers (seed {args.seed}) at {info['dataverse_url']}")
        env = airflow_env(info, url, workdir)
        slots = configured_pool_size(max_concurrency=MAX_CONCURRENCY, dop_hint=args.dop_hint)  # env settings win
        step("airflow-migrate", [*AIRFLOW, "db", "migrate"], env, workdir)
        step("airflow-pool", [*AIRFLOW, "pools", "set", DATAVERSE_POOL, str(slots), POOL_DESCRIPTION], env, workdir)
        print(f"[2/6] Airflow metadata DB ready in {env['AIRFLOW_HOME']}; pool {DATAVERSE_POOL}: {slots} slots")

        seconds = step("run-full", [*AIRFLOW, "dags", "test", DAG_ID, "--conf", '{"mode": "full"}'], env, workdir)
        warehouse = Warehouse(url)
        try:
            print(f"[3/6] {DAG_ID}, mode full: done in {seconds:.0f} s")
            print_counts(warehouse, last_run(warehouse))
            per_category = category_rows(warehouse)
            print("    rows per category: " + ", ".join(f"{c} {n}" for c, n in per_category.items()))
            before = snapshot(warehouse)
            changes = apply_changes(info, before, workdir)
            seconds = step("run-delta", [*AIRFLOW, "dags", "test", DAG_ID, "--conf", '{"mode": "delta"}'], env,
                           workdir)
            delta_run = last_run(warehouse)
            print(f"[5/6] {DAG_ID}, mode delta: done in {seconds:.0f} s")
            print_counts(warehouse, delta_run)
            print("[6/6] Changes read back from the warehouse:")
            checks = verify(warehouse, before, changes, delta_run)
            empty = [c for c, n in per_category.items() if not n]
            checks.append(Check(not empty, f"every category of the catalog landed rows ({len(per_category)} "
                                           "categories)" if not empty else f"categories without rows: {empty}"))
        finally:
            warehouse.dispose()
    for check in checks:
        print(f"  {'OK  ' if check.ok else 'MISSING'}  {check.text}")
    return checks


# --- processes ---------------------------------------------------------------------------------

AIRFLOW = [sys.executable, "-m", "airflow"]


@contextmanager
def emulator(args: argparse.Namespace, workdir: Path) -> Iterator[dict[str, Any]]:
    """The emulator as a subprocess; yields its ready line and stops it on exit, whatever happens."""
    info_file = workdir / "emulator.json"
    log = (workdir / "logs" / "emulator.log").open("w")
    command = [sys.executable, "-m", "dataverse_emulator", "serve", "--scale", str(args.scale), "--seed",
               str(args.seed), "--dop-hint", str(args.dop_hint), "--state-dir", str(workdir / "emulator-tls"),
               "--info-file", str(info_file)]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while not info_file.exists() or not info_file.read_text().strip():
            if process.poll() is not None:
                raise DemoError(f"the emulator exited with code {process.returncode}; see {log.name}")
            if time.monotonic() > deadline:
                raise DemoError(f"the emulator was not ready within 120 s; see {log.name}")
            time.sleep(0.2)
        yield json.loads(info_file.read_text())
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def airflow_env(info: dict[str, Any], url: str, workdir: Path) -> dict[str, str]:
    """The environment of the ``airflow`` subprocesses: Airflow home in the checkout, the emulator
    as ``dataverse_default``, the demo warehouse, the integration switched on."""
    env = dict(os.environ)
    env.setdefault("AIRFLOW_HOME", str(ROOT / ".airflow"))
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
    env.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(ROOT / "plugins"))
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    env["AIRFLOW_CONN_DATAVERSE_DEFAULT"] = json.dumps({
        "conn_type": "dataverse",
        "host": info["dataverse_url"],
        "login": info["client_id"],
        "password": info["client_secret"],
        "extra": {"tenant_id": info["tenant_id"], "authority_host": info["authority_host"],
                  "ca_bundle": info["ca_bundle"], "max_concurrency": MAX_CONCURRENCY,
                  "fno_url": info["fno_url"]},  # worker benefit enrollments from F&O OData
    })
    # Env-var connections and Variables win over the metadata DB: the demo never writes into a
    # warehouse configured there, and runs even if the integration was turned off.
    env["HR_WAREHOUSE_URL"] = url
    env["AIRFLOW_CONN_HR_WAREHOUSE"] = json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": url}})
    env["AIRFLOW_VAR_HR_DATAVERSE_INTEGRATION"] = "on"
    env["HR_REPORTS_DIR"] = str(workdir / "reports")
    return env


def step(name: str, command: list[str], env: dict[str, str], workdir: Path, timeout: float = 900) -> float:
    """Run one command with its output in ``logs/<name>.log``; raises ``DemoError`` when it fails."""
    log = workdir / "logs" / f"{name}.log"
    started = time.monotonic()
    with log.open("w") as out:
        try:
            result = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                    timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise DemoError(f"{name} did not finish within {timeout:.0f} s; see {log}") from None
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise DemoError(f"{name} failed (exit code {result.returncode}); last lines of {log}:\n{tail}")
    return time.monotonic() - started


def mutate(info: dict[str, Any], specs: list[dict[str, Any]], workdir: Path) -> list[dict[str, Any]]:
    """Apply HR changes through the emulator's ``mutate`` command; returns what it applied."""
    command = [sys.executable, "-m", "dataverse_emulator", "mutate", "--url", info["dataverse_url"],
               "--ca-bundle", info["ca_bundle"], json.dumps(specs)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    (workdir / "logs" / "mutate.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise DemoError(f"the emulator refused the HR changes: {result.stderr.strip()}")
    return json.loads(result.stdout)["applied"]


# --- the warehouse -----------------------------------------------------------------------------


def rows(warehouse: Warehouse, table: str, **where: Any) -> list[dict[str, Any]]:
    t = warehouse.table(table)
    query = sa.select(t).where(*(t.c[k] == v for k, v in where.items()))
    with warehouse.engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def last_run(warehouse: Warehouse) -> str:
    runs = warehouse.runs()
    if not runs:
        raise DemoError("the DAG run succeeded but wrote nothing to the warehouse")
    return runs[-1].run_id


def print_counts(warehouse: Warehouse, run_id: str) -> None:
    loads = {r.table_name: r for r in warehouse.runs(run_id)}
    print(f"    {'table':<34} {'load':<15} {'live rows':>9} {'deleted':>8} {'upserted':>9} {'-deleted':>9}")
    for state in warehouse.states():
        load = loads.get(state.table_name)
        if load is None or load.status == "failed":
            reason = (load.message or "").split(":")[0] if load else "no load in this run"
            print(f"    {state.table_name:<34} not loaded ({reason}; an optional table: see its load task log)")
            continue
        print(f"    {state.table_name:<34} {load.mode:<15} {state.rows_total:>9} {state.rows_deleted:>8} "
              f"{load.rows_upserted:>9} {load.rows_deleted:>9}")


def category_rows(warehouse: Warehouse) -> dict[str, int]:
    """Live rows per catalog category after the full load (optional tables that did not load count 0)."""
    from dataverse_provider.environment import configured_catalog

    states = {s.table_name: s.rows_total or 0 for s in warehouse.states()}
    out: dict[str, int] = {}
    for spec in configured_catalog():
        out[spec.category.value] = out.get(spec.category.value, 0) + states.get(spec.name, 0)
    return out


@dataclass
class Before:
    title: str | None
    employed: list[dict[str, Any]]  # live workers with a current employment, by worker number
    worker_rows: int


def snapshot(warehouse: Warehouse) -> Before:
    workers = {w["cdm_workerid"]: w for w in rows(warehouse, "cdm_worker", _deleted_at=None)}
    current = {e["_cdm_workerid_value"] for e in rows(warehouse, "cdm_employment", _deleted_at=None)
               if e["cdm_employmentenddate"] is None}
    employed = sorted((w for wid, w in workers.items() if wid in current and w["cdm_workernumber"] != TEST_EMPLOYEE),
                      key=lambda w: w["cdm_workernumber"])
    test_employee = [w for w in workers.values() if w["cdm_workernumber"] == TEST_EMPLOYEE]
    if not test_employee or len(employed) < 2:
        raise DemoError(f"the full load did not bring worker {TEST_EMPLOYEE} and two employed workers")
    return Before(test_employee[0]["cdm_profession"], employed, len(workers))


@dataclass
class Changes:
    title: str
    hired: str
    terminated: dict[str, Any]
    deleted: dict[str, Any]


def apply_changes(info: dict[str, Any], before: Before, workdir: Path) -> Changes:
    terminated, deleted = before.employed[0], before.employed[-1]
    title = next(t for t in NEW_TITLES if t != before.title)
    applied = mutate(info, [
        {"action": "change_job_title", "worker_number": TEST_EMPLOYEE, "title": title},
        {"action": "hire", **HIRE},
        {"action": "terminate", "worker_number": terminated["cdm_workernumber"]},
        {"action": "delete_worker", "worker_number": deleted["cdm_workernumber"]},
    ], workdir)
    hired = applied[1]["worker_number"]
    print(f"[4/6] HR changes in the emulator: worker {TEST_EMPLOYEE} job title -> {title!r}; hired "
          f"{HIRE['first_name']} {HIRE['last_name']} as worker {hired}; terminated worker "
          f"{terminated['cdm_workernumber']}; deleted worker {deleted['cdm_workernumber']}")
    return Changes(title, hired, terminated, deleted)


def verify(warehouse: Warehouse, before: Before, changes: Changes, delta_run: str) -> list[Check]:
    """One check per change, each read back from the warehouse, plus: it came through a delta."""
    checks: list[Check] = []
    worker_load = warehouse.runs(delta_run, "cdm_worker")
    mode = worker_load[0].mode if worker_load else None
    checks.append(Check(mode == "delta", f"cdm_worker synced incrementally: load mode {mode!r} "
                        f"({worker_load[0].rows_upserted if worker_load else 0} rows read, not {before.worker_rows})"))

    employee = rows(warehouse, "cdm_worker", cdm_workernumber=TEST_EMPLOYEE, _deleted_at=None)
    title = employee[0]["cdm_profession"] if employee else None
    checks.append(Check(title == changes.title, f"job title of worker {TEST_EMPLOYEE}: {before.title!r} -> {title!r}"))

    hired = rows(warehouse, "cdm_worker", cdm_workernumber=changes.hired, _deleted_at=None)
    employment = rows(warehouse, "cdm_employment", _cdm_workerid_value=hired[0]["cdm_workerid"],
                      _deleted_at=None) if hired else []
    checks.append(Check(bool(hired and employment), f"new worker {changes.hired} "
                        f"{hired[0]['cdm_fullname']!r} with employment {employment[0]['cdm_employmentnumber']} "
                        f"from {employment[0]['cdm_employmentstartdate']:%Y-%m-%d}" if hired and employment
                        else f"new worker {changes.hired} with an employment"))

    number = changes.terminated["cdm_workernumber"]
    left = rows(warehouse, "cdm_worker", cdm_workernumber=number, _deleted_at=None)
    ended = [e["cdm_employmentenddate"] for e in rows(warehouse, "cdm_employment", _deleted_at=None,
                                                      _cdm_workerid_value=changes.terminated["cdm_workerid"])]
    status = left[0]["cdm_status_label"] if left else None
    done = bool(ended) and all(ended) and status == INACTIVE
    checks.append(Check(done, f"terminated worker {number}: employment ended "
                        f"{max(ended):%Y-%m-%d}, worker status {status}" if done
                        else f"terminated worker {number}: employment end date and status {INACTIVE!r}"))

    number = changes.deleted["cdm_workernumber"]
    gone = rows(warehouse, "cdm_worker", cdm_workerid=changes.deleted["cdm_workerid"])
    deleted_at = gone[0]["_deleted_at"] if gone else None
    checks.append(Check(deleted_at is not None, f"deleted worker {number}: soft-deleted in the warehouse at "
                        f"{deleted_at:%Y-%m-%d %H:%M:%S}" if deleted_at else f"deleted worker {number}: soft-deleted"))
    return checks


if __name__ == "__main__":
    sys.exit(main())
