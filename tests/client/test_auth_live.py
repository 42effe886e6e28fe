"""Token acquisition against the emulator's Entra ID over real TLS, and each AADSTS failure."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import jwt
import pytest

from hr_dataverse.dataverse import AuthError, CertificateCredential, DataverseClient, TokenProvider, diagnose


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def test_secret_token_is_cached_and_refreshed_on_demand(emulator: Any, make_settings: Any) -> None:
    info = emulator.info
    seen: list[str] = []
    provider = TokenProvider(make_settings(), on_new_token=seen.append)
    first = provider.get_token()
    c = claims(first.token)
    assert c["tid"] == info["tenant_id"] and c["appid"] == info["client_id"]
    assert c["aud"].rstrip("/") == info["dataverse_url"]
    assert first.expires_on > 0 and seen == [first.token]
    assert provider.get_token().token == first.token and len(seen) == 1  # from MSAL's cache
    fresh = provider.get_token(force_refresh=True)
    assert fresh.token != first.token and seen == [first.token, fresh.token]


@pytest.mark.parametrize("form", ["pem", "pfx"])
def test_certificate_credentials(emulator: Any, make_settings: Any, test_certificate: Any, form: str) -> None:
    info = emulator.info
    emulator.app.entra.add_certificate(info["client_id"], test_certificate.cert_pem)
    cert = (CertificateCredential(private_key_pem=test_certificate.key_pem, thumbprint=test_certificate.sha1)
            if form == "pem" else CertificateCredential(pfx=test_certificate.pfx, password=test_certificate.password))
    with DataverseClient(make_settings(client_secret=None, certificate=cert)) as client:
        assert client.whoami()["UserId"]
        header = jwt.get_unverified_header(client.tokens.get_token().token)
        assert header["alg"] == "RS256"  # the access token; the assertion's alg differs per form


def test_unregistered_certificate_is_700027(emulator: Any, make_settings: Any, test_certificate: Any) -> None:
    cert = CertificateCredential(private_key_pem=test_certificate.key_pem, thumbprint=test_certificate.sha1)
    with pytest.raises(AuthError) as info:
        TokenProvider(make_settings(client_secret=None, certificate=cert)).get_token()
    assert info.value.aadsts == 700027 and info.value.code == "AADSTS700027"
    assert "thumbprint" in diagnose(info.value).fix


def test_wrong_secret_is_7000215_and_never_echoed(emulator: Any, make_settings: Any) -> None:
    wrong = emulator.info["client_secret_id"]  # the classic mistake: the secret's ID, not its value
    with pytest.raises(AuthError) as info:
        TokenProvider(make_settings(client_secret=wrong)).get_token()
    err = info.value
    assert err.aadsts == 7000215 and err.error == "invalid_client" and err.request_id
    assert wrong not in str(err) and "\n" not in err.message
    assert "Value (not the Secret ID)" in diagnose(err).fix


def test_expired_secret_is_7000222(emulator: Any, make_settings: Any) -> None:
    info = emulator.info
    emulator.app.entra.expire_secret(info["client_id"], info["client_secret_id"])
    with pytest.raises(AuthError) as err:
        TokenProvider(make_settings()).get_token()
    assert err.value.aadsts == 7000222 and "new secret" in diagnose(err.value).fix


def test_unknown_tenant_fails_discovery_as_90002(emulator: Any, make_settings: Any) -> None:
    with pytest.raises(AuthError) as err:
        TokenProvider(make_settings(tenant_id=str(uuid.uuid4()))).get_token()
    assert err.value.aadsts == 90002 and "was not found" in err.value.message
    assert diagnose(err.value).check == "token"


def test_app_not_in_tenant_is_700016(emulator: Any, make_settings: Any) -> None:
    with pytest.raises(AuthError) as err:
        TokenProvider(make_settings(client_id=str(uuid.uuid4()))).get_token()
    assert err.value.aadsts == 700016 and err.value.error == "unauthorized_client"


def test_environment_of_another_tenant_is_500011(emulator: Any, make_settings: Any) -> None:
    other = "https://contoso-other.crm.dynamics.com"
    with pytest.raises(AuthError) as err:
        TokenProvider(make_settings(environment_url=other)).get_token()
    assert err.value.aadsts == 500011 and "Environment URL" in diagnose(err.value).fix


def test_secret_for_a_future_rotation_works(emulator: Any, make_settings: Any) -> None:
    info = emulator.info
    emulator.app.entra.add_secret(info["client_id"], "Rotated~secret-value-0123456789abcdefghij",
                                  expires_at=emulator.app.clock.now() + timedelta(days=30))
    token = TokenProvider(make_settings(client_secret="Rotated~secret-value-0123456789abcdefghij")).get_token()
    assert claims(token.token)["appid"] == info["client_id"]
