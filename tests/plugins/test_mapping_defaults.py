"""Deployment-wide mapping settings: the hr_urs_mapping_settings Variable, under per-run form values."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import AirflowFailException

from hr_deployment.mapping_tasks import DEFAULTS_VARIABLE, deployment_defaults, mapping_request

ENV = f"AIRFLOW_VAR_{DEFAULTS_VARIABLE.upper()}"


def test_variable_sets_deployment_defaults_and_the_form_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, json.dumps({"worker_column": "msdyn_workerid", "worker_navigation": "msdyn_WorkerId",
                                        "expired_certificates": "keep"}))
    defaults = deployment_defaults()
    settings, _ = mapping_request({"expired_certificates": "remove"}, defaults)
    assert (settings.worker_column, settings.worker_navigation) == ("msdyn_workerid", "msdyn_WorkerId")
    assert settings.expired_certificates == "remove"  # this run's form value beats the Variable


def test_no_variable_means_built_in_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert deployment_defaults() == {}
    settings, full_remap = mapping_request(None, deployment_defaults())
    assert settings.worker_column == "cdm_workerid" and full_remap is False


@pytest.mark.parametrize("raw, message", [
    ("[1, 2]", "must be a JSON object"),
    ("{not json", "not valid JSON"),
])
def test_a_malformed_variable_fails_naming_it(monkeypatch: pytest.MonkeyPatch, raw: str, message: str) -> None:
    monkeypatch.setenv(ENV, raw)
    with pytest.raises(AirflowFailException, match=message) as info:
        deployment_defaults()
    assert DEFAULTS_VARIABLE in str(info.value)


def test_an_unknown_setting_in_the_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, json.dumps({"worker_colum": "x"}))
    with pytest.raises(AirflowFailException, match="worker_colum"):
        mapping_request(None, deployment_defaults())


def test_one_precedence_rule_with_origins() -> None:
    from hr_dataverse.layered import layer

    layers = layer("urs_mapping", {"enabled": True, "dry_run": False, "expired_certificates": "remove"},
                   {"enabled": False, "expired_certificates": "keep"}, {"expired_certificates": "remove"},
                   deployment_source="Variable v")
    assert layers.values == {"enabled": False, "dry_run": False, "expired_certificates": "remove"}
    assert layers.origins == {"enabled": "deployment: Variable v", "dry_run": "code default",
                              "expired_certificates": "trigger form"}
    assert layers.overrides() == {"enabled": False, "expired_certificates": "remove"}
    assert "enabled = false  (deployment: Variable v)" in layers.describe()


def test_a_form_left_at_its_default_sets_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataverse_provider.run_settings import mapping_layers, mapping_settings

    monkeypatch.setenv(ENV, json.dumps({"enabled": False}))
    for form in (None, {}, ""):
        settings, _ = mapping_settings(mapping_layers(form))
        assert settings.enabled is False  # the deployment's value, never a form default
    settings, _ = mapping_settings(mapping_layers({"enabled": True}))
    assert settings.enabled is True  # set explicitly for this run


def test_quality_settings_follow_the_same_rule_and_merge_severities(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataverse_provider.run_settings import QUALITY_VARIABLE, quality_layers

    monkeypatch.setenv(f"AIRFLOW_VAR_{QUALITY_VARIABLE.upper()}",
                       json.dumps({"freshness_hours": 48, "severity": {"option_domain": "error"}}))
    layers = quality_layers({"severity": {"cdm_worker": "off"}}, {"dates": "error"})
    assert layers.values["freshness_hours"] == 48 and layers.origins["freshness_hours"].startswith("deployment")
    assert layers.values["severity"] == {"dates": "error", "option_domain": "error", "cdm_worker": "off"}
    assert layers.origins["severity"] == "deployment: Variable hr_data_quality_settings + trigger form"
    assert quality_layers(None).values["freshness_hours"] == 48  # an empty form keeps the deployment's
