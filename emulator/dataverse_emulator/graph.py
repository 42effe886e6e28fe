"""Microsoft Graph, the part an app needs to read its own credentials' expiry.

``GET /v1.0/applications(appId='{appId}')`` and ``GET /v1.0/applications/{id}`` (also under
``/beta/``), with ``$select``, answer the app registration as Graph does: ``id``, ``appId``,
``displayName``, ``passwordCredentials`` (``keyId``, ``displayName``, ``hint`` = first 3
characters, ``startDateTime``, ``endDateTime``, ``secretText`` null, ``customKeyIdentifier`` null)
and ``keyCredentials`` (certificates: ``customKeyIdentifier`` = SHA-1 thumbprint as base64 binary,
``type`` AsymmetricX509Cert, ``usage`` Verify, dates from the certificate). The secrets and
certificates are the ones the Entra token endpoint enforces (``Entra``), so rotating or expiring
one there shows here.

Access: a bearer token from this emulator for Microsoft Graph (audience ``https://graph.microsoft.com``,
its GUID, or a national cloud's Graph host), and an application permission granted to the calling
app (``grant``/``revoke``, i.e. admin consent): Application.Read.All, Application.ReadWrite.All,
Directory.Read.All or Directory.ReadWrite.All read any app of the tenant; Application.ReadWrite.OwnedBy
only the caller's own registration (an assumption: Graph's owner check is not modelled further).
Refusals use Graph's error body ``{"error": {"code", "message", "innerError": {...}}}``: 401
InvalidAuthenticationToken, 403 Authorization_RequestDenied, 404 Request_ResourceNotFound, 400
BadRequest for an unknown property, segment or query option. Anything else is refused, not ignored.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization

from .config import stable_uuid
from .http import Request, Response, path_segments
from .tokens import TokenRejected

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
# The Graph resource of each cloud (tokens name one of them as audience).
GRAPH_RESOURCES = ("https://graph.microsoft.com", "https://graph.microsoft.us", "https://dod-graph.microsoft.us",
                   "https://microsoftgraph.chinacloudapi.cn")
READ_ANY = frozenset({"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All",
                      "Directory.ReadWrite.All"})
READ_OWN = "Application.ReadWrite.OwnedBy"
PROPERTIES = ("id", "appId", "displayName", "passwordCredentials", "keyCredentials")
_BY_APP_ID = re.compile(r"^applications\(appId='([^']*)'\)$")
_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"


class Graph:
    """The Graph endpoint over an ``Entra`` registry; the default app gets Application.Read.All."""

    def __init__(self, entra: Any, *, seed: int = 0) -> None:
        self.entra = entra
        self.seed = seed
        self._grants: dict[str, set[str]] = {}
        self._names: dict[str, str] = {}
        self._first_seen: dict[str, datetime] = {}
        self._lock = threading.Lock()
        for resource in GRAPH_RESOURCES:
            for tenant in list(entra._tenants):
                entra.add_resource(tenant, resource)

    @classmethod
    def with_defaults(cls, entra: Any, config: Any) -> Graph:
        graph = cls(entra, seed=config.seed)
        graph.grant(config.client_id, "Application.Read.All")
        graph.name_secret(config.client_secret_id, "HR Dataverse sync")
        return graph

    # --- registry --------------------------------------------------------------------------

    def grant(self, client_id: str, permission: str) -> None:
        """Admin consent of an application permission on Microsoft Graph to ``client_id``."""
        with self._lock:
            self._grants.setdefault(client_id.lower(), set()).add(permission)

    def revoke(self, client_id: str, permission: str | None = None) -> None:
        """Withdraw one permission (all when None)."""
        with self._lock:
            if permission is None:
                self._grants.pop(client_id.lower(), None)
            else:
                self._grants.get(client_id.lower(), set()).discard(permission)

    def name_secret(self, key_id: str, display_name: str) -> None:
        """The description typed when the secret was added (Graph's ``displayName``)."""
        with self._lock:
            self._names[key_id] = display_name

    # --- HTTP ------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        segs = path_segments(req.path)
        version, rest = segs[0], segs[1:]
        if req.method != "GET":
            return _error(req, 405, "Request_BadRequest",
                          f"The emulator's Microsoft Graph serves only GET on applications, not {req.method}.")
        claims = self._claims(req)
        if isinstance(claims, Response):
            return claims
        select = self._select(req)
        if isinstance(select, Response):
            return select
        app = self._target(req, rest, claims)
        if isinstance(app, Response):
            return app
        granted = self._grants.get(str(claims.get("appid", "")).lower(), set())
        own = str(claims.get("appid", "")).lower() == app.client_id
        if not (granted & READ_ANY or (own and READ_OWN in granted)):
            return _error(req, 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        body = {"@odata.context": f"{req.scheme_host}/{version}/$metadata#applications"
                                  + (f"({','.join(select)})" if select != list(PROPERTIES) else "") + "/$entity"}
        full = self._application(app)
        body.update({k: full[k] for k in select})
        return Response.json(200, body, _headers(req), content_type=_JSON)

    def _claims(self, req: Request) -> dict[str, Any] | Response:
        auth = req.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not token:
            return _error(req, 401, "InvalidAuthenticationToken", "Access token is empty.")
        try:
            return self.entra.verify_access_token(token, audience_candidates=[*GRAPH_RESOURCES, GRAPH_APP_ID])
        except TokenRejected as rejected:
            message = {"expired": "Lifetime validation failed, the token is expired.",
                       "wrong_audience": "Access token validation failure. Invalid audience."}.get(
                rejected.reason, "Access token validation failure.")
            return _error(req, 401, "InvalidAuthenticationToken", message)

    def _select(self, req: Request) -> list[str] | Response:
        selected = list(PROPERTIES)
        for name, value in req.query.items():
            if name != "$select":
                return _error(req, 400, "BadRequest", f"The emulator does not implement the query option '{name}' "
                                                      "on applications (only $select).")
            selected = [p.strip() for p in value.split(",") if p.strip()]
            unknown = [p for p in selected if p not in PROPERTIES]
            if unknown:
                return _error(req, 400, "BadRequest", f"Could not find a property named '{unknown[0]}' on type "
                                                      "'microsoft.graph.application'.")
        return selected

    def _target(self, req: Request, rest: list[str], claims: dict[str, Any]) -> Any:
        tenant = str(claims.get("tid", "")).lower()
        match = _BY_APP_ID.match(rest[0]) if len(rest) == 1 else None
        if match:
            wanted, by = match.group(1).lower(), "appId"
        elif len(rest) == 2 and rest[0] == "applications":
            wanted, by = rest[1].lower(), "id"
        else:
            segment = rest[-1] if rest else ""
            return _error(req, 400, "BadRequest", f"Resource not found for the segment '{segment}'.")
        with self.entra._lock:
            apps = [a for a in self.entra._apps.values() if a.tenant_id == tenant]
        for app in apps:
            if (app.client_id if by == "appId" else self._object_id(app.client_id)) == wanted:
                return app
        return _error(req, 404, "Request_ResourceNotFound", f"Resource '{match.group(1) if match else rest[1]}' does "
                                                             "not exist or one of its queried reference-property "
                                                             "objects are not present.")

    # --- the application object ------------------------------------------------------------

    def _object_id(self, client_id: str) -> str:
        return stable_uuid(self.seed, f"application:{client_id.lower()}")

    def _application(self, app: Any) -> dict[str, Any]:
        with self.entra._lock:
            secrets = list(app.secrets.values())
            certificates = list(app.certificates)
        now = self.entra.clock.now()
        passwords = [{
            "customKeyIdentifier": None,
            "displayName": self._names.get(s.secret_id),
            "endDateTime": _iso(s.expires_at),
            "hint": s.value[:3],
            "keyId": s.secret_id,
            "secretText": None,
            "startDateTime": _iso(self._seen(s.secret_id, now)),
        } for s in secrets]
        keys = []
        for c in certificates:
            der = c.certificate.public_bytes(serialization.Encoding.DER)
            sha1 = hashlib.sha1(der).digest()
            cn = c.certificate.subject.rfc4514_string()
            keys.append({
                "customKeyIdentifier": base64.b64encode(sha1).decode(),
                "displayName": f"CN={cn.split('CN=', 1)[1].split(',')[0]}" if "CN=" in cn else cn,
                "endDateTime": _iso(c.certificate.not_valid_after_utc),
                "key": None,
                "keyId": str(uuid.uuid5(uuid.NAMESPACE_OID, sha1.hex())),
                "startDateTime": _iso(c.certificate.not_valid_before_utc),
                "type": "AsymmetricX509Cert",
                "usage": "Verify",
            })
        return {"id": self._object_id(app.client_id), "appId": app.client_id, "displayName": app.display_name,
                "passwordCredentials": passwords, "keyCredentials": keys}

    def _seen(self, key_id: str, now: datetime) -> datetime:
        with self._lock:
            return self._first_seen.setdefault(key_id, now)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _headers(req: Request) -> dict[str, str]:
    request_id = str(uuid.uuid4())
    return {"request-id": request_id, "client-request-id": req.headers.get("client-request-id") or request_id,
            "Cache-Control": "no-cache"}


def _error(req: Request, status: int, code: str, message: str) -> Response:
    headers = _headers(req)
    inner = {"date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "request-id": headers["request-id"],
             "client-request-id": headers["client-request-id"]}
    return Response.json(status, {"error": {"code": code, "message": message, "innerError": inner}}, headers,
                         content_type=_JSON)
