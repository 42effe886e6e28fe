"""DataverseHook: settings from an AIRFLOW_CONN_* JSON connection, clear errors, test_connection, masking."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from dataverse_emulator.certs import self_signed
from dataverse_provider.hooks.dataverse import DataverseHook
from hr_dataverse.dataverse import ConfigError
from hr_dataverse.defaults import DEFAULT_MAX_CONCURRENCY

pytestmark = pytest.mark.airflow


def use(monkeypatch: pytest.MonkeyPatch, conn: dict[str, Any] | str, conn_id: str = "dataverse_default"
        ) -> DataverseHook:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", conn if isinstance(conn, str) else json.dumps(conn))
    return DataverseHook(dataverse_conn_id=conn_id)


def pfx_and_cert(password: bytes) -> tuple[bytes, bytes]:
    """A PFX (key + self-signed certificate) under ``password`` and the certificate as PEM."""
    key, cert = self_signed("hook-test", valid_for=dt.timedelta(days=1), backdated=dt.timedelta(hours=1))
    pfx = pkcs12.serialize_key_and_certificates(b"t", key, cert, None,
                                                serialization.BestAvailableEncryption(password))
    return pfx, cert.public_bytes(serialization.Encoding.PEM)


def test_settings_from_env_json_connection(emulator: Any, conn_json: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    info = emulator.info
    conn = conn_json(info, api_version="v9.1", client_secret_expires_on="2031-05-17", max_concurrency="3")
    settings = use(monkeypatch, conn, "dataverse_hr").get_settings()
    assert settings.environment_url == info["dataverse_url"] and settings.tenant_id == info["tenant_id"]
    assert settings.client_id == info["client_id"] and settings.client_secret == info["client_secret"]
    assert settings.authority_host == info["authority_host"] and settings.ca_bundle == info["ca_bundle"]
    assert settings.api_version == "v9.1" and settings.max_concurrency == 3
    assert settings.client_secret_expires_on == dt.date(2031, 5, 17) and settings.certificate is None
    assert info["client_secret"] not in repr(settings)


def test_unset_extras_keep_the_documented_defaults(emulator: Any, conn_json: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    conn = conn_json(emulator.info, authority_host="", api_version=None, max_concurrency=None,
                     ca_bundle=None, client_secret_expires_on="")
    s = use(monkeypatch, conn).get_settings()
    assert (s.authority_host, s.api_version, s.max_concurrency) == ("login.microsoftonline.com", "v9.2",
                                                                    DEFAULT_MAX_CONCURRENCY)
    assert s.ca_bundle is None and s.client_secret_expires_on is None


def test_host_without_scheme_takes_the_port_field(emulator: Any, conn_json: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    info = emulator.info
    host, port = info["authority_host"].split(":")
    conn = {**json.loads(conn_json(info)), "host": host, "port": int(port)}
    assert use(monkeypatch, conn).get_settings().environment_url == info["dataverse_url"]


def test_test_connection_runs_whoami(dataverse_conn: Any) -> None:
    ok, message = DataverseHook().test_connection()
    user_id = dataverse_conn.app.security.application_user(dataverse_conn.info["client_id"]).user_id
    assert ok is True and user_id in message
    whoami = [r for r in dataverse_conn.app.request_log if r.path.endswith("/WhoAmI")]
    assert [r.status for r in whoami] == [200]


def test_test_connection_explains_a_pasted_secret_id(emulator: Any, conn_json: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    info = emulator.info
    ok, message = use(monkeypatch, conn_json(info, password=info["client_secret_id"])).test_connection()
    assert ok is False and "AADSTS7000215" in message and "Value (not the Secret ID)" in message
    assert info["client_secret_id"] not in message


@pytest.mark.parametrize(("change", "field", "reason"), [
    ({"extra": {"tenant_id": ""}}, "Tenant ID (extra tenant_id)", "missing"),
    ({"host": "https://contoso.crm.dynamics.com/api/data/v9.2"}, "Environment URL (host)", "without path"),
    ({"host": "http://contoso.crm.dynamics.com"}, "Environment URL (host)", "https://"),
    ({"host": "https://contoso.crm.dynamics.com:99999"}, "Environment URL (host)", "malformed port"),
    ({"login": "my-app"}, "Client ID (login)", "GUID"),
    ({"password": None, "extra": {"certificate_pfx_path": "/nonexistent/app.pfx"}}, "Certificate",
     "cannot read PFX file"),
    ({"password": None, "extra": {"certificate_pfx_base64": "not base64!"}}, "Certificate", "not valid base64"),
    ({"password": None, "extra": {"certificate_private_key": "-----BEGIN PRIVATE KEY-----\\nnope",
                                  "certificate_thumbprint": "AB" * 20}}, "Certificate", "cannot read the PEM"),
    ({"extra": {"certificate_private_key": "x"}}, "Client secret (password)", "not both"),
    ({"extra": {"client_secret_expires_on": "31/12/2026"}}, "Client secret expires on", "expected a date"),
    ({"extra": {"max_concurrency": "lots"}}, "Max concurrent requests", "whole number"),
    ({"extra": {"ca_bundle": "/nonexistent/ca.pem"}}, "TLS CA bundle (extra ca_bundle)", "not readable"),
])
def test_bad_connection_input_names_the_field(emulator: Any, conn_json: Any, monkeypatch: pytest.MonkeyPatch,
                                              change: dict[str, Any], field: str, reason: str) -> None:
    conn = json.loads(conn_json(emulator.info))
    conn["extra"].update(change.get("extra", {}))
    conn.update({k: v for k, v in change.items() if k != "extra"})
    conn = {k: v for k, v in conn.items() if v is not None}  # None: field left empty
    with pytest.raises(ConfigError) as err:
        use(monkeypatch, conn).get_settings()
    assert err.value.field.startswith(field) and reason in err.value.reason
    assert "connection 'dataverse_default'" in str(err.value)
    assert emulator.info["client_secret"] not in str(err.value)


def test_pfx_certificate_wrong_password_then_right(emulator: Any, conn_json: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pfx, cert_pem = pfx_and_cert(b"right-pass")
    conn = json.loads(conn_json(emulator.info, certificate_pfx_base64=base64.b64encode(pfx).decode(),
                                certificate_password="wrong-pass"))
    del conn["password"]  # a certificate instead of the secret
    with pytest.raises(ConfigError) as err:
        use(monkeypatch, conn).get_settings()
    assert err.value.field.startswith("Certificate") and "wrong password" in err.value.reason
    emulator.app.entra.add_certificate(emulator.info["client_id"], cert_pem)
    conn["extra"]["certificate_password"] = "right-pass"
    ok, message = use(monkeypatch, conn).test_connection()
    assert ok, message


def test_access_tokens_and_secret_are_masked(dataverse_conn: Any) -> None:
    from airflow.sdk._shared.secrets_masker import redact

    hook = DataverseHook()
    token = hook.get_conn().tokens.get_token().token
    hook.close()
    assert redact(f"Authorization: Bearer {token}") == "Authorization: Bearer ***"
    assert redact(f"secret={dataverse_conn.info['client_secret']}") == "secret=***"


def test_the_check_log_names_which_connection_source_is_in_effect(monkeypatch: pytest.MonkeyPatch) -> None:
    """An AIRFLOW_CONN_ variable shadows a connection saved in the UI; the checks say which one they use."""
    from dataverse_provider.hooks.dataverse import connection_source

    monkeypatch.setenv("AIRFLOW_CONN_DATAVERSE_DEFAULT", '{"conn_type": "dataverse"}')
    assert connection_source("dataverse_default").startswith(
        "environment variable AIRFLOW_CONN_DATAVERSE_DEFAULT (it takes precedence over a connection of the same "
        "id saved in the UI")
    monkeypatch.delenv("AIRFLOW_CONN_DATAVERSE_DEFAULT")
    assert "metadata database (Admin → Connections)" in connection_source("dataverse_default")
