"""Microsoft Entra ID v2.0 stand-in: client-credentials token endpoint, discovery, JWKS, registry.

What Entra refuses, this refuses, with the same status, ``error``, ``AADSTSnnnn`` code and body
shape (see ../shared/reference/dataverse-web-api.md §1). Choices where the real behaviour is
UNCONFIRMED are marked in comments.

Order of checks on the token endpoint (Entra's own order is UNCONFIRMED): method, tenant,
grant type, client id / app in tenant, client credential, scope / resource. A request carrying both
``client_assertion`` and ``client_secret`` is judged on the assertion.
"""

from __future__ import annotations

import base64
import hmac
import re
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from dataverse_emulator.clock import Clock
from dataverse_emulator.config import CLOUDS, EmulatorConfig, stable_uuid
from dataverse_emulator.http import Request, Response, path_segments
from dataverse_emulator.tokens import (
    TokenRejected,
    TokenService,
    cert_thumbprints,
    normalize_resource,
    resource_aliases,
)

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DNS = re.compile(r"^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$")
# Tenant aliases that discovery accepts but the client-credentials grant cannot use.
_MULTI_TENANT = ("common", "organizations", "consumers")
_JSON = "application/json; charset=utf-8"
_CERT_DOCS = "https://learn.microsoft.com/entra/identity-platform/certificate-credentials"

__all__ = ["Entra", "RegistryError", "TokenRejected"]


class RegistryError(ValueError):
    """A registry call names something that does not exist (the admin endpoint maps it to 400)."""


@dataclass
class Secret:
    secret_id: str
    value: str
    expires_at: datetime


@dataclass
class Certificate:
    certificate: x509.Certificate
    x5t: str  # base64url SHA-1 thumbprint
    x5t_s256: str  # base64url SHA-256 thumbprint


@dataclass
class App:
    client_id: str
    tenant_id: str
    display_name: str
    service_principal_id: str
    roles: list[str] = field(default_factory=list)
    secrets: dict[str, Secret] = field(default_factory=dict)
    certificates: list[Certificate] = field(default_factory=list)


@dataclass
class Tenant:
    tenant_id: str
    domain: str | None
    resources: set[str] = field(default_factory=set)  # normalized resource identifiers

    @property
    def name(self) -> str:
        return self.domain or self.tenant_id


@dataclass
class _Refusal:
    status: int
    error: str
    code: int
    text: str


class Entra:
    """Tenants, app registrations and their credentials, plus the HTTP endpoints MSAL talks to.

    ``assertion_leeway_seconds``: clock skew tolerated on client-assertion ``nbf``/``exp``
    (MSAL stamps assertions with real time while the emulator clock may have been advanced).
    ``access_token_leeway_seconds``: skew tolerated when Dataverse verifies access tokens.
    """

    def __init__(
        self,
        config: EmulatorConfig,
        clock: Clock,
        *,
        assertion_leeway_seconds: float = 300.0,
        access_token_leeway_seconds: float = 0.0,
    ) -> None:
        self.config = config
        self.clock = clock
        self.assertion_leeway_seconds = assertion_leeway_seconds
        self.tokens = TokenService(
            clock,
            lifetime_seconds=config.token_lifetime_seconds,
            issuer_template=config.token_issuer_template,
            leeway_seconds=access_token_leeway_seconds,
        )
        self._tenants: dict[str, Tenant] = {}
        self._apps: dict[str, App] = {}
        self._lock = threading.RLock()

    @classmethod
    def with_defaults(cls, config: EmulatorConfig, clock: Clock, environment_url: str) -> Entra:
        entra = cls(config, clock, access_token_leeway_seconds=config.access_token_leeway_seconds)
        entra.add_tenant(config.tenant_id, config.tenant_domain)
        entra.add_app(config.tenant_id, config.client_id, display_name="HR Dataverse Integration")
        entra.add_secret(
            config.client_id,
            config.client_secret,
            secret_id=config.client_secret_id,
            expires_at=clock.now() + timedelta(days=config.secret_expires_in_days),
        )
        entra.add_resource(config.tenant_id, environment_url)
        return entra

    # ----------------------------------------------------------------- registry

    def add_tenant(self, tenant_id: str, domain: str | None = None) -> Tenant:
        with self._lock:
            tenant = Tenant(tenant_id=tenant_id.lower(), domain=domain.lower() if domain else None)
            self._tenants[tenant.tenant_id] = tenant
            return tenant

    def add_app(
        self, tenant_id: str, client_id: str, display_name: str = "Emulated app", *, roles: Sequence[str] = ()
    ) -> App:
        """Register an app (and its service principal) in ``tenant_id``; ``roles`` go into tokens."""
        with self._lock:
            tenant = self._tenant_or_raise(tenant_id)
            app = App(
                client_id=client_id.lower(),
                tenant_id=tenant.tenant_id,
                display_name=display_name,
                service_principal_id=stable_uuid(self.config.seed, f"service-principal:{client_id.lower()}"),
                roles=list(roles),
            )
            self._apps[app.client_id] = app
            return app

    def remove_app(self, client_id: str) -> None:
        with self._lock:
            self._app_or_raise(client_id)
            del self._apps[client_id.lower()]

    def add_secret(self, client_id: str, value: str, *, secret_id: str | None = None, expires_at: datetime) -> Secret:
        with self._lock:
            app = self._app_or_raise(client_id)
            secret = Secret(secret_id=secret_id or str(uuid.uuid4()), value=value, expires_at=expires_at)
            app.secrets[secret.secret_id] = secret
            return secret

    def expire_secret(self, client_id: str, secret_id: str) -> None:
        """Make a secret's expiry lie in the past (the next token request gets AADSTS7000222)."""
        with self._lock:
            app = self._app_or_raise(client_id)
            if secret_id not in app.secrets:
                raise RegistryError(f"app {client_id} has no secret with id {secret_id}")
            app.secrets[secret_id].expires_at = self.clock.now() - timedelta(seconds=1)

    def add_certificate(self, client_id: str, certificate_pem: bytes) -> Certificate:
        """Register a public certificate; assertions signed by its private key are accepted."""
        try:
            cert = x509.load_pem_x509_certificate(certificate_pem)
        except ValueError as exc:
            raise RegistryError(f"not a PEM X.509 certificate: {exc}") from exc
        if not isinstance(cert.public_key(), rsa.RSAPublicKey):
            raise RegistryError("only RSA certificates are supported (Entra signs assertions with RS256/PS256)")
        x5t, x5t_s256 = cert_thumbprints(cert)
        with self._lock:
            app = self._app_or_raise(client_id)
            credential = Certificate(certificate=cert, x5t=x5t, x5t_s256=x5t_s256)
            app.certificates.append(credential)
            return credential

    def add_resource(self, tenant_id: str, resource_url: str) -> None:
        """Make ``resource_url`` (and the other host forms it is known by) requestable in the tenant."""
        with self._lock:
            self._tenant_or_raise(tenant_id).resources.update(resource_aliases(resource_url))

    def tenant(self, tenant: str) -> Tenant | None:
        """Look a tenant up by GUID or domain (case-insensitive)."""
        key = tenant.lower()
        with self._lock:
            if key in self._tenants:
                return self._tenants[key]
            return next((t for t in self._tenants.values() if t.domain == key), None)

    def app(self, client_id: str) -> App | None:
        with self._lock:
            return self._apps.get(client_id.lower())

    def _tenant_or_raise(self, tenant_id: str) -> Tenant:
        tenant = self.tenant(tenant_id)
        if tenant is None:
            raise RegistryError(f"no tenant {tenant_id}")
        return tenant

    def _app_or_raise(self, client_id: str) -> App:
        app = self.app(client_id)
        if app is None:
            raise RegistryError(f"no app registration with client id {client_id}")
        return app

    # ----------------------------------------------------------------- tokens for Dataverse

    def verify_access_token(self, token: str, *, audience_candidates: list[str]) -> dict[str, Any]:
        """Claims of a valid token for one of ``audience_candidates``, else ``TokenRejected``."""
        return self.tokens.verify(
            token, audience_candidates=audience_candidates, tenant_known=lambda tid: self.tenant(tid) is not None
        )

    # ----------------------------------------------------------------- HTTP

    def handle(self, req: Request) -> Response | None:
        """Serve an Entra path, or return None when ``req`` is not for Entra."""
        segs = path_segments(req.path)
        if segs == ["common", "discovery", "instance"] and req.method == "GET":
            return self._instance_discovery(req)
        if len(segs) == 3:  # the v1.0 endpoints (token with resource=, metadata, keys)
            from .entra_v1 import handle_v1

            return handle_v1(self, req)
        if len(segs) != 4:
            return None
        tenant_segment, rest = segs[0], segs[1:]
        if rest == ["oauth2", "v2.0", "token"]:
            return self._token(req, tenant_segment)
        if rest == ["v2.0", ".well-known", "openid-configuration"] and req.method == "GET":
            return self._openid_configuration(req, tenant_segment)
        if rest == ["discovery", "v2.0", "keys"] and req.method == "GET":
            return self._keys(req, tenant_segment)
        return None

    def _instance_discovery(self, req: Request) -> Response:
        host = urlsplit(req.scheme_host).netloc
        tenant = "common"
        authorize = req.query.get("authorization_endpoint")
        if authorize:
            parts = path_segments(urlsplit(authorize).path)
            tenant = parts[0] if parts else tenant
        return Response.json(
            200,
            {
                "tenant_discovery_endpoint": f"{req.scheme_host}/{tenant}/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
            },
            content_type=_JSON,
        )

    def discovery_tenant(self, req: Request, tenant_segment: str) -> tuple[str, str] | Response:
        """(issuer tenant id, path tenant) of an OpenID discovery request (v1 and v2), or the error
        response for an unknown tenant. Multi-tenant segments keep Entra's ``{tenantid}`` template."""
        if tenant_segment.lower() in _MULTI_TENANT:
            return "{tenantid}", tenant_segment.lower()
        tenant = self.tenant(tenant_segment)
        if tenant is None:
            return self._invalid_tenant(req, tenant_segment)
        return tenant.tenant_id, tenant.tenant_id

    def _openid_configuration(self, req: Request, tenant_segment: str) -> Response:
        found = self.discovery_tenant(req, tenant_segment)
        if isinstance(found, Response):
            return found
        tenant_id, path_tenant = found
        base = f"{req.scheme_host}/{path_tenant}"
        cloud = CLOUDS[self.config.cloud]
        doc = {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{req.scheme_host}/{tenant_id}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": [
                "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
                "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username",
                "name", "tid", "ver", "at_hash", "c_hash", "email",
            ],
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": "EU",
            "cloud_instance_name": cloud.cloud_instance_name,
            "cloud_graph_host_name": cloud.cloud_graph_host_name,
            "msgraph_host": cloud.msgraph_host,
            "rbac_url": "https://pas.windows.net",
        }
        return Response.json(200, doc, content_type=_JSON)

    def _keys(self, req: Request, tenant_segment: str) -> Response:
        tenant = self.tenant(tenant_segment)
        if tenant is None and tenant_segment.lower() not in _MULTI_TENANT:
            return self._invalid_tenant(req, tenant_segment)
        issuer = f"{req.scheme_host}/{tenant.tenant_id if tenant else '{tenantid}'}/v2.0"
        return Response.json(200, {"keys": [self.tokens.key.jwk(issuer)]}, content_type=_JSON)

    def _invalid_tenant(self, req: Request, tenant_segment: str) -> Response:
        # Discovery answers an unknown tenant with error "invalid_tenant" (token endpoint: invalid_request).
        return self._error_response(
            req,
            _Refusal(
                400,
                "invalid_tenant",
                90002,
                f"Tenant '{tenant_segment}' not found. Check to make sure you have the correct tenant ID "
                "and are signing into the correct cloud. Check with your subscription administrator, "
                "this may happen if there are no active subscriptions for the tenant.",
            ),
        )

    # ----------------------------------------------------------------- token endpoint

    def _token(self, req: Request, tenant_segment: str) -> Response:
        with self._lock:
            outcome = self._grant(req, tenant_segment)
        if isinstance(outcome, _Refusal):
            return self._error_response(req, outcome)
        return Response.json(200, outcome, self._common_headers(req), content_type=_JSON)

    def _grant(self, req: Request, tenant_segment: str) -> dict[str, Any] | _Refusal:
        if req.method != "POST":
            return _Refusal(
                400, "invalid_request", 900561,
                f"The endpoint only accepts POST, OPTIONS requests. Received a {req.method} request.",
            )
        tenant_or_refusal = self._token_tenant(tenant_segment)
        if isinstance(tenant_or_refusal, _Refusal):
            return tenant_or_refusal
        tenant = tenant_or_refusal
        form = _form(req)
        basic_id, basic_secret = _basic_credentials(req)

        grant_type = form.get("grant_type")
        if not grant_type:
            return _missing("grant_type")
        if grant_type != "client_credentials":
            # Only the client-credentials grant is emulated (the pipeline's only flow).
            return _Refusal(
                400, "unsupported_grant_type", 70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
        client_id = form.get("client_id") or basic_id
        if not client_id:
            return _missing("client_id")
        app = self.app(client_id)
        if app is None or app.tenant_id != tenant.tenant_id:
            return _Refusal(
                400, "unauthorized_client", 700016,
                f"Application with identifier '{client_id}' was not found in the directory '{tenant_segment}'. "
                "This can happen if the application has not been installed by the administrator of the tenant "
                "or consented to by any user in the tenant. You may have sent your authentication request to "
                "the wrong tenant.",
            )

        if form.get("client_assertion"):
            refusal = self._check_assertion(req, tenant, app, form)
            appidacr = "2"
        else:
            refusal = self._check_secret(app, form.get("client_secret") or basic_secret)
            appidacr = "1"
        if refusal:
            return refusal

        resource_or_refusal = self._resource(tenant, form.get("scope"))
        if isinstance(resource_or_refusal, _Refusal):
            return resource_or_refusal
        token, expires_in = self.tokens.issue(
            tenant_id=tenant.tenant_id,
            resource=resource_or_refusal,
            client_id=app.client_id,
            service_principal_id=app.service_principal_id,
            appidacr=appidacr,
            roles=app.roles,
        )
        return {"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in, "access_token": token}

    def _token_tenant(self, tenant_segment: str) -> Tenant | _Refusal:
        if tenant_segment.lower() in _MULTI_TENANT:
            return _Refusal(
                400, "invalid_request", 50059,
                "No tenant-identifying information found in either the request or implied by any provided "
                "credentials.",
            )
        if not (_GUID.match(tenant_segment) or _DNS.match(tenant_segment)):
            return _Refusal(
                400, "invalid_request", 900023,
                f"Specified tenant identifier '{tenant_segment}' is neither a valid DNS name, nor a valid "
                "external domain.",
            )
        tenant = self.tenant(tenant_segment)
        if tenant is None:
            return _Refusal(
                400, "invalid_request", 90002,
                f"Tenant '{tenant_segment}' not found. Check to make sure you have the correct tenant ID and "
                "are signing into the correct cloud. Check with your subscription administrator, this may "
                "happen if there are no active subscriptions for the tenant.",
            )
        return tenant

    def _check_secret(self, app: App, presented: str | None) -> _Refusal | None:
        if not presented:
            # UNCONFIRMED status/error for 7000218; 400 invalid_request as for other missing parameters.
            return _Refusal(
                400, "invalid_request", 7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )
        now = self.clock.now()
        for secret in app.secrets.values():
            if hmac.compare_digest(secret.value.encode(), presented.encode()):
                if secret.expires_at <= now:
                    return _Refusal(
                        401, "invalid_client", 7000222,
                        f"The provided client secret keys for app '{app.client_id}' are expired. Visit the Azure "
                        "portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider "
                        "using certificate credentials for added security: https://aka.ms/certCreds.",
                    )
                return None
        return _Refusal(
            401, "invalid_client", 7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
            f"value, not the client secret ID, for a secret added to app '{app.client_id}'.",
        )

    def _check_assertion(self, req: Request, tenant: Tenant, app: App, form: dict[str, str]) -> _Refusal | None:
        """Validate a JWT-bearer client assertion as MSAL builds it.

        UNCONFIRMED: the status of assertion failures; 401 ``invalid_client`` is chosen for all (the
        Azure SDK reports them as client-authentication errors).
        """
        assertion_type = form.get("client_assertion_type")
        if not assertion_type:
            return _missing("client_assertion_type")
        if assertion_type != JWT_BEARER:
            return _Refusal(400, "invalid_request", 90100, "The parameter 'client_assertion_type' is empty or not valid.")
        assertion = form["client_assertion"]
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.DecodeError:
            return _malformed_assertion()
        credential = _matching_certificate(app, header)
        presented = _presented_thumbprint(header)
        if credential is None:
            return _bad_signature(
                "The key was not found.", presented,
                f"Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys "
                f"for app Id '{app.client_id}'.",
            )
        cert = credential.certificate
        found = (
            f"Found key 'Start={_dotnet_time(cert.not_valid_before_utc)}, "
            f"End={_dotnet_time(cert.not_valid_after_utc)}'"
        )
        if cert.not_valid_after_utc <= self.clock.now():
            return _bad_signature("The key used is expired.", presented, found)
        alg = header.get("alg")
        if alg not in ("RS256", "PS256"):
            return _bad_signature(f"The signing algorithm '{alg}' is not supported.", presented, found)
        try:
            claims = jwt.decode(
                assertion,
                cert.public_key(),
                algorithms=[alg],
                options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except jwt.InvalidSignatureError:
            return _bad_signature(
                "The provided signature value did not match the expected signature value.", presented, found
            )
        except jwt.PyJWTError:
            return _malformed_assertion()
        if claims.get("iss") != claims.get("sub") or str(claims.get("sub", "")).lower() != app.client_id:
            return _Refusal(
                401, "invalid_client", 700021,
                "Client assertion application identifier doesn't match 'client_id' parameter. Review the "
                f"documentation at {_CERT_DOCS}.",
            )
        if not self._assertion_audience_ok(req, tenant, claims.get("aud")):
            return _Refusal(
                401, "invalid_client", 700023,
                f"Client assertion audience claim does not match Realm issuer. Review the documentation at {_CERT_DOCS}.",
            )
        return self._assertion_time_refusal(claims)

    def _assertion_audience_ok(self, req: Request, tenant: Tenant, aud: Any) -> bool:
        audiences = aud if isinstance(aud, list) else [aud]
        accepted = set()
        for name in filter(None, (tenant.tenant_id, tenant.domain)):
            base = f"{req.scheme_host}/{name}"
            accepted |= {f"{base}/oauth2/v2.0/token", f"{base}/oauth2/token", f"{base}/v2.0"}
        accepted = {a.lower() for a in accepted}
        return any(isinstance(a, str) and a.rstrip("/").lower() in accepted for a in audiences)

    def _assertion_time_refusal(self, claims: dict[str, Any]) -> _Refusal | None:
        exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat"))
        if not isinstance(exp, int | float):
            return _malformed_assertion()
        now = self.clock.now()
        leeway = self.assertion_leeway_seconds
        too_early = isinstance(nbf, int | float) and nbf - leeway > now.timestamp()
        if exp + leeway <= now.timestamp() or too_early:
            start = datetime.fromtimestamp(nbf if isinstance(nbf, int | float) else exp, now.tzinfo)
            return _Refusal(
                401, "invalid_client", 700024,
                f"Client assertion is not within its valid time range. Current time: {_iso7(now)}, assertion "
                f"valid from {_iso7(start)}, expiry time of assertion {_iso7(datetime.fromtimestamp(exp, now.tzinfo))}. "
                f"Review the documentation at {_CERT_DOCS}.",
            )
        return None

    def _resource(self, tenant: Tenant, scope: str | None) -> str | _Refusal:
        """The resource a client-credentials ``scope`` names, checked against the tenant."""
        if scope is None or not scope.strip():
            return _missing("scope")
        scopes = scope.split()
        invalid = _Refusal(
            400, "invalid_scope", 70011,
            f"The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid.",
        )
        if len(scopes) != 1:
            return invalid
        value = scopes[0]
        if not value.endswith("/.default"):
            return _Refusal(
                400, "invalid_scope", 1002012,
                f"The provided value for scope {value} is not valid. Client credential flows must have a scope "
                "value with /.default suffixed to the resource identifier (application ID URI).",
            )
        resource = value[: -len("/.default")].rstrip("/")
        is_uri = bool(urlsplit(resource).scheme and (urlsplit(resource).netloc or ":" in resource))
        if not (is_uri or _GUID.match(resource)):
            return invalid
        if normalize_resource(resource) not in tenant.resources:
            return _Refusal(
                400, "invalid_resource", 500011,
                f"The resource principal named {resource} was not found in the tenant named {tenant.name}. This "
                "can happen if the application has not been installed by the administrator of the tenant or "
                "consented to by any user in the tenant. You might have sent your authentication request to the "
                "wrong tenant.",
            )
        return resource

    # ----------------------------------------------------------------- error shape

    def _common_headers(self, req: Request) -> dict[str, str]:
        headers = {
            "Cache-Control": "no-store, no-cache",
            "Pragma": "no-cache",
            "x-ms-request-id": req.request_id,
        }
        client_request_id = req.headers.get("client-request-id")
        if client_request_id:
            headers["client-request-id"] = client_request_id
        return headers

    def _error_response(self, req: Request, refusal: _Refusal) -> Response:
        """Entra's error body: every field a sibling; description ends with trace lines."""
        trace_id = req.request_id
        client_request_id = req.headers.get("client-request-id") or ""
        correlation_id = client_request_id if _GUID.match(client_request_id) else str(uuid.uuid4())
        timestamp = self.clock.now().strftime("%Y-%m-%d %H:%M:%SZ")
        body = {
            "error": refusal.error,
            "error_description": (
                f"AADSTS{refusal.code}: {refusal.text}\r\nTrace ID: {trace_id}\r\n"
                f"Correlation ID: {correlation_id}\r\nTimestamp: {timestamp}"
            ),
            "error_codes": [refusal.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"{req.scheme_host}/error?code={refusal.code}",
        }
        return Response.json(refusal.status, body, self._common_headers(req), content_type=_JSON)


# --------------------------------------------------------------------- helpers


def _form(req: Request) -> dict[str, str]:
    """Form fields of a token request. Entra reads only form-encoded bodies; anything else is empty."""
    content_type = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return {}
    try:
        text = req.body.decode("utf-8")
    except UnicodeDecodeError:
        return {}
    return dict(parse_qsl(text, keep_blank_values=True))


def _basic_credentials(req: Request) -> tuple[str | None, str | None]:
    """client_id/secret from ``Authorization: Basic`` (form-urlencoded then base64, RFC 6749 §2.3.1)."""
    value = req.headers.get("Authorization") or ""
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None, None
    if not sep:
        return None, None
    return unquote(user.replace("+", " ")), unquote(password.replace("+", " "))


def _missing(parameter: str) -> _Refusal:
    return _Refusal(
        400, "invalid_request", 900144, f"The request body must contain the following parameter: '{parameter}'."
    )


def _malformed_assertion() -> _Refusal:
    return _Refusal(401, "invalid_client", 50027, "JWT token is invalid or malformed.")


def _bad_signature(reason: str, thumbprint: str, detail: str) -> _Refusal:
    return _Refusal(
        401, "invalid_client", 700027,
        f"Client assertion contains an invalid signature. [Reason - {reason}, Thumbprint of key used by "
        f"client: '{thumbprint}', {detail}]",
    )


def _matching_certificate(app: App, header: dict[str, Any]) -> Certificate | None:
    # MSAL keeps the base64 '=' padding on thumbprints; RFC 7515 omits it. Entra accepts both.
    s256, sha1 = (str(header.get(h) or "").rstrip("=") for h in ("x5t#S256", "x5t"))
    for cert in app.certificates:
        if (s256 and s256 == cert.x5t_s256) or (sha1 and sha1 == cert.x5t):
            return cert
    return None


def _presented_thumbprint(header: dict[str, Any]) -> str:
    value = header.get("x5t#S256") or header.get("x5t") or ""
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex().upper()
    except (ValueError, TypeError):
        return str(value)


def _iso7(moment: datetime) -> str:
    """.NET round-trip time with 7 fractional digits, as Entra prints it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


def _dotnet_time(moment: datetime) -> str:
    return moment.strftime("%m/%d/%Y %H:%M:%S")

