"""The map_characteristics task body against an emulator tenant without the Scheduling solution:
it fails before any write, naming the fix; with the mapping off it is skipped and asks nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from dataverse_emulator.testing import client_settings, running_emulator
from hr_dataverse.catalog import load_catalog
from hr_dataverse.dataverse import DataverseClient
from hr_dataverse.sync import sync_table
from hr_dataverse.warehouse import Warehouse
from hr_deployment.mapping_tasks import map_characteristics

pytestmark = pytest.mark.airflow

HR_TABLES = ("cdm_worker", "cdm_employment", "mshr_hcmratingmodelentity", "mshr_hcmratinglevelentity",
             "mshr_hcmskillentity", "mshr_hcmcertificatetypeentity", "mshr_hcmworkerskillentity",
             "mshr_hcmworkercertificateentity")


def test_a_tenant_without_urs_fails_the_task_before_any_write(emulator_state_dir: Path, conn_json: Any,
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'hr.db'}"
    with running_emulator(emulator_state_dir, urs_installed=False) as emu:
        monkeypatch.setenv("AIRFLOW_CONN_DATAVERSE_DEFAULT", conn_json(emu.info))
        monkeypatch.setenv("HR_WAREHOUSE_URL", url)
        monkeypatch.delenv("AIRFLOW_VAR_HR_URS_MAPPING_SETTINGS", raising=False)
        warehouse, catalog = Warehouse(url), load_catalog()
        with DataverseClient(client_settings(emu.info)) as client:
            for table in HR_TABLES:
                sync_table(client, warehouse, catalog.get(table), run_id="sync-1")
        warehouse.dispose()
        emu.app.request_log.clear()
        with pytest.raises(AirflowFailException) as failed:
            map_characteristics(None, dag_id="hr_urs_mapping", run_id="r1")
        assert [e for e in emu.app.request_log if e.method != "GET"] == []
        message = str(failed.value)
        assert message.startswith("URS mapping: the write path to Dataverse is not ready, nothing was written")
        assert "Scheduling solution is not installed" in message and "Fix: install Universal Resource Scheduling" in message

        monkeypatch.setenv("AIRFLOW_VAR_HR_URS_MAPPING_SETTINGS", json.dumps({"enabled": False}))
        emu.app.request_log.clear()
        with pytest.raises(AirflowSkipException, match="from deployment: Variable hr_urs_mapping_settings"):
            map_characteristics(None, dag_id="hr_urs_mapping", run_id="r2")
        assert emu.app.request_log.entries() == []
