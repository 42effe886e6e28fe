"""Alerts reach a local SMTP sink (and a local Teams webhook) from real dag.test() runs against the
emulator: a pre-flight blocker, an approaching credential expiry (read from the emulator's Graph),
a failed sync run and a data-quality error. The configuration is the one Variable."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from dataverse_emulator.testing import running_emulator
from hr_dataverse.alerts import AlertConfigError, AlertEvent, AlertSettings, event_of

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dags(airflow_db: None) -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags


@pytest.fixture
def env(emulator_state_dir: Path, conn_json: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    with running_emulator(emulator_state_dir) as emu:
        monkeypatch.setenv("AIRFLOW_CONN_DATAVERSE_DEFAULT", conn_json(emu.info))
        monkeypatch.setenv("HR_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'hr.db'}")
        monkeypatch.setenv("HR_REPORTS_DIR", str(tmp_path / "reports"))
        monkeypatch.setenv("HR_QUALITY_DIR", str(tmp_path / "quality"))
        yield emu


def states(run: Any) -> dict[str, str]:
    return {ti.rendered_map_index or ti.task_id: ti.state for ti in run.get_task_instances()}


def test_blocker_alerts_by_email_and_teams(env: Any, dags: dict[str, Any], smtp_sink: Any, teams_webhook: list[Any],
                                           alerts_config: dict[str, Any]) -> None:
    env.app.security.remove_application_user(env.info["client_id"])
    run = dags["hr_connection_check"].test(run_conf={"tables": ["cdm_worker"]})
    assert states(run) == {"validate_token": "failed", "check_entity_access": "upstream_failed",
                           "report_new_hr_tables": "upstream_failed", "credential_expiry": "success"}
    assert smtp_sink.subjects() == ["[HR sync] Pre-flight check blocked the HR sync: hr_connection_check / validate_token"]
    assert smtp_sink.messages[0]["X-Envelope-To"] == "hr-ops@hr.test"
    body = smtp_sink.body(0)
    assert "application user" in body and "preflight_blocker" in body and env.info["client_secret"] not in body
    [post] = teams_webhook
    card = post["attachments"][0]["content"]
    assert post["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["body"][0]["text"] == smtp_sink.subjects()[0]


def test_credential_expiring_soon_fails_its_task_as_a_warning_and_alerts(env: Any, dags: dict[str, Any], conn_json: Any,
                                                                        smtp_sink: Any, alerts_config: dict[str, Any],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    soon = env.app.entra.add_secret(env.info["client_id"], "Kp7~expires-soon-value",
                                    expires_at=env.app.clock.now() + timedelta(days=6))
    env.app.graph.name_secret(soon.secret_id, "sync secret 2026")
    monkeypatch.setenv("AIRFLOW_CONN_DATAVERSE_DEFAULT", conn_json(env.info, password="Kp7~expires-soon-value"))
    run = dags["hr_connection_check"].test(run_conf={"tables": ["cdm_worker"]})
    assert states(run) == {"validate_token": "success", "check_entity_access": "success",
                           "report_new_hr_tables": "success", "credential_expiry": "failed"}
    [subject] = smtp_sink.subjects()
    assert subject == "[HR sync] Dataverse app credential expires soon: hr_connection_check / credential_expiry"
    body = smtp_sink.body(0)
    assert "secret &#x27;sync secret 2026&#x27; (hint Kp7) expires in 6 day(s)" in body
    assert "expires-soon-value" not in body


def test_failed_run_and_data_quality_error_alert(env: Any, dags: dict[str, Any], smtp_sink: Any,
                                                 alerts_config: dict[str, Any], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from hr_dataverse.catalog import DEFAULT_CATALOG

    catalog = yaml.safe_load(DEFAULT_CATALOG.read_text())
    job = next(t for t in catalog["tables"] if t["name"] == "cdm_job")
    job["columns"].append("cdm_nosuchcolumn")  # cdm_job cannot load: its warehouse table never appears
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    monkeypatch.setenv("HR_DATAVERSE_CATALOG", str(tmp_path / "catalog.yaml"))
    conf = {"tables": ["cdm_company", "cdm_job"], "mode": "full",
            "urs_mapping": {"enabled": False, "dry_run": False, "full_remap": False}, "data_quality": {}}
    run = dags["hr_dataverse_sync"].test(run_conf=conf)
    got = states(run)
    assert run.state == "failed" and got["cdm_job"] == "failed" and got["data_quality"] == "failed"
    subjects = sorted(smtp_sink.subjects())
    assert subjects == ["[HR sync] HR data-quality errors: hr_dataverse_sync / data_quality",
                        "[HR sync] HR sync run failed: hr_dataverse_sync / watcher"]
    # A load that failed for another reason than a short read sends no short-read alert.
    assert not any("short read" in s for s in subjects)


def test_configuration_errors_name_the_key() -> None:
    with pytest.raises(AlertConfigError, match="unknown key.*emails"):
        AlertSettings.parse({"emails": {}})
    with pytest.raises(AlertConfigError, match="events: unknown \\['failed'\\]"):
        AlertSettings.parse({"email": {"to": ["a@b.c"]}, "events": ["failed"]})
    with pytest.raises(AlertConfigError, match="email.to must be a list of e-mail addresses"):
        AlertSettings.parse(json.dumps({"email": {"to": ["not-an-address"]}}))
    with pytest.raises(AlertConfigError, match="not valid JSON"):
        AlertSettings.parse("{")
    assert AlertSettings.parse(None).channels == [] and not AlertSettings.parse(None).wants(AlertEvent.FAILED_RUN)
    only = AlertSettings.parse({"email": {"to": "a@b.c"}, "events": ["dq_error"]})
    assert only.wants(AlertEvent.DQ_ERROR) and not only.wants(AlertEvent.FAILED_RUN)


def test_short_read_alert_keys_on_the_exception_marker(smtp_sink: Any, alerts_config: dict[str, Any]) -> None:
    from types import SimpleNamespace

    from dataverse_provider.alerts import HrAlertNotifier

    class ShortRead(Exception):
        alert_event = "short_read"

    assert event_of(ShortRead("x")) is AlertEvent.SHORT_READ and event_of(ValueError("x")) is None
    notifier = HrAlertNotifier("short_read", only_when_marked=True)
    ti = SimpleNamespace(dag_id="hr_dataverse_sync", task_id="load_table", run_id="r1")
    notifier.notify({"ti": ti, "run_id": "r1", "exception": ValueError("unrelated")})
    assert smtp_sink.messages == []
    notifier.notify({"ti": ti, "run_id": "r1", "exception": ShortRead("full load read 10 of 5000 rows; no deletes")})
    assert smtp_sink.subjects() == ["[HR sync] HR sync refused to delete on a short read: hr_dataverse_sync / load_table"]


def test_failing_poller_alerts_once(smtp_sink: Any, alerts_config: dict[str, Any]) -> None:
    from dataverse_provider.triggers.change import DataverseChangeTrigger

    trigger = DataverseChangeTrigger(table="cdm_worker", interval=60)
    assert trigger._alert("NetworkError: connection refused by the Dataverse host") is True
    [subject] = smtp_sink.subjects()
    assert subject == "[HR sync] HR change poller is failing: hr_dataverse_sync"
    assert "table cdm_worker: 3 polls in a row failed" in smtp_sink.body(0)
