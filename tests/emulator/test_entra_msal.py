"""MSAL Python against the emulated Entra ID over real TLS: what MSAL gets is what Entra would give it."""

from __future__ import annotations

import uuid
from datetime import timedelta

import jwt
import msal
import pytest
from cryptography.hazmat.primitives import hashes

from dataverse_emulator.certs import cert_pem, key_pem, self_signed


@pytest.fixture(autouse=True)
def _ca_bundle_not_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's ``verify`` (MSAL's
    ``verify=`` sets exactly that), so on hosts exporting them the emulator CA would be ignored."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def _client(info: dict, client_id: str, credential: object, authority: str | None = None):
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=authority or info["authority"],
        verify=info["ca_bundle"],
        instance_discovery=False,
    )


def _scope(info: dict) -> list[str]:
    return [info["dataverse_url"] + "/.default"]


def _key_and_cert() -> tuple[bytes, bytes, str]:
    key, cert = self_signed("hr-dataverse-msal-test", valid_for=timedelta(days=30))
    return key_pem(key), cert_pem(cert), cert.fingerprint(hashes.SHA1()).hex()


def _assert_error(result: dict, error: str, code: int) -> None:
    assert "access_token" not in result
    assert result["error"] == error, result
    assert result["error_codes"] == [code]
    assert result["error_description"].startswith(f"AADSTS{code}: ")
    assert "\r\nTrace ID: " in result["error_description"]


def _new_app_with_secret(emulator, tenant_id: str, *, expires_in: timedelta) -> tuple[str, str]:
    client_id, secret = str(uuid.uuid4()), f"Zx8~{uuid.uuid4().hex}"
    emulator.app.entra.add_app(tenant_id, client_id)
    emulator.app.entra.add_secret(client_id, secret, expires_at=emulator.app.clock.now() + expires_in)
    return client_id, secret


def test_secret_credential(emulator) -> None:
    info = emulator.info
    result = _client(info, info["client_id"], info["client_secret"]).acquire_token_for_client(_scope(info))
    assert result.get("token_type") == "Bearer", result
    assert 0 < result["expires_in"] <= emulator.app.config.token_lifetime_seconds
    claims = emulator.app.entra.verify_access_token(result["access_token"], audience_candidates=[info["dataverse_url"]])
    assert claims["aud"] == info["dataverse_url"].rstrip("/")
    assert claims["appid"] == info["client_id"] and claims["appidacr"] == "1"
    assert claims["tid"] == info["tenant_id"]


@pytest.mark.parametrize("form", ["thumbprint", "public_certificate"])
def test_certificate_credential(emulator, form: str) -> None:
    info = emulator.info
    key_pem, cert_pem, sha1 = _key_and_cert()
    emulator.app.entra.add_certificate(info["client_id"], cert_pem)
    if form == "thumbprint":  # MSAL signs RS256 with x5t
        credential = {"private_key": key_pem.decode(), "thumbprint": sha1}
    else:  # MSAL computes the SHA-256 thumbprint and signs PS256 with x5t#S256 (+ x5c)
        credential = {"private_key": key_pem.decode(), "public_certificate": cert_pem.decode()}
    result = _client(info, info["client_id"], credential).acquire_token_for_client(_scope(info))
    assert "access_token" in result, result
    assert jwt.decode(result["access_token"], options={"verify_signature": False})["appidacr"] == "2"


def test_certificate_not_registered(emulator) -> None:
    info = emulator.info
    key_pem, _, sha1 = _key_and_cert()
    credential = {"private_key": key_pem.decode(), "thumbprint": sha1}
    result = _client(info, info["client_id"], credential).acquire_token_for_client(_scope(info))
    _assert_error(result, "invalid_client", 700027)


def test_wrong_secret(emulator) -> None:
    info = emulator.info
    result = _client(info, info["client_id"], "not-the-secret").acquire_token_for_client(_scope(info))
    _assert_error(result, "invalid_client", 7000215)


def test_expired_secret(emulator) -> None:
    info = emulator.info
    client_id, secret = _new_app_with_secret(emulator, info["tenant_id"], expires_in=timedelta(seconds=60))
    emulator.app.clock.advance(120)
    result = _client(info, client_id, secret).acquire_token_for_client(_scope(info))
    _assert_error(result, "invalid_client", 7000222)


def test_unknown_tenant_fails_while_constructing_the_app(emulator) -> None:
    info = emulator.info
    unknown = info["authority"].rsplit("/", 1)[0] + "/" + str(uuid.uuid4())
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        _client(info, info["client_id"], info["client_secret"], authority=unknown)


def test_app_registered_in_another_tenant(emulator) -> None:
    info = emulator.info
    other_tenant = str(uuid.uuid4())
    emulator.app.entra.add_tenant(other_tenant, "fabrikam.onmicrosoft.com")
    client_id, secret = _new_app_with_secret(emulator, other_tenant, expires_in=timedelta(days=1))
    result = _client(info, client_id, secret).acquire_token_for_client(_scope(info))
    _assert_error(result, "unauthorized_client", 700016)


def test_scope_without_default_suffix(emulator) -> None:
    info = emulator.info
    scopes = [info["dataverse_url"] + "/user_impersonation"]
    result = _client(info, info["client_id"], info["client_secret"]).acquire_token_for_client(scopes)
    _assert_error(result, "invalid_scope", 1002012)


def test_resource_not_in_tenant(emulator) -> None:
    info = emulator.info
    result = _client(info, info["client_id"], info["client_secret"]).acquire_token_for_client(
        ["https://contoso-other.crm.dynamics.com/.default"]
    )
    _assert_error(result, "invalid_resource", 500011)
