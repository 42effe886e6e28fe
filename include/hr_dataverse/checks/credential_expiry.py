"""Credential expiry read from Entra: the app registration's secrets and certificates, from Microsoft
Graph, with the app's own client credentials; the date typed in the connection when Graph says no.

``run_credential_expiry_check(settings, warn_days=30)`` returns a ``CheckReport`` whose
``credential expiry`` entry is about the credential the connection uses (matched by the secret's
``hint``, its first three characters, or by the certificate's SHA-1 thumbprint): *ok* while it is
valid for more than ``warn_days``, *warning* within ``warn_days``, *blocker* once expired. Every
credential of the app (name, hint or thumbprint, start and end date, never a secret) is in the
entry's details.

Graph: ``GET {graph}/v1.0/applications(appId='{client id}')?$select=…``; the least privilege that
allows it is the application permission **Application.Read.All** (admin consent). A 403 (permission
not granted) or an unreachable Graph falls back to ``client_secret_expires_on`` from the connection
and adds one *graph access* warning saying which permission would make the check automatic.

National clouds read their own Graph host (from the authority host: ``login.microsoftonline.us`` →
``graph.microsoft.us``, ``login.chinacloudapi.cn`` → ``microsoftgraph.chinacloudapi.cn``; US Gov DoD
sets ``graph_url=https://dod-graph.microsoft.us``). Another authority host (a proxy, the local
emulator) serves Graph on that same host unless ``graph_url`` says otherwise.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from hr_dataverse.dataverse import DataverseError, DataverseSettings
from hr_dataverse.dataverse.auth import TokenProvider
from hr_dataverse.dataverse.errors import network_error
from hr_dataverse.dataverse.session import pinned_session
from hr_dataverse.vocabulary import CheckStatus

from .report import CheckReport

CHECK = "credential expiry"
GRAPH_CHECK = "graph access"
PERMISSION = "Application.Read.All"
DEFAULT_WARN_DAYS = 30
SELECT = "id,appId,displayName,passwordCredentials,keyCredentials"
# Authority host → Graph resource of that cloud (learn.microsoft.com/graph/deployments).
GRAPH_BY_AUTHORITY = {
    "login.microsoftonline.com": "https://graph.microsoft.com",
    "login.microsoftonline.us": "https://graph.microsoft.us",
    "login.chinacloudapi.cn": "https://microsoftgraph.chinacloudapi.cn",
    "login.partner.microsoftonline.cn": "https://microsoftgraph.chinacloudapi.cn",
}
GRAPH_HOSTS = {"graph.microsoft.com", "graph.microsoft.us", "dod-graph.microsoft.us",
               "microsoftgraph.chinacloudapi.cn"}


class CredentialKind(StrEnum):
    SECRET = "secret"
    CERTIFICATE = "certificate"


class ExpirySource(StrEnum):
    GRAPH = "graph"  # read from the app registration
    CONNECTION = "connection"  # the date typed into the connection
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class AppCredential:
    """One secret or certificate of the app registration (never the secret itself)."""

    kind: CredentialKind
    key_id: str
    display_name: str | None
    hint: str | None  # secrets: first three characters
    thumbprint: str | None  # certificates: SHA-1, upper-case hex
    start: datetime | None
    end: datetime

    def days_left(self, today: date) -> int:
        return (self.end.astimezone(UTC).date() - today).days

    def label(self) -> str:
        name = f"'{self.display_name}'" if self.display_name else "(no description)"
        ident = f"hint {self.hint}" if self.kind is CredentialKind.SECRET else f"thumbprint {self.thumbprint}"
        return f"{self.kind} {name} ({ident})"

    def to_detail(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(kind=str(self.kind), start=self.start.isoformat() if self.start else None, end=self.end.isoformat())
        return out


class GraphDenied(Exception):
    """Graph refused to read the app registration (401/403): the permission is not granted."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def graph_endpoint(settings: DataverseSettings, graph_url: str | None = None) -> tuple[str, str]:
    """(Graph base URL, token scope) for the connection's cloud."""
    authority = settings.authority_host.lower()
    cloud = GRAPH_BY_AUTHORITY.get(authority)
    if graph_url:
        base = graph_url.rstrip("/")
        host = (urlsplit(base).hostname or "").lower()
        resource = f"https://{host}" if host in GRAPH_HOSTS else (cloud or "https://graph.microsoft.com")
        return base, f"{resource}/.default"
    if cloud:
        return cloud, f"{cloud}/.default"
    return f"https://{settings.authority_host}", "https://graph.microsoft.com/.default"


def read_app_credentials(settings: DataverseSettings, *, graph_url: str | None = None,
                         tokens: TokenProvider | None = None) -> tuple[str, list[AppCredential]]:
    """(app display name, credentials) of the connection's own app registration, from Graph.

    :raises GraphDenied: Graph answered 401/403 (permission missing or not consented).
    :raises DataverseError: no token for Graph, network failure, or another HTTP error.
    """
    base, scope = graph_endpoint(settings, graph_url)
    own_tokens = tokens is None
    tokens = tokens or TokenProvider(settings, scope=scope)
    session = pinned_session(settings)
    url = f"{base}/v1.0/applications(appId='{quote(settings.client_id, safe='')}')"
    try:
        token = tokens.get_token().token
        try:
            resp = session.get(url, params={"$select": SELECT},
                               headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
        except requests.RequestException as exc:
            raise network_error(exc, url) from None
    finally:
        session.close()
        if own_tokens:
            tokens.close()
    if resp.status_code in (401, 403):
        error = _graph_error(resp)
        raise GraphDenied(resp.status_code, error.get("code", ""), error.get("message", ""))
    if resp.status_code != 200:
        error = _graph_error(resp)
        raise DataverseError(f"Microsoft Graph answered HTTP {resp.status_code} {error.get('code', '')}: "
                             f"{error.get('message', resp.text[:200])}", status=resp.status_code, url=url)
    body = resp.json()
    return body.get("displayName") or settings.client_id, parse_credentials(body)


def parse_credentials(application: dict[str, Any]) -> list[AppCredential]:
    """The password and key credentials of a Graph ``application`` object, soonest expiry first."""
    found = [AppCredential(CredentialKind.SECRET, p.get("keyId", ""), p.get("displayName"), p.get("hint"), None,
                           _time(p.get("startDateTime")), _time(p["endDateTime"]))
             for p in application.get("passwordCredentials") or [] if p.get("endDateTime")]
    found += [AppCredential(CredentialKind.CERTIFICATE, k.get("keyId", ""), k.get("displayName"), None,
                            _thumbprint(k.get("customKeyIdentifier")), _time(k.get("startDateTime")),
                            _time(k["endDateTime"]))
              for k in application.get("keyCredentials") or [] if k.get("endDateTime")]
    return sorted(found, key=lambda c: c.end)


def credential_in_use(settings: DataverseSettings, credentials: list[AppCredential]) -> AppCredential | None:
    """The credential the connection authenticates with: the secret with its hint (the soonest to
    expire when several share it), or the certificate with its thumbprint."""
    if settings.client_secret:
        hint = settings.client_secret[:3]
        return next((c for c in credentials if c.kind is CredentialKind.SECRET and c.hint == hint), None)
    thumbprint = _connection_thumbprint(settings)
    return next((c for c in credentials if c.kind is CredentialKind.CERTIFICATE and c.thumbprint == thumbprint),
                None)


def run_credential_expiry_check(settings: DataverseSettings, *, warn_days: int = DEFAULT_WARN_DAYS,
                                graph_url: str | None = None, today: date | None = None) -> CheckReport:
    """The expiry of the credential in use, from Graph, else from the connection (see the module doc)."""
    if warn_days < 0:
        raise ValueError(f"warn_days must be 0 or more, got {warn_days}")
    today = today or datetime.now(UTC).date()
    report = CheckReport("credential_expiry")
    target = settings.client_id
    try:
        app_name, credentials = read_app_credentials(settings, graph_url=graph_url)
    except GraphDenied as denied:
        report.warning(GRAPH_CHECK, target,
                       f"Microsoft Graph refused to read the app registration ({denied.code or denied.status}), "
                       "so the expiry comes from the date typed in the connection.",
                       f"Grant the app the Microsoft Graph application permission {PERMISSION} (API permissions → "
                       "Add a permission → Microsoft Graph → Application permissions, then Grant admin consent); "
                       "the check then reads every secret's and certificate's expiry itself.",
                       code="graph_permission_missing", permission=PERMISSION)
        return _from_connection(report, settings, warn_days, today)
    except DataverseError as exc:
        report.failure(GRAPH_CHECK, target, exc, status=CheckStatus.WARNING,
                       cause_suffix=" Microsoft Graph could not be read; the expiry comes from the connection's date.")
        return _from_connection(report, settings, warn_days, today)
    details = {"source": str(ExpirySource.GRAPH), "app": app_name,
               "credentials": [c.to_detail() for c in credentials]}
    used = credential_in_use(settings, credentials)
    if used is None:
        what = "client secret" if settings.client_secret else "certificate"
        report.warning(CHECK, target, f"The connection's {what} is not among the {len(credentials)} credential(s) "
                                      f"of app registration '{app_name}' in Microsoft Graph.",
                       "Check that the connection holds a current secret or certificate of this app registration.",
                       code="credential_not_found", **details)
        return report
    _judge(report, target, used.label(), used.end.astimezone(UTC).date(), used.days_left(today), warn_days,
           credential=used.to_detail(), **details)
    return report


def expiring(report: CheckReport) -> list[str]:
    """Causes of the expiry entries that need a person (expiring soon or expired)."""
    return [e.cause for e in report if e.check == CHECK and e.status != CheckStatus.OK
            and e.code in ("credential_expiring", "credential_expired")]


# --- helpers ---------------------------------------------------------------------------------------


def _from_connection(report: CheckReport, settings: DataverseSettings, warn_days: int, today: date) -> CheckReport:
    target = settings.client_id
    expires_on = settings.client_secret_expires_on if settings.client_secret else None
    if expires_on is None:
        what = ("its expiry date ('Client secret expires on', extra client_secret_expires_on)" if settings.client_secret
                else "no expiry date for certificates")
        report.warning(CHECK, target, f"The expiry of the credential in use is unknown: the connection has {what}.",
                       f"Grant {PERMISSION} so it is read from Entra, or type the expiry date into the connection.",
                       code="expiry_unknown", source=str(ExpirySource.UNKNOWN))
        return report
    _judge(report, target, "client secret (date typed in the connection)", expires_on, (expires_on - today).days,
           warn_days, source=str(ExpirySource.CONNECTION))
    return report


def _judge(report: CheckReport, target: str, label: str, end: date, days: int, warn_days: int, **details: Any) -> None:
    details.update(expires_on=end.isoformat(), days_left=days, warn_days=warn_days)
    if days < 0:
        report.blocker(CHECK, target, f"The {label} expired on {end} ({-days} day(s) ago); tokens are refused.",
                       "Add a new secret or certificate to the app registration and put it into the connection.",
                       code="credential_expired", **details)
    elif days <= warn_days:
        report.warning(CHECK, target, f"The {label} expires in {days} day(s), on {end} "
                                      f"(warning threshold {warn_days} days).",
                       "Add a new secret or certificate to the app registration now, put it into the connection, "
                       "then delete the old one.", code="credential_expiring", **details)
    else:
        report.ok(CHECK, target, f"The {label} is valid for {days} more day(s), until {end}.", **details)


def _graph_error(resp: requests.Response) -> dict[str, Any]:
    try:
        error = resp.json().get("error")
    except ValueError:
        return {}
    return error if isinstance(error, dict) else {}


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _thumbprint(custom_key_identifier: str | None) -> str | None:
    """Graph gives a certificate's thumbprint as base64 binary (sometimes as hex text): upper hex."""
    if not custom_key_identifier:
        return None
    text = custom_key_identifier.strip()
    if len(text) == 40 and all(ch in "0123456789abcdefABCDEF" for ch in text):
        return text.upper()
    try:
        return base64.b64decode(text, validate=True).hex().upper()
    except (binascii.Error, ValueError):
        return text.upper()


def _connection_thumbprint(settings: DataverseSettings) -> str | None:
    cert = settings.certificate
    if cert is None:
        return None
    if cert.thumbprint:
        return cert.thumbprint.replace(":", "").replace(" ", "").upper()
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    public = cert.to_msal().get("public_certificate")
    if not public:
        return None
    der = x509.load_pem_x509_certificate(public.encode()).public_bytes(serialization.Encoding.DER)
    return hashlib.sha1(der).hexdigest().upper()
