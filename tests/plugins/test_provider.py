"""The "dataverse" connection type is registered with Airflow through the installed entry point."""

from __future__ import annotations

import pytest

from dataverse_provider.get_provider_info import CONN_FIELDS
from dataverse_provider.hooks.dataverse import FIELD_LABELS, DataverseHook

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def providers():
    from airflow.providers_manager import ProvidersManager

    return ProvidersManager()


def test_connection_type_points_at_the_hook() -> None:
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    info = ProvidersManagerTaskRuntime().hooks["dataverse"]
    assert info is not None
    assert info.hook_class_name == f"{DataverseHook.__module__}.{DataverseHook.__name__}"
    assert info.hook_name == DataverseHook.hook_name == "Microsoft Dataverse"
    assert info.connection_id_attribute_name == DataverseHook.conn_name_attr
    assert info.connection_testable is True  # the UI's Test button calls test_connection()


def test_form_has_labelled_fields(providers) -> None:
    widgets = {k.removeprefix("extra__dataverse__"): w for k, w in providers.connection_form_widgets.items()
               if k.startswith("extra__dataverse__")}
    assert set(widgets) == set(CONN_FIELDS)
    assert widgets["tenant_id"].field["schema"]["title"] == "Tenant ID"
    assert {name for name, w in widgets.items() if w.is_sensitive} == {
        "certificate_private_key", "certificate_pfx_base64", "certificate_password"}
    behaviour = providers.field_behaviours["dataverse"]
    assert behaviour["relabeling"] == {"host": "Environment URL", "login": "Client ID", "password": "Client secret"}


def test_every_form_field_is_read_by_the_hook() -> None:
    """Errors name form fields; each extra the form offers is one the hook maps to a setting."""
    named = " ".join(FIELD_LABELS.values())
    assert [name for name in CONN_FIELDS if name not in named] == []


def test_one_concurrency_default_everywhere() -> None:
    """The connection form, the client settings, the demo connection and the README agree."""
    from pathlib import Path

    from dataverse_provider.get_provider_info import CONN_FIELDS
    from hr_dataverse.dataverse import DataverseSettings
    from hr_dataverse.defaults import DEFAULT_MAX_CONCURRENCY

    root = Path(__file__).resolve().parents[2]
    assert CONN_FIELDS["max_concurrency"]["schema"]["default"] == DEFAULT_MAX_CONCURRENCY
    assert DataverseSettings("https://x.crm.dynamics.com", "t", "c", "s").max_concurrency == DEFAULT_MAX_CONCURRENCY
    assert "MAX_CONCURRENCY = DEFAULT_MAX_CONCURRENCY" in (root / "scripts" / "demo.py").read_text()
    assert f"airflow pools set dataverse_api {DEFAULT_MAX_CONCURRENCY} " in (root / "README.md").read_text()
