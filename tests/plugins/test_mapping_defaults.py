"""Deployment-wide mapping settings: the hr_urs_mapping_settings Variable, under per-run form values."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import AirflowFailException

from dataverse_provider.mapping_tasks import DEFAULTS_VARIABLE, deployment_defaults, mapping_request

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
