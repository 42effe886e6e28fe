"""Entra ID emulator: token endpoint, discovery, JWKS and access-token verification, over pure handler calls."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from datetime import timedelta
from urllib.parse import urlencode

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from dataverse_emulator.certs import cert_pem, self_signed
from dataverse_emulator.clock import Clock
from dataverse_emulator.config import EmulatorConfig
from dataverse_emulator.entra import JWT_BEARER, Entra, RegistryError
from dataverse_emulator.http import Headers, Request
from dataverse_emulator.tokens import TokenRejected

HOST = "https://127.0.0.1:8443"
ENV = HOST  # the Dataverse environment lives on the same loopback origin
_TRAILER = re.compile(
    r"\r\nTrace ID: (?P<trace>[0-9a-f-]{36})\r\nCorrelation ID: (?P<corr>[0-9a-f-]{36})"
    r"\r\nTimestamp: (?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ)$"
)


@pytest.fixture
def config() -> EmulatorConfig:
    return EmulatorConfig(seed=7)


@pytest.fixture(scope="module")
def client_cert() -> tuple[rsa.RSAPrivateKey, x509.Certificate, bytes]:
    return _self_signed()


def _self_signed(days: int = 30) -> tuple[rsa.RSAPrivateKey, x509.Certificate, bytes]:
    key, cert = self_signed("hr-dataverse-test", valid_for=timedelta(days=days))
    return key, cert, cert_pem(cert)


def _b64url(data: bytes, padded: bool = True) -> str:
    # MSAL keeps the '=' padding on thumbprints; RFC 7515 clients drop it.
    text = base64.urlsafe_b64encode(data).decode()
    return text if padded else text.rstrip("=")


def _assertion(
    key: rsa.RSAPrivateKey,
    cert: x509.Certificate,
    client_id: str,
    *,
    aud: str,
    alg: str = "RS256",
    iss: str | None = None,
    now: float | None = None,
    padded: bool = True,
) -> str:
    """A client assertion shaped like MSAL Python's (RS256+x5t or PS256+x5t#S256)."""
    now = time.time() if now is None else now
    if alg == "PS256":
        headers = {"x5t#S256": _b64url(cert.fingerprint(hashes.SHA256()), padded)}
    else:
        headers = {"x5t": _b64url(cert.fingerprint(hashes.SHA1()), padded)}
    claims = {"aud": aud, "iss": iss or client_id, "sub": client_id, "exp": now + 600, "iat": now, "jti": str(uuid.uuid4())}
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


def _post(tenant: str, form: dict[str, str], headers: dict[str, str] | None = None) -> Request:
    h = Headers({"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
    return Request("POST", f"/{tenant}/oauth2/v2.0/token", headers=h, body=urlencode(form).encode(), scheme_host=HOST)


def _secret_form(config: EmulatorConfig, **overrides: str) -> dict[str, str]:
    form = {
        "client_id": config.client_id,
        "client_secret": config.client_secret,
        "grant_type": "client_credentials",
        "scope": f"{ENV}/.default",
        "client_info": "1",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def _assert_entra_error(resp, status: int, error: str, code: int, text_start: str = "") -> dict:
    assert resp.status == status
    assert resp.headers.get("Content-Type") == "application/json; charset=utf-8"
    body = json.loads(resp.body)
    assert set(body) == {
        "error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id", "error_uri",
    }
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: {text_start}")
    trailer = _TRAILER.search(body["error_description"])
    assert trailer, body["error_description"]
    assert trailer["trace"] == body["trace_id"]
    assert trailer["corr"] == body["correlation_id"]
    assert trailer["ts"] == body["timestamp"]
    assert body["error_uri"] == f"{HOST}/error?code={code}"
    return body


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


# ------------------------------------------------------------------ success


def test_secret_in_form_yields_v1_app_token(entra: Entra, config: EmulatorConfig, clock: Clock) -> None:
    resp = entra.handle(_post(config.tenant_id, _secret_form(config)))
    assert resp.status == 200
    assert resp.headers.get("Content-Type") == "application/json; charset=utf-8"
    assert resp.headers.get("Cache-Control") == "no-store, no-cache"
    body = json.loads(resp.body)
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == body["ext_expires_in"] == config.token_lifetime_seconds

    header = jwt.get_unverified_header(body["access_token"])
    assert header["typ"] == "JWT" and header["alg"] == "RS256"
    assert header["kid"] == header["x5t"] == entra.tokens.key.kid
    claims = _claims(body["access_token"])
    assert claims["aud"] == ENV
    assert claims["iss"] == f"https://sts.windows.net/{config.tenant_id}/"
    assert claims["appid"] == config.client_id and claims["appidacr"] == "1"
    assert claims["tid"] == config.tenant_id and claims["ver"] == "1.0" and claims["idtyp"] == "app"
    assert claims["oid"] == claims["sub"] == entra.app(config.client_id).service_principal_id
    assert claims["exp"] - claims["iat"] == config.token_lifetime_seconds
    assert abs(claims["iat"] - clock.timestamp()) < 5
    assert "roles" not in claims
    assert {"aio", "uti", "rh", "idp", "nbf"} <= set(claims)


def test_secret_via_http_basic(entra: Entra, config: EmulatorConfig) -> None:
    basic = base64.b64encode(f"{config.client_id}:{config.client_secret}".encode()).decode()
    form = _secret_form(config, client_id=None, client_secret=None)
    resp = entra.handle(_post(config.tenant_id, form, {"Authorization": f"Basic {basic}"}))
    assert resp.status == 200
    assert _claims(json.loads(resp.body)["access_token"])["appid"] == config.client_id


def test_domain_tenant_and_other_resource_forms(entra: Entra, config: EmulatorConfig) -> None:
    # Tenant by domain; resource by its localhost alias and with a trailing slash before /.default.
    form = _secret_form(config, scope="https://localhost:8443//.default")
    resp = entra.handle(_post(config.tenant_domain, form))
    assert resp.status == 200
    claims = _claims(json.loads(resp.body)["access_token"])
    assert claims["aud"] == "https://localhost:8443"
    assert claims["tid"] == config.tenant_id


def test_roles_configured_on_app_are_in_token(entra: Entra, config: EmulatorConfig, clock: Clock) -> None:
    client_id = str(uuid.uuid4())
    entra.add_app(config.tenant_id, client_id, roles=["Dataverse.Reader"])
    entra.add_secret(client_id, "s3cret~value", expires_at=clock.now() + timedelta(days=1))
    resp = entra.handle(_post(config.tenant_id, _secret_form(config, client_id=client_id, client_secret="s3cret~value")))
    assert resp.status == 200
    assert _claims(json.loads(resp.body)["access_token"])["roles"] == ["Dataverse.Reader"]


@pytest.mark.parametrize(("alg", "padded"), [("RS256", True), ("PS256", True), ("RS256", False), ("PS256", False)])
def test_certificate_assertion(entra: Entra, config: EmulatorConfig, client_cert, alg: str, padded: bool) -> None:
    key, cert, pem = client_cert
    entra.add_certificate(config.client_id, pem)
    token_url = f"{HOST}/{config.tenant_id}/oauth2/v2.0/token"
    form = _secret_form(
        config,
        client_secret=None,
        client_assertion_type=JWT_BEARER,
        client_assertion=_assertion(key, cert, config.client_id, aud=token_url, alg=alg, padded=padded),
    )
    resp = entra.handle(_post(config.tenant_id, form))
    assert resp.status == 200, resp.body
    assert _claims(json.loads(resp.body)["access_token"])["appidacr"] == "2"


# ------------------------------------------------------------------ credential errors


def test_wrong_secret(entra: Entra, config: EmulatorConfig) -> None:
    resp = entra.handle(_post(config.tenant_id, _secret_form(config, client_secret="nope")))
    body = _assert_entra_error(resp, 401, "invalid_client", 7000215, "Invalid client secret provided.")
    assert f"app '{config.client_id}'" in body["error_description"]


def test_secret_id_instead_of_value_is_a_wrong_secret(entra: Entra, config: EmulatorConfig) -> None:
    resp = entra.handle(_post(config.tenant_id, _secret_form(config, client_secret=config.client_secret_id)))
    _assert_entra_error(resp, 401, "invalid_client", 7000215)


def test_expired_secret_after_clock_moves(entra: Entra, config: EmulatorConfig, clock: Clock) -> None:
    clock.advance((config.secret_expires_in_days + 1) * 86400)
    resp = entra.handle(_post(config.tenant_id, _secret_form(config)))
    _assert_entra_error(resp, 401, "invalid_client", 7000222, "The provided client secret keys for app")


def test_expire_secret_admin_call(entra: Entra, config: EmulatorConfig) -> None:
    entra.expire_secret(config.client_id, config.client_secret_id)
    resp = entra.handle(_post(config.tenant_id, _secret_form(config)))
    _assert_entra_error(resp, 401, "invalid_client", 7000222)
    with pytest.raises(RegistryError):
        entra.expire_secret(config.client_id, "no-such-secret")


def test_missing_credential(entra: Entra, config: EmulatorConfig) -> None:
    resp = entra.handle(_post(config.tenant_id, _secret_form(config, client_secret=None)))
    _assert_entra_error(
        resp, 400, "invalid_request", 7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    )


def test_assertion_signed_by_another_key(entra: Entra, config: EmulatorConfig, client_cert) -> None:
    key, cert, pem = client_cert
    entra.add_certificate(config.client_id, pem)
    impostor, _, _ = _self_signed()
    token_url = f"{HOST}/{config.tenant_id}/oauth2/v2.0/token"
    # Thumbprint of the registered cert, signature from a different key.
    form = _secret_form(
        config, client_secret=None, client_assertion_type=JWT_BEARER,
        client_assertion=_assertion(impostor, cert, config.client_id, aud=token_url),
    )
    body = _assert_entra_error(
        entra.handle(_post(config.tenant_id, form)), 401, "invalid_client", 700027,
        "Client assertion contains an invalid signature.",
    )
    assert "did not match the expected signature value" in body["error_description"]


def test_assertion_with_unregistered_certificate(entra: Entra, config: EmulatorConfig, client_cert) -> None:
    key, cert, _ = client_cert  # never registered
    token_url = f"{HOST}/{config.tenant_id}/oauth2/v2.0/token"
    form = _secret_form(
        config, client_secret=None, client_assertion_type=JWT_BEARER,
        client_assertion=_assertion(key, cert, config.client_id, aud=token_url),
    )
    body = _assert_entra_error(entra.handle(_post(config.tenant_id, form)), 401, "invalid_client", 700027)
    assert "The key was not found." in body["error_description"]
    assert cert.fingerprint(hashes.SHA1()).hex().upper() in body["error_description"]


@pytest.mark.parametrize(
    ("case", "code"),
    [("wrong_aud", 700023), ("wrong_iss", 700021), ("stale", 700024), ("garbage", 50027)],
)
def test_assertion_claim_errors(entra: Entra, config: EmulatorConfig, client_cert, case: str, code: int) -> None:
    key, cert, pem = client_cert
    entra.add_certificate(config.client_id, pem)
    token_url = f"{HOST}/{config.tenant_id}/oauth2/v2.0/token"
    assertion = {
        "wrong_aud": lambda: _assertion(key, cert, config.client_id, aud=f"{HOST}/common/oauth2/v2.0/token"),
        "wrong_iss": lambda: _assertion(key, cert, config.client_id, aud=token_url, iss=str(uuid.uuid4())),
        "stale": lambda: _assertion(key, cert, config.client_id, aud=token_url, now=time.time() - 3600),
        "garbage": lambda: "not-a-jwt",
    }[case]()
    form = _secret_form(config, client_secret=None, client_assertion_type=JWT_BEARER, client_assertion=assertion)
    _assert_entra_error(entra.handle(_post(config.tenant_id, form)), 401, "invalid_client", code)


# ------------------------------------------------------------------ directory errors


def test_app_registered_in_another_tenant(entra: Entra, config: EmulatorConfig, clock: Clock) -> None:
    other_tenant, other_app = str(uuid.uuid4()), str(uuid.uuid4())
    entra.add_tenant(other_tenant, "fabrikam.onmicrosoft.com")
    entra.add_app(other_tenant, other_app)
    entra.add_secret(other_app, "other~secret", expires_at=clock.now() + timedelta(days=1))
    form = _secret_form(config, client_id=other_app, client_secret="other~secret")
    body = _assert_entra_error(
        entra.handle(_post(config.tenant_id, form)), 400, "unauthorized_client", 700016,
        f"Application with identifier '{other_app}' was not found in the directory '{config.tenant_id}'.",
    )
    assert "wrong tenant" in body["error_description"]


def test_removed_app_is_not_found(entra: Entra, config: EmulatorConfig) -> None:
    entra.remove_app(config.client_id)
    _assert_entra_error(entra.handle(_post(config.tenant_id, _secret_form(config))), 400, "unauthorized_client", 700016)


def test_unknown_tenant_on_token_endpoint(entra: Entra, config: EmulatorConfig) -> None:
    tenant = str(uuid.uuid4())
    _assert_entra_error(
        entra.handle(_post(tenant, _secret_form(config))), 400, "invalid_request", 90002, f"Tenant '{tenant}' not found."
    )


def test_malformed_tenant_and_common(entra: Entra, config: EmulatorConfig) -> None:
    _assert_entra_error(entra.handle(_post("not_a_tenant", _secret_form(config))), 400, "invalid_request", 900023)
    _assert_entra_error(entra.handle(_post("common", _secret_form(config))), 400, "invalid_request", 50059)


def test_resource_not_in_tenant(entra: Entra, config: EmulatorConfig) -> None:
    form = _secret_form(config, scope="https://other.crm.dynamics.com/.default")
    _assert_entra_error(
        entra.handle(_post(config.tenant_id, form)), 400, "invalid_resource", 500011,
        f"The resource principal named https://other.crm.dynamics.com was not found in the tenant named "
        f"{config.tenant_domain}.",
    )


def test_scope_without_default_suffix(entra: Entra, config: EmulatorConfig) -> None:
    form = _secret_form(config, scope=f"{ENV}/user_impersonation")
    _assert_entra_error(
        entra.handle(_post(config.tenant_id, form)), 400, "invalid_scope", 1002012,
        f"The provided value for scope {ENV}/user_impersonation is not valid. Client credential flows must have",
    )


@pytest.mark.parametrize("scope", [f"{ENV}/.default https://graph.microsoft.com/.default", "dataverse/.default"])
def test_bad_scope(entra: Entra, config: EmulatorConfig, scope: str) -> None:
    _assert_entra_error(
        entra.handle(_post(config.tenant_id, _secret_form(config, scope=scope))), 400, "invalid_scope", 70011,
        "The provided value for the input parameter 'scope' is not valid.",
    )


@pytest.mark.parametrize("missing", ["scope", "grant_type", "client_id"])
def test_missing_parameters(entra: Entra, config: EmulatorConfig, missing: str) -> None:
    form = _secret_form(config, **{missing: None})
    _assert_entra_error(
        entra.handle(_post(config.tenant_id, form)), 400, "invalid_request", 900144,
        f"The request body must contain the following parameter: '{missing}'.",
    )


def test_json_body_is_not_read(entra: Entra, config: EmulatorConfig) -> None:
    req = _post(config.tenant_id, {})
    req.headers.set("Content-Type", "application/json")
    req.body = json.dumps(_secret_form(config)).encode()
    _assert_entra_error(entra.handle(req), 400, "invalid_request", 900144)


def test_unsupported_grant_type(entra: Entra, config: EmulatorConfig) -> None:
    form = _secret_form(config, grant_type="password")
    _assert_entra_error(entra.handle(_post(config.tenant_id, form)), 400, "unsupported_grant_type", 70003)


def test_get_on_token_endpoint(entra: Entra, config: EmulatorConfig) -> None:
    req = Request("GET", f"/{config.tenant_id}/oauth2/v2.0/token", scheme_host=HOST)
    _assert_entra_error(entra.handle(req), 400, "invalid_request", 900561)


def test_client_request_id_becomes_correlation_id(entra: Entra, config: EmulatorConfig) -> None:
    correlation = str(uuid.uuid4())
    resp = entra.handle(_post(config.tenant_id, _secret_form(config, client_secret="x"), {"client-request-id": correlation}))
    body = _assert_entra_error(resp, 401, "invalid_client", 7000215)
    assert body["correlation_id"] == correlation
    assert resp.headers.get("client-request-id") == correlation


# ------------------------------------------------------------------ discovery and keys


@pytest.mark.parametrize("use_domain", [False, True])
def test_openid_configuration(entra: Entra, config: EmulatorConfig, use_domain: bool) -> None:
    segment = config.tenant_domain if use_domain else config.tenant_id
    resp = entra.handle(Request("GET", f"/{segment}/v2.0/.well-known/openid-configuration", scheme_host=HOST))
    assert resp.status == 200
    doc = json.loads(resp.body)
    base = f"{HOST}/{config.tenant_id}"
    assert doc["issuer"] == f"{base}/v2.0"
    assert doc["token_endpoint"] == f"{base}/oauth2/v2.0/token"
    assert doc["authorization_endpoint"] == f"{base}/oauth2/v2.0/authorize"
    assert doc["device_authorization_endpoint"] == f"{base}/oauth2/v2.0/devicecode"
    assert doc["jwks_uri"] == f"{base}/discovery/v2.0/keys"
    assert doc["token_endpoint_auth_methods_supported"] == ["client_secret_post", "private_key_jwt", "client_secret_basic"]


def test_openid_configuration_unknown_tenant(entra: Entra) -> None:
    tenant = str(uuid.uuid4())
    resp = entra.handle(Request("GET", f"/{tenant}/v2.0/.well-known/openid-configuration", scheme_host=HOST))
    _assert_entra_error(resp, 400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")


def test_jwks_verifies_issued_tokens(entra: Entra, config: EmulatorConfig) -> None:
    token = json.loads(entra.handle(_post(config.tenant_id, _secret_form(config))).body)["access_token"]
    resp = entra.handle(Request("GET", f"/{config.tenant_id}/discovery/v2.0/keys", scheme_host=HOST))
    assert resp.status == 200
    (key,) = json.loads(resp.body)["keys"]
    assert {"kty", "use", "kid", "x5t", "n", "e", "x5c"} <= set(key)
    assert key["kty"] == "RSA" and key["use"] == "sig"
    assert key["kid"] == jwt.get_unverified_header(token)["kid"]
    public = jwt.PyJWK(key, algorithm="RS256").key
    assert jwt.decode(token, public, algorithms=["RS256"], audience=ENV)["appid"] == config.client_id
    cert = x509.load_der_x509_certificate(base64.b64decode(key["x5c"][0]))
    assert cert.public_key().public_numbers() == public.public_numbers()


def test_instance_discovery(entra: Entra, config: EmulatorConfig) -> None:
    query = urlencode({"api-version": "1.1", "authorization_endpoint": f"{HOST}/{config.tenant_id}/oauth2/v2.0/authorize"})
    resp = entra.handle(Request("GET", "/common/discovery/instance", raw_query=query, scheme_host=HOST))
    assert resp.status == 200
    body = json.loads(resp.body)
    assert body["tenant_discovery_endpoint"] == f"{HOST}/{config.tenant_id}/v2.0/.well-known/openid-configuration"
    assert body["metadata"][0]["aliases"] == ["127.0.0.1:8443"]


@pytest.mark.parametrize("path", ["/api/data/v9.2/WhoAmI", "/_emulator/health", "/x/oauth2/v2.0/authorize", "/"])
def test_non_entra_paths_are_not_handled(entra: Entra, path: str) -> None:
    assert entra.handle(Request("GET", path, scheme_host=HOST)) is None


# ------------------------------------------------------------------ access-token verification


def _token(entra: Entra, config: EmulatorConfig, scope: str = f"{ENV}/.default") -> str:
    resp = entra.handle(_post(config.tenant_id, _secret_form(config, scope=scope)))
    assert resp.status == 200, resp.body
    return json.loads(resp.body)["access_token"]


def test_verify_accepts_own_token_for_any_alias(entra: Entra, config: EmulatorConfig) -> None:
    token = _token(entra, config)
    claims = entra.verify_access_token(token, audience_candidates=[ENV + "/", "https://LOCALHOST:8443"])
    assert claims["appid"] == config.client_id


def test_verify_rejections(entra: Entra, config: EmulatorConfig, clock: Clock) -> None:
    token = _token(entra, config)

    def reason(tok: str, audiences: list[str] | None = None) -> str:
        with pytest.raises(TokenRejected) as info:
            entra.verify_access_token(tok, audience_candidates=audiences or [ENV])
        return info.value.reason

    assert reason("abc.def") == "malformed"
    assert reason(token, ["https://other.crm.dynamics.com"]) == "wrong_audience"
    other = Entra.with_defaults(config, clock, ENV)
    assert reason(_token(other, config)) == "bad_signature"
    forged, _ = entra.tokens.issue(
        tenant_id=str(uuid.uuid4()), resource=ENV, client_id=config.client_id,
        service_principal_id=str(uuid.uuid4()), appidacr="1",
    )
    assert reason(forged) == "unknown_tenant"
    skew = config.access_token_leeway_seconds  # real validators tolerate this much clock skew
    clock.advance(-skew - 60)
    assert reason(token) == "not_yet_valid"
    clock.advance(skew + 60 + config.token_lifetime_seconds + skew + 1)
    assert reason(token) == "expired"


def test_registry_rejects_unknown_names(entra: Entra, config: EmulatorConfig, clock: Clock) -> None:
    with pytest.raises(RegistryError):
        entra.add_app(str(uuid.uuid4()), str(uuid.uuid4()))
    with pytest.raises(RegistryError):
        entra.add_secret(str(uuid.uuid4()), "x", expires_at=clock.now())
    with pytest.raises(RegistryError):
        entra.add_certificate(config.client_id, b"not a certificate")
