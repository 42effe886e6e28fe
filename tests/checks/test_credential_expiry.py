"""Credential expiry read from Entra through Microsoft Graph (the emulator's Graph endpoint serves
the same secrets and certificates its token endpoint enforces), and the fallback to the date typed
in the connection when Graph refuses."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from dataverse_emulator.testing import client_settings
from hr_dataverse.checks.credential_expiry import (
    CHECK,
    GRAPH_CHECK,
    PERMISSION,
    expiring,
    graph_endpoint,
    read_app_credentials,
    run_credential_expiry_check,
)
from hr_dataverse.dataverse import CertificateCredential, DataverseClient, DataverseSettings


def settings_for(info: dict[str, Any], **overrides: Any) -> DataverseSettings:
    values: dict[str, Any] = {"client_secret_expires_on": date.today() + timedelta(days=300), "max_attempts": 2}
    values.update(overrides)
    return client_settings(info, **values)


def entry(report: Any, check: str) -> Any:
    (found,) = [e for e in report if e.check == check]
    return found


def test_expiry_of_the_secret_in_use_is_read_from_graph(emulator: Any) -> None:
    info, app = emulator.info, emulator.app
    secret = app.entra.app(info["client_id"]).secrets[info["client_secret_id"]]
    # The connection's typed date is wrong on purpose: Graph's date wins.
    report = run_credential_expiry_check(settings_for(info, client_secret_expires_on=date(2099, 1, 1)), warn_days=30)
    found = entry(report, CHECK)
    days = (secret.expires_at.astimezone(UTC).date() - datetime.now(UTC).date()).days
    assert found.status == "ok" and found.details["source"] == "graph"
    assert found.details["days_left"] == days and found.details["expires_on"] == secret.expires_at.date().isoformat()
    assert found.details["credential"]["hint"] == info["client_secret"][:3]
    assert found.details["credential"]["display_name"] == "HR Dataverse sync"
    assert info["client_secret"] not in report.to_json()  # the hint only, never the secret
    assert [e.check for e in report] == [CHECK]


def test_a_secret_expiring_soon_warns_and_names_it(emulator: Any) -> None:
    info, app = emulator.info, emulator.app
    soon = app.entra.add_secret(info["client_id"], "Zq9~rotate-me-soon", expires_at=app.clock.now() + timedelta(days=5))
    app.graph.name_secret(soon.secret_id, "rotation 2026")
    settings = settings_for(info, client_secret="Zq9~rotate-me-soon")
    with DataverseClient(settings) as client:  # the token endpoint takes the same secret
        assert client.whoami()["UserId"]
    report = run_credential_expiry_check(settings, warn_days=30)
    found = entry(report, CHECK)
    assert (found.status, found.code, found.details["days_left"]) == ("warning", "credential_expiring", 5)
    assert "secret 'rotation 2026' (hint Zq9) expires in 5 day(s)" in found.cause
    assert len(found.details["credentials"]) == 2 and expiring(report) == [found.cause]


def test_certificate_in_use_is_matched_by_thumbprint(emulator: Any) -> None:
    from cryptography.hazmat.primitives import serialization

    from dataverse_emulator.certs import cert_pem, key_pem, self_signed

    key, cert = self_signed("hr-sync-cert", valid_for=timedelta(days=12, hours=1))
    emulator.app.entra.add_certificate(emulator.info["client_id"], cert_pem(cert))
    sha1 = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    pem = key_pem(key).decode()
    settings = settings_for(emulator.info, client_secret=None, client_secret_expires_on=None,
                            certificate=CertificateCredential(private_key_pem=pem, thumbprint=sha1))
    report = run_credential_expiry_check(settings, warn_days=10)
    found = entry(report, CHECK)
    assert found.details["credential"]["thumbprint"] == sha1 and found.details["credential"]["kind"] == "certificate"
    assert (found.status, found.details["days_left"]) == ("ok", 12)
    assert run_credential_expiry_check(settings, warn_days=14).entries[-1].status == "warning"


@pytest.mark.parametrize("withdraw", ["revoke", "no_consent_for_other_permission"])
def test_graph_denied_falls_back_to_the_connection_date_and_names_the_permission(emulator: Any, withdraw: str) -> None:
    info, app = emulator.info, emulator.app
    app.graph.revoke(info["client_id"])
    if withdraw == "no_consent_for_other_permission":
        app.graph.grant(info["client_id"], "User.Read.All")  # a Graph permission that does not cover apps
    typed = date.today() + timedelta(days=3)
    report = run_credential_expiry_check(settings_for(info, client_secret_expires_on=typed), warn_days=30)
    denied, found = entry(report, GRAPH_CHECK), entry(report, CHECK)
    assert denied.status == "warning" and denied.code == "graph_permission_missing"
    assert "Authorization_RequestDenied" in denied.cause and PERMISSION in denied.fix
    assert sum(PERMISSION in (e.fix or "") for e in report) == 1  # said once
    assert (found.status, found.details["source"], found.details["days_left"]) == ("warning", "connection", 3)
    # Without a typed date the expiry is unknown, and the report says how to fix that.
    unknown = run_credential_expiry_check(settings_for(info, client_secret_expires_on=None))
    assert entry(unknown, CHECK).code == "expiry_unknown"


def test_graph_answers_for_the_callers_tenant_only_with_graph_tokens(emulator: Any) -> None:
    import requests

    from dataverse_emulator.testing import access_token

    info = emulator.info
    url = f"{info['dataverse_url']}/v1.0/applications(appId='{info['client_id']}')"
    dataverse_token = access_token(info)  # audience: the environment, not Graph
    for headers, status, code in (({}, 401, "InvalidAuthenticationToken"),
                                  ({"Authorization": f"Bearer {dataverse_token}"}, 401, "InvalidAuthenticationToken")):
        resp = requests.get(url, headers=headers, verify=info["ca_bundle"], timeout=10)
        assert resp.status_code == status and resp.json()["error"]["code"] == code
        assert set(resp.json()["error"]["innerError"]) >= {"request-id", "date"}
    settings = settings_for(info)
    name, creds = read_app_credentials(settings)
    assert name == "HR Dataverse Integration" and [c.hint for c in creds] == [info["client_secret"][:3]]


def test_graph_refuses_what_it_does_not_implement(emulator: Any) -> None:
    import requests

    from hr_dataverse.dataverse.auth import TokenProvider

    info = emulator.info
    settings = settings_for(info)
    base, scope = graph_endpoint(settings)
    tokens = TokenProvider(settings, scope=scope)
    headers = {"Authorization": f"Bearer {tokens.get_token().token}"}
    tokens.close()

    def get(path: str, method: str = "GET") -> requests.Response:
        return requests.request(method, f"{base}/v1.0/{path}", headers=headers, verify=info["ca_bundle"], timeout=10)

    app_path = f"applications(appId='{info['client_id']}')"
    selected = get(f"{app_path}?$select=appId,passwordCredentials").json()
    assert set(selected) == {"@odata.context", "appId", "passwordCredentials"}
    object_id = get(app_path).json()["id"]
    assert get(f"applications/{object_id}").json()["appId"] == info["client_id"]
    for path, status, code in ((f"{app_path}?$select=secretValue", 400, "BadRequest"),
                               (f"{app_path}?$expand=owners", 400, "BadRequest"),
                               ("applications(appId='00000000-0000-0000-0000-000000000001')", 404,
                                "Request_ResourceNotFound"),
                               ("servicePrincipals", 400, "BadRequest")):
        resp = get(path)
        assert (resp.status_code, resp.json()["error"]["code"]) == (status, code), path
    assert get(app_path, "PATCH").status_code == 405


@pytest.mark.parametrize(("authority", "graph_url", "base", "scope"), [
    ("login.microsoftonline.com", None, "https://graph.microsoft.com", "https://graph.microsoft.com/.default"),
    ("login.microsoftonline.us", None, "https://graph.microsoft.us", "https://graph.microsoft.us/.default"),
    ("login.microsoftonline.us", "https://dod-graph.microsoft.us", "https://dod-graph.microsoft.us",
     "https://dod-graph.microsoft.us/.default"),
    ("login.chinacloudapi.cn", None, "https://microsoftgraph.chinacloudapi.cn",
     "https://microsoftgraph.chinacloudapi.cn/.default"),
    ("127.0.0.1:8443", None, "https://127.0.0.1:8443", "https://graph.microsoft.com/.default"),
])
def test_national_clouds_use_their_graph_host(authority: str, graph_url: str | None, base: str, scope: str) -> None:
    from hr_dataverse.dataverse import DataverseSettings

    settings = DataverseSettings(environment_url="https://org.crm.dynamics.com", tenant_id="contoso.onmicrosoft.com",
                                 client_id="11111111-1111-1111-1111-111111111111", client_secret="x",
                                 authority_host=authority)
    assert graph_endpoint(settings, graph_url) == (base, scope)
