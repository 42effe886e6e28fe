"""Event-driven sync end to end, with real Airflow processes (api-server, scheduler, dag-processor,
triggerer; LocalExecutor; own AIRFLOW_HOME and metadata database on PostgreSQL; free ports) against
the emulator over TLS:

* while nothing changes, the triggerer's pollers send one request per table per interval (measured
  from the emulator's request log; the README's figure is tables × 3600 / interval per hour) and
  no sync run starts;
* an HR change (the ``mutate`` functions) starts a sync run for the changed table only, and the
  change reaches the warehouse.

Latencies are measured and printed (the README quotes them); the deadlines are generous, only
there so that a broken set-up fails instead of hanging.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
import sqlalchemy as sa

from dataverse_emulator.mutations import change_job_title
from dataverse_emulator.testing import client_settings, running_emulator
from hr_dataverse.catalog import load_catalog
from hr_dataverse.dataverse import DataverseClient
from hr_dataverse.sync import sync_table
from hr_dataverse.sync.change_probe import PollPacer
from hr_dataverse.warehouse import Warehouse

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
POLLED = ["cdm_job", "cdm_worker"]
INTERVAL = 5.0  # seconds between two polls of one table (the setting's minimum)
BUDGET = 3600  # requests per hour for the poller: enough for 2 tables every 5 s (the default 600 would slow them)
DAG_ID = "hr_dataverse_sync"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, check: Any, timeout: float, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Airflow:
    """Airflow components as separate processes sharing one AIRFLOW_HOME."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home, self.env = home, env
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def run(self, *args: str, timeout: float = 600) -> None:
        done = subprocess.run([sys.executable, "-m", "airflow", *args], env=self.env, capture_output=True,
                              timeout=timeout, check=False)
        assert done.returncode == 0, done.stderr.decode()[-3000:]

    def start(self, name: str, *args: str) -> None:
        log = open(self.home / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, "-m", "airflow", *args], env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, proc))

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # the group this test started
        for _, proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n" + (self.home / f"{name}.log").read_text(errors="replace")[-3000:]
                         for name, _ in self.procs)


@pytest.fixture
def metadata_db(postgres_url: str) -> Iterator[str]:
    name = f"hr16_af_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_hr_change_starts_a_sync_of_that_table_and_quiet_costs_the_readme_rate(
        emulator_state_dir: Path, metadata_db: str, conn_json: Any, tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "hr_dataverse_sync.py").symlink_to(ROOT / "dags" / "hr_dataverse_sync.py")
    warehouse_url = f"sqlite:///{tmp_path / 'hr.db'}"
    api_port = free_port()
    with running_emulator(emulator_state_dir) as emu:
        # The first full load, so every polled table has a stored delta link.
        warehouse = Warehouse(warehouse_url)
        with DataverseClient(client_settings(emu.info)) as client:
            for table in POLLED:
                sync_table(client, warehouse, load_catalog().get(table), run_id="initial")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update({
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",  # watchers run for unpaused DAGs only
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_db,
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW_CONN_DATAVERSE_DEFAULT": conn_json(emu.info),
            "HR_WAREHOUSE_URL": warehouse_url,
            "HR_REPORTS_DIR": str(tmp_path / "reports"),
            "HR_QUALITY_DIR": str(tmp_path / "quality"),
            "HR_DATAVERSE_POLL_TABLES": ",".join(POLLED),
            "HR_DATAVERSE_POLL_INTERVAL": str(INTERVAL),
            "HR_DATAVERSE_POLL_BUDGET": str(BUDGET),
            # No cron safety net here: on unpause Airflow's cron timetable (catchup off) runs the latest
            # missed slot once, a full run of every table; test_event_sync_schedule.py covers the cron part.
            "HR_DATAVERSE_SYNC_SCHEDULE": "none",
        })
        (tmp_path / "airflow").mkdir()
        airflow = Airflow(tmp_path / "airflow", env)
        meta = sa.create_engine(metadata_db)
        try:
            airflow.run("db", "migrate")
            airflow.run("pools", "set", "dataverse_api", "4", "Concurrent Dataverse Web API requests")
            for name, args in (("api-server", ("api-server", "--port", str(api_port))),
                               ("scheduler", ("scheduler",)), ("dag-processor", ("dag-processor",)),
                               ("triggerer", ("triggerer",))):
                airflow.start(name, *args)

            def polls() -> list[Any]:
                return [e for e in emu.app.request_log.entries() if "$deltatoken=" in e.query]

            # The watchers are registered and polling both tables.
            wait_for("both pollers polling", lambda: {p.path.rsplit("/", 1)[-1] for p in polls()}
                     >= {"cdm_jobs", "cdm_workers"}, timeout=300, every=2)
            # Quiet period: measured rate, and no run.
            emu.app.request_log.clear()
            quiet_started = time.monotonic()
            time.sleep(8 * INTERVAL)
            quiet = polls()
            elapsed = time.monotonic() - quiet_started
            per_hour = len(quiet) * 3600 / elapsed
            # The README's figure: tables × 3600 / interval, capped by the budget.
            expected = PollPacer(interval=INTERVAL, tables=len(POLLED), budget_per_hour=BUDGET).requests_per_hour()
            assert expected == len(POLLED) * 3600 / INTERVAL
            print(f"\nquiet: {len(quiet)} poll requests in {elapsed:.1f} s = {per_hour:.0f}/h (README: {expected:.0f}/h)")
            assert 0.8 * expected <= per_hour <= 1.1 * expected
            assert all(e.status == 200 for e in quiet)
            other = [e for e in emu.app.request_log.entries() if "$deltatoken=" not in e.query]
            assert other == []  # nothing else reached Dataverse: no sync ran
            with meta.connect() as conn:
                assert conn.execute(sa.text("SELECT count(*) FROM dag_run WHERE dag_id = :d"),
                                    {"d": DAG_ID}).scalar() == 0

            # An HR change: a run for that table starts, and the change reaches the warehouse.
            worker = next(emu.app.store.iter_rows("cdm_worker"))
            changed_at = time.monotonic()
            change_job_title(emu.app.store, worker["cdm_workernumber"], "Chief people officer")

            def run_row() -> Any:
                with meta.connect() as conn:
                    return conn.execute(sa.text("SELECT run_id, run_type FROM dag_run WHERE dag_id = :d"),
                                        {"d": DAG_ID}).first()

            run = wait_for("a sync run", run_row, timeout=240)
            started_after = time.monotonic() - changed_at
            assert run.run_type == "asset_triggered"

            def loaded() -> Any:
                t = warehouse.table("cdm_worker")
                with warehouse.engine.connect() as conn:
                    return conn.execute(sa.select(t.c.cdm_profession).where(
                        t.c.cdm_workerid == worker["cdm_workerid"])).scalar() == "Chief people officer"

            wait_for("the change in the warehouse", loaded, timeout=420, every=2)
            landed_after = time.monotonic() - changed_at
            print(f"HR change -> run created {started_after:.1f} s, -> warehouse {landed_after:.1f} s")
            with meta.connect() as conn:
                loads = conn.execute(sa.text(
                    "SELECT rendered_map_index FROM task_instance WHERE dag_id = :d AND run_id = :r "
                    "AND task_id = 'load_table'"), {"d": DAG_ID, "r": run.run_id}).scalars().all()
            assert loads == ["cdm_worker"]  # the changed table only
            assert [r.run_id for r in warehouse.runs(table="cdm_job")] == ["initial"]

            # The sync-history page, served by the real API server's plugin from the same warehouse:
            # refused anonymously, shown to a signed-in user with this run's load.
            page = f"http://127.0.0.1:{api_port}/hr-sync-history/dag-runs/{DAG_ID}/{quote(run.run_id, safe='')}/"
            assert requests.get(page, timeout=60).status_code == 401
            users = json.loads((tmp_path / "airflow" / "simple_auth_manager_passwords.json.generated").read_text())
            token = requests.post(f"http://127.0.0.1:{api_port}/auth/token", timeout=60,
                                  json={"username": "admin", "password": users["admin"]}).json()["access_token"]
            shown = requests.get(page, headers={"Authorization": f"Bearer {token}"}, timeout=60)
            assert shown.status_code == 200 and f"HR sync history: run {run.run_id}" in shown.text
            assert re.findall(r'<tr class="load">.*?</tr>', shown.text, re.S)[0].count("cdm_worker") == 1
            (tmp_path / "latency.json").write_text(json.dumps(
                {"quiet_requests_per_hour": per_hour, "expected": expected, "run_created_s": started_after,
                 "warehouse_s": landed_after}))
        except BaseException:
            with meta.connect() as conn:
                print(conn.execute(sa.text("SELECT run_id, task_id, rendered_map_index, state FROM task_instance "
                                           "ORDER BY start_date")).all())
            print(airflow.logs())
            raise
        finally:
            airflow.stop()
            meta.dispose()
            warehouse.dispose()
