"""Entra ID v1.0 as older Dataverse clients use it: the token endpoint with ``resource=``, v1 OpenID
metadata and ``/discovery/keys``; tokens carry the v1 issuer Dataverse receives. Token-endpoint faults
(429, 5xx, slow) answer with Entra's error shape."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
import requests

JSON = "application/json; charset=utf-8"


@pytest.fixture
def http(emulator: Any) -> requests.Session:
    session = requests.Session()
    session.verify = emulator.info["ca_bundle"]
    session.trust_env = False
    return session


def _v1_token(http, info, **overrides) -> requests.Response:
    form = {"grant_type": "client_credentials", "client_id": info["client_id"],
            "client_secret": info["client_secret"], "resource": info["dataverse_url"], **overrides}
    return http.post(f"{info['authority']}/oauth2/token", data=form)


def test_v1_token_with_resource_works_on_dataverse(emulator, http):
    info = emulator.info
    resp = _v1_token(http, info)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == JSON
    body = resp.json()
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "expires_on", "not_before", "resource",
                         "access_token"}
    assert body["token_type"] == "Bearer" and body["resource"] == info["dataverse_url"]
    assert all(isinstance(body[k], str) and body[k].isdigit() for k in ("expires_in", "expires_on", "not_before"))
    assert int(body["expires_on"]) - int(body["not_before"]) == int(body["expires_in"]) == 3599
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["iss"] == f"https://sts.windows.net/{info['tenant_id']}/" and claims["ver"] == "1.0"
    who = http.get(info["api_url"] + "WhoAmI", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert who.status_code == 200 and who.json()["UserId"]


def test_v1_metadata_and_keys_verify_the_token(emulator, http):
    info = emulator.info
    doc = http.get(f"{info['authority']}/.well-known/openid-configuration").json()
    assert doc["issuer"] == f"https://sts.windows.net/{info['tenant_id']}/"
    assert doc["token_endpoint"] == f"{info['authority']}/oauth2/token"
    assert doc["authorization_endpoint"] == f"{info['authority']}/oauth2/authorize"
    assert doc["jwks_uri"] == f"{info['dataverse_url']}/common/discovery/keys"
    token = _v1_token(http, info).json()["access_token"]
    for keys_url in (doc["jwks_uri"], f"{info['authority']}/discovery/keys"):
        keys = http.get(keys_url).json()["keys"]
        key = jwt.PyJWK(next(k for k in keys if k["kid"] == jwt.get_unverified_header(token)["kid"]))
        claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=info["dataverse_url"],
                            issuer=doc["issuer"])
        assert claims["appid"] == info["client_id"]


def test_v1_errors_have_entra_shape(emulator, http):
    info = emulator.info
    wrong = _v1_token(http, info, client_secret="nope")
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.json()["error_codes"] == [7000215]
    unknown = _v1_token(http, info, resource="https://other.crm.dynamics.com")
    assert unknown.status_code == 400 and unknown.json()["error_codes"] == [500011]
    assert http.get(f"{info['dataverse_url']}/nope-tenant/.well-known/openid-configuration").json()["error"] == "invalid_tenant"


@pytest.mark.parametrize("status,error", [(429, "temporarily_unavailable"), (500, "server_error"),
                                          (503, "temporarily_unavailable")])
def test_token_endpoint_faults(emulator, http, status, error):
    info = emulator.info
    emulator.app.token_faults.queue(status, count=1, retry_after=3)
    failed = _v1_token(http, info)
    assert failed.status_code == status and failed.headers["Retry-After"] == "3"
    body = failed.json()
    assert body["error"] == error and body["error_description"].startswith(f"AADSTS{body['error_codes'][0]}: ")
    assert {"timestamp", "trace_id", "correlation_id"} <= set(body)
    assert _v1_token(http, info).status_code == 200  # one fault, then service again
    assert emulator.app.request_log.entries() == []  # token faults never touch the Dataverse log


def test_slow_token_endpoint_and_admin_queue(emulator, http):
    info = emulator.info
    admin = http.post(f"{info['dataverse_url']}/_emulator/token-faults",
                      json={"kind": "slow", "delay": 0.3, "path_contains": "/oauth2/v2.0/token"})
    assert admin.status_code == 204
    assert _v1_token(http, info).elapsed.total_seconds() < 0.3  # v1 path does not match path_contains
    started = time.monotonic()
    form = {"grant_type": "client_credentials", "client_id": info["client_id"],
            "client_secret": info["client_secret"], "scope": info["dataverse_url"] + "/.default"}
    assert http.post(f"{info['authority']}/oauth2/v2.0/token", data=form).status_code == 200
    assert time.monotonic() - started >= 0.3
