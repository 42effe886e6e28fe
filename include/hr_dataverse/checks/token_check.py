"""Token validation: can this connection get a genuine Dataverse token, and does Dataverse accept it?

Steps, each one report entry (later steps are skipped when the token cannot be had):

1. client secret expiry (from the connection's date; warns ``secret_warn_days`` ahead);
2. token acquisition through the client's :class:`TokenProvider` (MSAL);
3. signature against the tenant's JWKS, found through OpenID discovery;
4. claims: ``aud`` (the environment), ``tid``, ``exp``, ``appid``/``azp``, ``iss``;
5. ``WhoAmI``: proves an application user exists; reports ``x-ms-dop-hint``.

The token itself never leaves this module: entries carry claims, never the JWT.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

import jwt
import requests

from hr_dataverse.dataverse import AuthError, DataverseClient, DataverseError
from hr_dataverse.dataverse.errors import network_error, request_id_of
from hr_dataverse.dataverse.odata import is_guid
from hr_dataverse.dataverse.session import pinned_session

from .clouds import Cloud, cloud_of, cloud_of_environment
from .report import CheckReport

DEFAULT_SECRET_WARN_DAYS = 30
# Issuers Entra puts in app-only tokens: v1 tokens (what Dataverse gets) use the cloud's STS host, v2
# tokens its login host. By default they follow the authority host's cloud (public, US Government,
# China: see clouds.py); ``issuer_templates`` replaces them ({tid}, {authority_host}, {sts_host}).
DEFAULT_ISSUER_TEMPLATES: tuple[str, ...] = (
    "https://{sts_host}/{tid}/",
    "https://{authority_host}/{tid}/v2.0",
)
SIGNING_ALGORITHMS = ["RS256"]  # Entra signs access tokens with RS256 only
_CHECKS_AFTER_TOKEN = ["token signature", "token claims", "application user", "parallelism"]


def run_token_check(
    client: DataverseClient,
    *,
    secret_warn_days: int = DEFAULT_SECRET_WARN_DAYS,
    issuer_templates: Sequence[str] | None = None,
    today: date | None = None,
) -> CheckReport:
    """Run every token check against ``client``'s environment; never raises for a failed check."""
    report = CheckReport("token_validation")
    s = client.settings
    _secret_expiry(report, client, secret_warn_days, today)
    try:
        token = client.tokens.get_token().token
    except DataverseError as exc:
        report.failure("token", s.authority, exc, not_run=_CHECKS_AFTER_TOKEN)
        return report
    report.ok("token", s.authority, "Entra ID issued an access token for the environment.",
              scope=s.scope, credential="certificate" if s.certificate else "client secret")
    discovery = _discover(report, client)
    if discovery is not None:
        claims = verify_signature(report, client, token, discovery["jwks_uri"])
        if claims is not None:
            _verify_claims(report, client, claims, _tenant_guid(s.tenant_id, discovery), issuer_templates,
                           cloud_of(s.authority_host, discovery))
    _whoami(report, client)
    return report


# -- 1. secret expiry -----------------------------------------------------------------------------

def _secret_expiry(report: CheckReport, client: DataverseClient, warn_days: int, today: date | None) -> None:
    s = client.settings
    target = "client secret"
    if s.certificate is not None:
        report.ok("secret expiry", "certificate", "The connection uses a certificate, not a client secret.")
        return
    days = s.days_until_secret_expiry(today)
    if days is None:
        report.warning("secret expiry", target, "The connection has no expiry date for the client secret, so "
                       "its expiry cannot be announced before loads fail.",
                       "Set 'Client secret expires on' (extra client_secret_expires_on) to the Expires date shown "
                       "under the app registration → Certificates & secrets.")
    elif days < 0:
        report.warning("secret expiry", target, f"The client secret expired on {s.client_secret_expires_on} "
                       "according to the connection.",
                       "Create a new secret under the app registration → Certificates & secrets and rotate it into "
                       "the connection with its new expiry date (or move to a certificate).",
                       expires_on=str(s.client_secret_expires_on), days_left=days)
    elif days <= warn_days:
        report.warning("secret expiry", target, f"The client secret expires in {days} day(s), on "
                       f"{s.client_secret_expires_on} (warning threshold {warn_days} days).",
                       "Create a new secret under the app registration → Certificates & secrets before then, "
                       "rotate it into the connection and update its expiry date (or move to a certificate).",
                       expires_on=str(s.client_secret_expires_on), days_left=days)
    else:
        report.ok("secret expiry", target, f"The client secret is valid for {days} more days "
                  f"(until {s.client_secret_expires_on}).", expires_on=str(s.client_secret_expires_on),
                  days_left=days)


# -- 3. signature -----------------------------------------------------------------------------------

def discovery_url(authority_host: str, tenant: str) -> str:
    return f"https://{authority_host}/{tenant}/v2.0/.well-known/openid-configuration"


def _discover(report: CheckReport, client: DataverseClient) -> dict[str, Any] | None:
    """The tenant's OpenID configuration, or None after recording why it could not be read."""
    s = client.settings
    url = discovery_url(s.authority_host, s.tenant_id)
    session = pinned_session(s)
    try:
        resp = session.get(url, headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        report.failure("token signature", url, network_error(exc, url), cause_suffix="(OpenID discovery)")
        return None
    finally:
        session.close()
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    if resp.status_code != 200 or not isinstance(doc, dict) or not doc.get("jwks_uri"):
        report.failure("token signature", url, _discovery_error(resp, doc))
        return None
    return doc


def _discovery_error(resp: requests.Response, doc: Any) -> DataverseError:
    if isinstance(doc, dict) and doc.get("error_codes"):
        description = str(doc.get("error_description") or doc.get("error") or "").splitlines()[0]
        return AuthError(f"tenant discovery failed: {description}", aadsts=int(doc["error_codes"][0]),
                         error=doc.get("error"), status=resp.status_code, request_id=request_id_of(resp.headers))
    return DataverseError(f"OpenID discovery answered HTTP {resp.status_code} without a jwks_uri",
                          status=resp.status_code, request_id=request_id_of(resp.headers), url=resp.url)


def _ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    # An explicit CA file replaces the defaults, so REQUESTS_CA_BUNDLE & co. cannot override it.
    return ssl.create_default_context(cafile=ca_bundle) if ca_bundle else ssl.create_default_context()


def verify_signature(report: CheckReport, client: DataverseClient, token: str, jwks_uri: str
                      ) -> dict[str, Any] | None:
    """Verified claims, or None after recording the failure. Only the signature is checked here."""
    s = client.settings
    fix_keys = ("Check that authority_host is the Entra login host of the environment's cloud and that no "
                "proxy rewrites tokens; then retry (keys rotate, a stale cache heals itself).")
    jwks = jwt.PyJWKClient(jwks_uri, ssl_context=_ssl_context(s.ca_bundle), timeout=s.timeout)
    try:
        key = jwks.get_signing_key_from_jwt(token)
    except jwt.PyJWKClientConnectionError as exc:
        report.blocker("token signature", jwks_uri, f"The tenant's signing keys could not be downloaded: {exc}.",
                       "Check network access to the authority host and the TLS CA bundle (ca_bundle).")
        return None
    except (jwt.PyJWKClientError, jwt.DecodeError) as exc:
        report.blocker("token signature", jwks_uri, f"The token's signing key is not among the tenant's keys ({exc}): "
                       "the token was not issued by this tenant's Entra ID.", fix_keys)
        return None
    try:
        claims = jwt.decode(token, key.key, algorithms=SIGNING_ALGORITHMS,
                            options={"verify_aud": False, "verify_exp": False, "verify_nbf": False,
                                     "verify_iat": False, "verify_iss": False})
    except jwt.InvalidTokenError as exc:
        report.blocker("token signature", jwks_uri, f"The token's signature does not verify against the tenant's "
                       f"key {key.key_id}: {exc}.", fix_keys)
        return None
    report.ok("token signature", jwks_uri, "The token's signature verifies against the tenant's published key.",
              kid=key.key_id, alg=jwt.get_unverified_header(token).get("alg"))
    return claims


# -- 4. claims --------------------------------------------------------------------------------------

def audiences(environment_url: str) -> set[str]:
    """Accepted ``aud`` values: the environment root in canonical form and its ``.api.`` twin."""
    root = _canonical(environment_url)
    parts = urlsplit(root)
    host = parts.hostname or ""
    netloc_tail = f":{parts.port}" if parts.port else ""
    org, _, rest = host.partition(".")
    hosts = {host}
    if rest.count(".") >= 1:  # <org>.crm.dynamics.com ↔ <org>.api.crm.dynamics.com
        hosts.add(f"{org}.{rest[4:]}" if rest.startswith("api.") else f"{org}.api.{rest}")
    return {f"{parts.scheme}://{h}{netloc_tail}" for h in hosts}


def audience_matches(aud: str, environment_url: str) -> bool:
    return _canonical(aud) in audiences(environment_url)


def _canonical(url: str) -> str:
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    netloc = host if parts.port in (None, default) else f"{host}:{parts.port}"
    return f"{parts.scheme.lower()}://{netloc}{parts.path.rstrip('/')}"


def _tenant_guid(configured: str, discovery: dict[str, Any]) -> str | None:
    """The tenant GUID: the configured one, or (for a domain) the one discovery's issuer names."""
    if is_guid(configured):
        return configured.lower()
    segments = [p for p in urlsplit(str(discovery.get("issuer") or "")).path.split("/") if p]
    return segments[0].lower() if segments and is_guid(segments[0]) else None


def _verify_claims(report: CheckReport, client: DataverseClient, claims: dict[str, Any], tenant: str | None,
                   issuer_templates: Sequence[str] | None, cloud: Cloud) -> None:
    s = client.settings
    check = "token claims"

    aud = str(claims.get("aud") or "")
    if audience_matches(aud, s.environment_url):
        report.ok(check, "aud", f"The token is for this environment ({aud}).", aud=aud)
    else:
        report.blocker(check, "aud", f"The token's audience is {aud!r}, not this environment "
                       f"({s.environment_root}).",
                       "Set the Environment URL (host) to the environment's root URL from Power Platform admin "
                       "center → Environments; the token scope is derived from it.", aud=aud,
                       expected=sorted(audiences(s.environment_url)))

    tid = str(claims.get("tid") or "").lower()
    if tenant is None:
        report.warning(check, "tid", f"The tenant ID could not be resolved from {s.tenant_id!r}, so the token's "
                       f"tenant {tid} could not be compared.",
                       "Set the Tenant ID to the Directory (tenant) ID GUID from the app registration.", tid=tid)
    elif tid == tenant:
        report.ok(check, "tid", f"The token was issued by the configured tenant {tid}.", tid=tid)
    else:
        report.blocker(check, "tid", f"The token was issued by tenant {tid or '(none)'}, not the configured "
                       f"tenant {tenant}.",
                       "Use the Directory (tenant) ID of the tenant that owns both the app registration and the "
                       "environment.", tid=tid, expected=tenant)

    exp = claims.get("exp")
    now = datetime.now(UTC).timestamp()
    if isinstance(exp, int | float) and exp > now:
        report.ok(check, "exp", f"The token is valid for {int((exp - now) // 60)} more minutes.",
                  exp=_iso(exp))
    else:
        report.blocker(check, "exp", f"The token is already expired (exp {_iso(exp) if exp else 'missing'}).",
                       "Check the worker's clock (NTP): Entra issues tokens valid for about an hour from now.",
                       exp=_iso(exp) if isinstance(exp, int | float) else None)

    app = str(claims.get("appid") or claims.get("azp") or "").lower()
    if app == s.client_id.strip().lower():
        report.ok(check, "appid", f"The token was issued to the configured app {app}.", appid=app)
    else:
        report.blocker(check, "appid", f"The token was issued to app {app or '(none)'}, not the configured client "
                       f"ID {s.client_id}.",
                       "Set the Client ID (login) to the Application (client) ID of the app registration.",
                       appid=app, expected=s.client_id)

    iss = str(claims.get("iss") or "")
    if issuer_templates is None:
        known = cloud.issuers(str(tid), s.authority_host)
    else:
        known = [t.format(tid=tid, authority_host=s.authority_host, sts_host=cloud.sts_host) for t in issuer_templates]
    if iss in known:
        report.ok(check, "iss", f"The token's issuer {iss} is the tenant's Entra ID ({cloud.label}).", iss=iss,
                  cloud=cloud.name)
    else:
        report.blocker(check, "iss", f"The token's issuer {iss!r} is not one of the tenant's known issuers in the "
                       f"{cloud.label} of authority host {s.authority_host}.",
                       "Check authority_host: each cloud has its own login host and token issuer "
                       "(public login.microsoftonline.com, US Government login.microsoftonline.us, China "
                       "login.partner.microsoftonline.cn).", iss=iss, expected=known, cloud=cloud.name)
    environment_cloud = cloud_of_environment(urlsplit(s.environment_url).hostname or "")
    if environment_cloud is not None and environment_cloud != cloud:
        report.blocker(check, "authority_host", f"The environment {s.environment_url} is in the "
                       f"{environment_cloud.label}, but authority host {s.authority_host} is in the {cloud.label}.",
                       f"Set authority_host to {environment_cloud.login_hosts[0]}, the login host of the "
                       f"{environment_cloud.label}.", cloud=cloud.name, environment_cloud=environment_cloud.name)


def _iso(epoch: Any) -> str | None:
    if not isinstance(epoch, int | float):
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


# -- 5. WhoAmI and parallelism ----------------------------------------------------------------------

def _whoami(report: CheckReport, client: DataverseClient) -> None:
    s = client.settings
    try:
        resp = client.request("GET", "WhoAmI")
    except DataverseError as exc:
        report.failure("application user", s.environment_root, exc)
        return
    data = resp.data or {}
    report.ok("application user", s.environment_root, "The app has an application user in the environment "
              "(WhoAmI succeeded).", user_id=data.get("UserId"), business_unit_id=data.get("BusinessUnitId"),
              organization_id=data.get("OrganizationId"), request_id=resp.request_id)
    hint = client.dop_hint
    if hint is None:
        report.ok("parallelism", "x-ms-dop-hint", "Dataverse sent no x-ms-dop-hint; max_concurrency "
                  f"{s.max_concurrency} is used as configured.", max_concurrency=s.max_concurrency)
    elif s.max_concurrency > hint:
        report.warning("parallelism", "x-ms-dop-hint", f"Dataverse recommends at most {hint} parallel requests "
                       f"(x-ms-dop-hint) but max_concurrency is {s.max_concurrency}; the extra requests only "
                       "earn 429s.", f"Set 'Max concurrent requests' (extra max_concurrency) to {hint} or less.",
                       dop_hint=hint, max_concurrency=s.max_concurrency)
    else:
        report.ok("parallelism", "x-ms-dop-hint", f"Dataverse recommends at most {hint} parallel requests "
                  f"(x-ms-dop-hint); max_concurrency is {s.max_concurrency}.", dop_hint=hint,
                  max_concurrency=s.max_concurrency)
