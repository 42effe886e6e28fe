"""Entra ID v1.0 endpoints older Dataverse clients still use (ADAL, the .NET ServiceClient's
``resource=`` form, many connectors):

- ``POST /{tenant}/oauth2/token`` with ``resource=<environment URL>`` instead of ``scope``. The grant is
  the v2 grant with ``scope=<resource>/.default`` (same checks, same AADSTS errors); the success body
  is v1's: every number as a string, plus ``expires_on``, ``not_before`` and ``resource``.
- ``GET /{tenant}/.well-known/openid-configuration``: v1 metadata, issuer ``https://sts.windows.net/{tid}/``
  (the issuer of the access tokens Dataverse receives, ``token_issuer_template``).
- ``GET /{tenant}/discovery/keys`` and ``/common/discovery/keys``: the signing keys.

Token-endpoint faults (429, 5xx, slow) for both versions come from ``app.token_faults``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from .http import Request, Response, path_segments

if TYPE_CHECKING:
    from .entra import Entra
    from .faults import Fault

_JSON = "application/json; charset=utf-8"
_MULTI_TENANT = ("common", "organizations", "consumers")
# Entra's throttling/outage errors. UNCONFIRMED AADSTS codes for injected faults; clients must key on the
# status and Retry-After, which is what these faults exercise.
_FAULT_ERRORS = {
    429: ("temporarily_unavailable", 50196, "The server temporarily throttled the request. Retry after the "
          "period named by the Retry-After header."),
    500: ("server_error", 50000, "There was an error issuing a token or an issue with our sign-in service."),
    503: ("temporarily_unavailable", 50053, "The service is temporarily unavailable. Please try again later."),
}


def is_token_endpoint(path: str) -> bool:
    segs = path_segments(path)
    return len(segs) in (3, 4) and segs[1:] in (["oauth2", "token"], ["oauth2", "v2.0", "token"])


def handle_v1(entra: Entra, req: Request) -> Response | None:
    """Serve a v1 path, or None when ``req`` is not one."""
    segs = path_segments(req.path)
    if len(segs) == 3 and segs[1:] == ["oauth2", "token"]:
        return _token(entra, req, segs[0])
    if len(segs) == 3 and segs[1:] == [".well-known", "openid-configuration"] and req.method == "GET":
        return _openid_configuration(entra, req, segs[0])
    if len(segs) == 3 and segs[1:] == ["discovery", "keys"] and req.method == "GET":
        tenant = entra.tenant(segs[0])
        if tenant is None and segs[0].lower() not in _MULTI_TENANT:
            return entra._invalid_tenant(req, segs[0])
        issuer = entra.tokens.issuer(tenant.tenant_id if tenant else "{tenantid}")
        return Response.json(200, {"keys": [entra.tokens.key.jwk(issuer)]}, content_type=_JSON)
    return None


def _token(entra: Entra, req: Request, tenant_segment: str) -> Response:
    from .entra import _form  # the same form reading as v2

    form = _form(req)
    resource = form.pop("resource", None)
    if "scope" not in form and resource:
        form["scope"] = resource.rstrip("/") + "/.default"
    v2 = replace(req, body=urlencode(form).encode("utf-8"))
    resp = entra._token(v2, tenant_segment)
    if resp.status != 200:
        return resp
    payload = resp.json_payload()
    issued = int(entra.clock.timestamp())
    expires_in = int(payload["expires_in"])
    body = {
        "token_type": "Bearer", "expires_in": str(expires_in), "ext_expires_in": str(payload["ext_expires_in"]),
        "expires_on": str(issued + expires_in), "not_before": str(issued), "resource": resource or "",
        "access_token": payload["access_token"],
    }
    return Response.json(200, body, [(k, v) for k, v in resp.headers.items() if k.lower() != "content-type"],
                         content_type=_JSON)


def _openid_configuration(entra: Entra, req: Request, tenant_segment: str) -> Response:
    found = entra.discovery_tenant(req, tenant_segment)
    if isinstance(found, Response):
        return found
    tenant_id, path_tenant = found
    base = f"{req.scheme_host}/{path_tenant}"
    doc = {
        "token_endpoint": f"{base}/oauth2/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{req.scheme_host}/common/discovery/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid"],
        "issuer": entra.tokens.issuer(tenant_id),
        "microsoft_multi_refresh_token": True,
        "authorization_endpoint": f"{base}/oauth2/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/logout",
        "check_session_iframe": f"{base}/oauth2/checksession",
        "userinfo_endpoint": f"{base}/openid/userinfo",
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }
    return Response.json(200, doc, content_type=_JSON)


def fault_response(entra: Entra, req: Request, fault: Fault) -> Response | None:
    """The token endpoint's answer for an injected fault (None: a slow fault, served after its delay)."""
    from .entra import _Refusal

    if fault.kind == "slow":
        time.sleep(fault.delay)
        return None
    error, code, text = _FAULT_ERRORS.get(fault.status, ("server_error", 50000, "Injected fault."))
    resp = entra._error_response(req, _Refusal(fault.status, error, code, text))
    if fault.retry_after is not None:
        resp.headers.set("Retry-After", str(fault.retry_after))
    return resp

