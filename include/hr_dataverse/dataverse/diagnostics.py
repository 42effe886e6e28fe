"""Turn any client error into one line of cause and one line of fix, for logs and test_connection."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import (
    PRIVILEGE_DENIED,
    AuthError,
    BadRequest,
    ChangeTrackingNotEnabled,
    ConfigError,
    DataverseError,
    DeltaTokenExpired,
    ForeignHostError,
    NetworkError,
    NotAMember,
    NotFound,
    PagingError,
    PermissionDenied,
    ServerError,
    Throttled,
    Unauthorized,
)

_SEGMENT = re.compile(r"segment '([^']+)'")
_UNTRACKED = re.compile(r"Entity '?([A-Za-z0-9_]+)'? isn't enabled for change tracking", re.IGNORECASE)
_APP_USER_PATH = "Power Platform admin center → Environment → Settings → Users + permissions → Application users"


@dataclass(frozen=True)
class Diagnosis:
    check: str  # which step failed: configuration, token, application user, privileges, table, …
    cause: str
    fix: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.cause} Fix: {self.fix}"


def diagnose(error: BaseException) -> Diagnosis:
    """Cause and fix for any error the client raises (unknown errors get a generic answer)."""
    d = _diagnose(error)
    return Diagnosis(d.check, _one_line(d.cause), _one_line(d.fix))


def _diagnose(error: BaseException) -> Diagnosis:
    if isinstance(error, ConfigError):
        return Diagnosis("configuration", f"Setting '{error.field}' is invalid: {error.reason}.",
                         f"Correct '{error.field}' in the connection.")
    if isinstance(error, AuthError):
        return _auth(error)
    if isinstance(error, NetworkError):
        return _network(error)
    if isinstance(error, NotAMember):
        return Diagnosis("application user",
                         "The app registration has no application user in this environment (403 0x80072560).",
                         f"Create one in {_APP_USER_PATH} → New app user (this app's client ID), "
                         "and assign it a security role.")
    if isinstance(error, PermissionDenied):
        return _privilege(error)
    if isinstance(error, Unauthorized):
        where = f" The environment expects tokens from {error.authorization_uri}." if error.authorization_uri else ""
        return Diagnosis("token", f"Dataverse rejected the access token even after a refresh (401).{where}",
                         "Check that the environment URL belongs to the tenant in tenant_id and that the token "
                         "scope is '<environment URL>/.default'.")
    if isinstance(error, ChangeTrackingNotEnabled):
        match = _UNTRACKED.search(error.message)
        table = match.group(1) if match else "the table"
        return Diagnosis("change tracking", f"Change tracking is not enabled on {table} (0x80072491).",
                         f"Enable Track changes in Power Apps → Tables → {table} → Properties → Advanced options.")
    if isinstance(error, DeltaTokenExpired):
        return Diagnosis("delta token", "The stored delta link is expired or invalid (older than the change "
                         "tracking retention, 7 days by default).",
                         "Run a full resync and store its new delta link; run deltas more often than the retention.")
    if isinstance(error, NotFound):
        return _not_found(error)
    if isinstance(error, Throttled):
        wait = f" (Retry-After {error.retry_after:g}s)" if error.retry_after is not None else ""
        return Diagnosis("throttling", f"Dataverse service protection limits were hit (429){wait} and retries "
                         "ran out before the deadline.",
                         "Lower max_concurrency (x-ms-dop-hint is an upper bound), spread runs out, or raise deadline.")
    if isinstance(error, ForeignHostError):
        return Diagnosis("paging", f"A nextLink/deltaLink pointed outside the environment: {error.message}.",
                         "Use links produced by this environment only; check environment_url matches the host "
                         "Dataverse puts in its links.")
    if isinstance(error, PagingError):
        return Diagnosis("paging", f"Dataverse broke the paging protocol: {error.message}.",
                         "Retry the run; if it repeats, add an $orderby on a unique column or report the request id.")
    if isinstance(error, BadRequest):
        return Diagnosis("request", f"Dataverse rejected the request (400): {error.message}",
                         "Check column names against the table metadata ($select uses _x_value for lookups) "
                         "and the $filter syntax.")
    if isinstance(error, ServerError):
        rid = f" request id {error.request_id}" if error.request_id else ""
        return Diagnosis("server", f"Dataverse kept failing with HTTP {error.status}: {error.message}",
                         f"Retry later; if it persists, open a Microsoft support case quoting{rid or ' the request id'}.")
    if isinstance(error, DataverseError):
        return Diagnosis("request", f"Dataverse request failed: {error}", "See the message and the request id.")
    return Diagnosis("unknown", f"{type(error).__name__}: {error}",
                     "Unexpected error; see the logs for the traceback.")


def _auth(error: AuthError) -> Diagnosis:
    code = error.aadsts
    if code == 7000215:
        return Diagnosis("token", "Entra ID rejected the client secret (AADSTS7000215): most often the secret's ID "
                         "was pasted instead of its value.",
                         "Copy the Value (not the Secret ID) from the app registration → Certificates & secrets "
                         "into the connection's secret.")
    if code == 7000222:
        return Diagnosis("token", "The client secret has expired (AADSTS7000222).",
                         "Create a new secret under the app registration → Certificates & secrets, rotate it into "
                         "the connection, or move to a certificate.")
    if code in (700016, 90002):
        return Diagnosis("token", f"Wrong tenant ID, or the app is not registered/consented in this tenant "
                         f"(AADSTS{code}): {error.message}",
                         "Use the Directory (tenant) ID from the app registration's Overview page; for a "
                         "multi-tenant app, have an admin of this tenant consent to it.")
    if code == 500011:
        return Diagnosis("token", "The environment URL is not a Dataverse environment of this tenant "
                         "(AADSTS500011: resource principal not found).",
                         "Copy the Environment URL from Power Platform admin center → Environments and check it "
                         "belongs to the same tenant as the app registration.")
    if code in (1002012, 70011):
        return Diagnosis("token", f"The token scope was refused (AADSTS{code}).",
                         "The scope must be '<environment URL>/.default': set environment_url to the bare "
                         "environment root, e.g. https://contoso.crm.dynamics.com.")
    if code == 7000218:
        return Diagnosis("token", "The token request carried neither a client secret nor a certificate "
                         "assertion (AADSTS7000218).", "Set the client secret or a certificate on the connection.")
    if code == 700027:
        return Diagnosis("token", "Entra ID did not accept the certificate assertion (AADSTS700027): the "
                         "certificate is not registered on the app, or the thumbprint does not match.",
                         "Upload the certificate's public part under the app registration → Certificates & secrets "
                         "→ Certificates and use the thumbprint shown there.")
    label = f"AADSTS{code}" if code is not None else "no AADSTS code"
    return Diagnosis("token", f"Entra ID refused the token request ({label}): {error.message}",
                     f"Look the code up at https://login.microsoftonline.com/error?code={code}"
                     if code is not None else "Check tenant_id, client_id and the credential.")


def _network(error: NetworkError) -> Diagnosis:
    if error.reason == "tls":
        return Diagnosis("network", f"TLS verification failed: {error.message}.",
                         "Set ca_bundle to the CA that signed the server certificate (e.g. a corporate proxy's CA).")
    if error.reason == "connection_refused":
        return Diagnosis("network", f"The {error.message}.",
                         "Check the environment URL / authority host and port, and any proxy or firewall.")
    if error.reason == "name_resolution":
        return Diagnosis("network", f"The {error.message}.",
                         "Check the spelling of the environment URL (https://<org>.crm.dynamics.com) and DNS.")
    if error.reason == "timeout":
        return Diagnosis("network", f"{error.message}.", "Check network reachability; raise timeout if the "
                         "network is slow.")
    return Diagnosis("network", f"{error.message}.", "Check network reachability of the host and retry.")


def _privilege(error: PermissionDenied) -> Diagnosis:
    priv = error.missing_privilege
    if priv and priv.startswith("prvRead"):
        table = error.table or priv[len("prvRead"):]
        return Diagnosis("privileges", f"The application user's security role lacks Read on {table} ({priv}).",
                         f"Give the role Organization-level Read on {table} (organization-level Read is also "
                         "needed for change tracking).")
    if priv:
        return Diagnosis("privileges", f"The application user's security role lacks {priv}.",
                         f"Add {priv} to the application user's security role.")
    code = f" {error.code}" if error.code else ""
    hint = " (privilege denied)" if (error.code or "").lower() == PRIVILEGE_DENIED else ""
    return Diagnosis("privileges", f"Dataverse refused access (403{code}){hint}: {error.message}",
                     "Assign the application user a security role with the privileges this table needs.")


def _not_found(error: NotFound) -> Diagnosis:
    match = _SEGMENT.search(error.message)
    if match or (error.status == 404 and "does not exist" not in error.message.lower()):
        name = match.group(1) if match else "the requested table"
        return Diagnosis("table", f"Table/entity set '{name}' does not exist in this environment: the HR tables "
                         "are not installed, or the name is wrong.",
                         "Install Dual-write Human Resources / HR common tables (HCMCommon), or fix the name (use "
                         "the EntitySetName); the DMF/OData export from Human Resources is the documented fallback.")
    return Diagnosis("table", f"Not found: {error.message}", "Check the row id / key; the row may have been deleted.")


def _one_line(text: str) -> str:
    return " ".join(text.split())
