"""Airflow wiring of the sync's safety rules: warehouse errors name the Airflow connection, the delete
guard's settings (form > deployment > default), a held reconciliation fails the load task, and a
load skipped for the table lock stays green."""

from __future__ import annotations

import socket

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from dataverse_provider.edge import task_error
from dataverse_provider.warehouse import open_warehouse
from hr_dataverse.sync import TableSyncResult
from hr_dataverse.warehouse import WarehouseUnavailableError
from hr_deployment.sync_tasks import (
    LOCK_WAIT_ENV,
    MAX_DELETE_PERCENT_ENV,
    delete_guard,
    fail_on_held_deletes,
    lock_wait_s,
)

pytestmark = pytest.mark.airflow


def test_an_unreachable_warehouse_names_the_airflow_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        monkeypatch.setenv("AIRFLOW_CONN_HR_WAREHOUSE", f"postgresql://hr:s3cret@127.0.0.1:{port}/warehouse")
        wh = open_warehouse()
        with pytest.raises(WarehouseUnavailableError) as caught:
            wh.states()
    wh.dispose()
    error = task_error("table 'cdm_job'", caught.value)
    assert type(error) is AirflowException  # reachable again later: Airflow retries
    assert "the Airflow connection 'hr_warehouse'" in str(error) and "s3cret" not in str(error)
    monkeypatch.delenv("AIRFLOW_CONN_HR_WAREHOUSE")
    monkeypatch.setenv("HR_WAREHOUSE_URL", f"postgresql://hr:s3cret@127.0.0.1:{port}/warehouse")
    wh = open_warehouse()
    with pytest.raises(WarehouseUnavailableError, match=r"\$HR_WAREHOUSE_URL \(no Airflow connection 'hr_warehouse'"):
        wh.states()
    wh.dispose()


def test_delete_guard_settings_follow_form_then_deployment_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MAX_DELETE_PERCENT_ENV, raising=False)
    assert delete_guard().max_delete_fraction == 0.05 and not delete_guard().allow_mass_delete
    monkeypatch.setenv(MAX_DELETE_PERCENT_ENV, "20")
    assert delete_guard().max_delete_fraction == 0.2  # the deployment's
    assert delete_guard(True, 1).max_delete_fraction == 0.01 and delete_guard(True, 1).allow_mass_delete  # the form's
    monkeypatch.setenv(MAX_DELETE_PERCENT_ENV, "lots")
    with pytest.raises(AirflowFailException, match="HR_DATAVERSE_MAX_DELETE_PERCENT must be a number"):
        delete_guard()
    with pytest.raises(AirflowFailException, match="between 0 and 100"):
        delete_guard(False, 150)
    monkeypatch.setenv(LOCK_WAIT_ENV, "-3")
    with pytest.raises(AirflowFailException, match="HR_DATAVERSE_LOAD_LOCK_WAIT_S"):
        lock_wait_s()
    monkeypatch.setenv(LOCK_WAIT_ENV, "30")
    assert lock_wait_s() == 30


def test_held_deletes_fail_the_load_task_and_a_lock_skip_does_not() -> None:
    held = TableSyncResult("cdm_worker", "full", "full load requested", status="warning", deletes_held={
        "cause": "short_read", "message": "table 'cdm_worker': NO rows were soft-deleted: read 28 rows, "
                                          "Dataverse counts 40 (exact $count)"})
    with pytest.raises(AirflowFailException, match=r"NO rows were soft-deleted: read 28 rows.*cause: short_read"):
        fail_on_held_deletes(held.to_dict())
    fail_on_held_deletes(TableSyncResult("cdm_worker", "full", "busy", status="skipped").to_dict())
    fail_on_held_deletes(TableSyncResult("cdm_worker", "delta", "ok").to_dict())
