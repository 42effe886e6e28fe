"""`airflow dags test` as a user runs it (a subprocess of the real CLI, DEBUG logging) against the
emulator: a deployment that turned the URS mapping off sends Dataverse no write, and no credential
(client secret, certificate key, access token) appears anywhere in the output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dataverse_emulator.testing import running_emulator

pytestmark = pytest.mark.airflow

ROOT = Path(__file__).resolve().parents[2]
JWT = re.compile(r"eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]+")


def dags_test(dag_id: str, env: dict[str, str], tmp: Path) -> str:
    """Run the CLI at DEBUG; its whole output (stdout + stderr) and the task log files."""
    run_env = {**os.environ, **env, "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
               "HR_WAREHOUSE_URL": f"sqlite:///{tmp / 'hr.db'}", "HR_REPORTS_DIR": str(tmp / "reports"),
               "HR_QUALITY_DIR": str(tmp / "quality")}
    proc = subprocess.run([str(Path(sys.executable).with_name("airflow")), "dags", "test", dag_id],
                          env=run_env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    logs = "".join(p.read_text(errors="replace") for p in Path(os.environ["AIRFLOW_HOME"]).rglob("*.log"))
    output = proc.stdout + proc.stderr + logs
    assert proc.returncode == 0, output[-4000:]
    return output


def assert_no_credentials(output: str, *secrets: str) -> None:
    assert "[debug" in output.lower() or "debug" in output  # DEBUG records were written
    for secret in secrets:
        assert secret not in output
    assert JWT.findall(output) == []  # no access token (nor client assertion)


def test_mapping_off_in_the_deployment_sends_no_write_and_debug_logs_hold_no_secret(
        airflow_db: None, emulator_state_dir: Path, conn_json: Any, tmp_path: Path) -> None:
    with running_emulator(emulator_state_dir) as emu:
        env = {"AIRFLOW_CONN_DATAVERSE_DEFAULT": conn_json(emu.info),
               "AIRFLOW_VAR_HR_URS_MAPPING_SETTINGS": json.dumps({"enabled": False})}
        output = dags_test("hr_dataverse_sync", env, tmp_path)
        log = emu.app.request_log.entries()
    assert [e for e in log if e.method in ("POST", "PATCH", "PUT", "DELETE")] == []
    assert len(log) > 50  # the loads did run
    assert "enabled = false  (deployment: Variable hr_urs_mapping_settings)" in output
    assert "Sending request" in output  # the upstream DEBUG line is there, only without MaskSecret values
    assert_no_credentials(output, emu.info["client_secret"])


def test_certificate_key_stays_out_of_debug_logs(airflow_db: None, emulator_state_dir: Path, conn_json: Any,
                                                  tmp_path: Path) -> None:
    import datetime as dt
    import hashlib

    from cryptography.hazmat.primitives import serialization

    from dataverse_emulator import certs

    key, cert = certs.self_signed("hr-dataverse-debug-test", valid_for=dt.timedelta(days=365))  # not expiring soon
    key_pem = certs.key_pem(key).decode()
    with running_emulator(emulator_state_dir) as emu:
        emu.app.entra.add_certificate(emu.info["client_id"], certs.cert_pem(cert))
        thumbprint = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
        conn = json.loads(conn_json(emu.info, password=""))
        conn["extra"].update(certificate_private_key=key_pem.replace("\n", "\\n"), certificate_thumbprint=thumbprint)
        output = dags_test("hr_connection_check", {"AIRFLOW_CONN_DATAVERSE_DEFAULT": json.dumps(conn)}, tmp_path)
    key_lines = [line for line in key_pem.splitlines() if line and not line.startswith("-----")]
    assert_no_credentials(output, *key_lines)


def test_an_hr_only_tenant_loads_while_the_mapping_is_off(airflow_db: None, emulator_state_dir: Path,
                                                          conn_json: Any, tmp_path: Path) -> None:
    """No mshr_ tables, no URS tables: with the mapping off nothing about URS is checked and the run
    succeeds, the HR virtual tables skipped as optional."""
    import sqlalchemy as sa

    with running_emulator(emulator_state_dir, urs_installed=False, hr_virtual_tables=False) as emu:
        env = {"AIRFLOW_CONN_DATAVERSE_DEFAULT": conn_json(emu.info),
               "AIRFLOW_VAR_HR_URS_MAPPING_SETTINGS": json.dumps({"enabled": False})}
        output = dags_test("hr_dataverse_sync", env, tmp_path)
        log = emu.app.request_log.entries()
        workers = emu.app.store.count("cdm_worker")
    assert [e for e in log if e.method != "GET"] == []
    assert not [e for e in log if "RetrieveUserSetOfPrivilegesByNames" in e.path or "characteristic" in e.path]
    assert re.search(r"DagRun Finished: dag_id=hr_dataverse_sync, .*state=success", output), output[-3000:]
    assert "mshr_hcmskillentity skipped (optional, not in this environment)" in output
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'hr.db'}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from cdm_worker where _deleted_at is null")).scalar() == workers
    engine.dispose()
