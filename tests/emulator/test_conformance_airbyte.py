"""Conformance with a second client nobody here wrote: Airbyte's Microsoft Dataverse connector
(``airbyte-source-microsoft-dataverse`` from PyPI, requirements-nodeps.txt). Its discovery reads every
table's attributes, then asks for the ``DateTimeBehavior`` of each table's date-time columns in one
``$batch`` of ``Attributes/Microsoft.Dynamics.CRM.DateTimeAttributeMetadata`` casts, and parses the
multipart answer with its own code. Against the emulator that must succeed for every table.

The connector's module imports one class of the Airbyte CDK (a framework not installed here) for its
OAuth helper; the test provides a stand-in class and an MSAL token from the emulator's Entra ID (the
connector's helper can only call login.microsoftonline.com). Everything else is the connector's code,
over real TLS.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from dataverse_emulator.testing import RunningEmulator, access_token

# Airbyte's discovery query (source.py, SourceMicrosoftDataverse.discover).
DISCOVER = ("EntityDefinitions?$select=LogicalName,EntitySetName,PrimaryIdAttribute,CanChangeTrackingBeEnabled,"
            "ChangeTrackingEnabled&$expand=Attributes($select=LogicalName,AttributeType)")


def _load_connector_module() -> types.ModuleType:
    spec = importlib.util.find_spec("source_microsoft_dataverse")
    assert spec is not None and spec.submodule_search_locations, "pip install -r requirements-nodeps.txt"
    path = Path(next(iter(spec.submodule_search_locations))) / "dataverse.py"
    stub_name = "airbyte_cdk.sources.streams.http.requests_native_auth.oauth"
    saved = {name: sys.modules.get(name) for name in _parents(stub_name)}
    for name in _parents(stub_name):
        sys.modules[name] = types.ModuleType(name)
    sys.modules[stub_name].Oauth2Authenticator = type("Oauth2Authenticator", (), {})  # type: ignore[attr-defined]
    try:
        module_spec = importlib.util.spec_from_file_location("airbyte_dataverse_connector", path)
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        return module
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


@pytest.fixture
def connector(emu: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> tuple[types.ModuleType, dict[str, Any]]:
    module = _load_connector_module()
    token = access_token(emu.info)

    class EmulatorAuth:
        def get_auth_header(self) -> dict[str, str]:
            return {"Authorization": f"Bearer {token}"}

    monkeypatch.setattr(module, "get_auth", lambda config: EmulatorAuth())
    # The connector calls requests.get/post without a verify option; requests reads the CA from the env.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emu.info["ca_bundle"])
    config = {"url": emu.info["dataverse_url"], "tenant_id": emu.info["tenant_id"],
              "client_id": emu.info["client_id"], "client_secret_value": "unused"}
    return module, config


def test_datetime_behavior_discovery_over_batch_for_every_table(emu, connector, caplog):
    module, config = connector
    response = module.do_request(config, DISCOVER)
    assert response.status_code == 200, response.text
    entities = response.json()["value"]
    assert {e["LogicalName"] for e in entities} == set(emu.app.schema)
    with_datetime = [e["LogicalName"] for e in entities if any(a["AttributeType"] == "DateTime" for a in e["Attributes"])]
    assert set(with_datetime) == set(emu.app.schema)  # every table has createdon/modifiedon

    emu.app.request_log.clear()
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        behaviors = module.get_all_datetime_behaviors(config, with_datetime)
    assert caplog.records == []  # the connector warns on any part it could not use
    batches = [e for e in emu.app.request_log if e.path.endswith("/$batch")]
    assert len(batches) == 1 and batches[0].status == 200

    expected = {name: {a.logical_name: "DateOnly" if a.date_only else "UserLocal"
                       for a in table.attributes.values() if a.attribute_type == "DateTime"}
                for name, table in emu.app.schema.items()}
    assert behaviors == expected
    date_only = [(t, c) for t, cols in expected.items() for c, b in cols.items() if b == "DateOnly"]
    assert date_only  # the HR tables have date-only columns, which Airbyte types as dates
    assert module.convert_dataverse_type("DateTime", behaviors[date_only[0][0]][date_only[0][1]]) == \
        {"type": ["null", "string"], "format": "date"}
