"""Typed Dataverse / Entra ID errors.

Every error carries ``status`` (HTTP status or None), ``code`` (Dataverse hex code such as
``0x80072560`` or ``AADSTS7000215``), ``request_id`` (from ``x-ms-service-request-id`` /
``REQ_ID``, or Entra's trace id) and ``message``. Messages are built from server error texts and
our own wording only: they never contain secrets or tokens.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests

# Dataverse error codes the client reacts to (data-service-error-codes in the reference).
NOT_A_MEMBER = "0x80072560"
PRIVILEGE_DENIED = "0x80040220"
CHANGE_TRACKING_NOT_ENABLED = "0x80072491"
EXPIRED_VERSION_STAMP = "0x80044352"
OBJECT_DOES_NOT_EXIST = "0x80040217"
RESOURCE_NOT_FOUND = "0x80060888"

# Request-id headers, most specific first; whichever is present is kept.
REQUEST_ID_HEADERS = ("x-ms-service-request-id", "REQ_ID", "x-ms-request-id", "request-id", "x-request-id")

_MISSING_PRIVILEGE = re.compile(r"missing (prv[A-Za-z0-9_]+) privilege")
_PRIVILEGE_ENTITY = re.compile(r"for entity '([A-Za-z0-9_]+)'")
_UNKNOWN_SEGMENT = "Resource not found for the segment"
_MAX_TEXT = 300  # non-JSON bodies are quoted only this far (HTML error pages can be huge)


class DataverseError(Exception):
    """Base class: anything that went wrong talking to Entra ID or Dataverse."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.url = url
        self.attempts = 1  # the transport sets this when the error ends a retry loop

    def __str__(self) -> str:
        details = [
            f"HTTP {self.status}" if self.status is not None else "",
            f"code {self.code}" if self.code else "",
            f"request id {self.request_id}" if self.request_id else "",
            f"after {self.attempts} attempts" if self.attempts > 1 else "",
        ]
        extra = ", ".join(d for d in details if d)
        return f"{self.message} ({extra})" if extra else self.message


class ConfigError(DataverseError, ValueError):
    """A setting is missing or malformed; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class AuthError(DataverseError):
    """Entra ID refused to issue a token. ``aadsts`` is the AADSTS number when known."""

    def __init__(
        self,
        message: str,
        *,
        aadsts: int | None = None,
        error: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        transient: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message,
            status=status,
            code=f"AADSTS{aadsts}" if aadsts is not None else None,
            request_id=request_id,
        )
        self.aadsts = aadsts
        self.error = error  # OAuth error string, e.g. "invalid_client"
        # Throttled (429) or unavailable (5xx, connection lost): worth retrying after ``retry_after``
        # seconds (the token endpoint's Retry-After, when it sent one).
        self.transient = transient
        self.retry_after = retry_after


class NetworkError(DataverseError):
    """No HTTP answer: ``reason`` is tls | connection_refused | name_resolution | timeout | connection."""

    def __init__(self, message: str, *, reason: str, url: str | None = None) -> None:
        super().__init__(message, url=url)
        self.reason = reason


class Unauthorized(DataverseError):
    """Dataverse answered 401 even after one token refresh.

    ``authorization_uri``/``resource_id`` come from the ``WWW-Authenticate`` challenge and show
    which tenant and resource the environment expects.
    """

    def __init__(self, message: str, *, authorization_uri: str | None = None, resource_id: str | None = None,
                 **kw: Any) -> None:
        super().__init__(message, **kw)
        self.authorization_uri = authorization_uri
        self.resource_id = resource_id


class PermissionDenied(DataverseError):
    """403. ``missing_privilege`` (e.g. ``prvReadcdm_worker``) and ``table`` when the message says."""

    def __init__(self, message: str, *, missing_privilege: str | None = None, table: str | None = None,
                 **kw: Any) -> None:
        super().__init__(message, **kw)
        self.missing_privilege = missing_privilege
        self.table = table


class NotAMember(PermissionDenied):
    """403 0x80072560: the app registration has no application user in this environment."""


class NotFound(DataverseError):
    """404, an unknown entity set / function segment, or a row that does not exist."""


class BadRequest(DataverseError):
    """400: Dataverse rejected the request itself (unknown column, bad $filter, …)."""


class Throttled(DataverseError):
    """429 after retries ran out (or the wait would pass the deadline); ``retry_after`` in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ChangeTrackingNotEnabled(DataverseError):
    """0x80072491: the table is not enabled for change tracking."""


class DeltaTokenExpired(DataverseError):
    """The stored delta link is no longer usable; the caller must run a full resync."""


class ServerError(DataverseError):
    """5xx after retries ran out."""


class PagingError(DataverseError):
    """The server broke the paging protocol (e.g. returned the same nextLink twice)."""


class ForeignHostError(DataverseError):
    """An absolute URL (nextLink/deltaLink) points outside the environment; following it would send
    the bearer token elsewhere (CWE-918), so it is refused."""


def request_id_of(headers: Any) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return str(value)
    return None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: an integer/decimal or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def parse_www_authenticate(value: str | None) -> dict[str, str]:
    """``Bearer authorization_uri=https://…, resource_id=https://…`` → dict (values may be quoted)."""
    if not value:
        return {}
    _, _, params = value.partition(" ")
    out: dict[str, str] = {}
    for part in params.split(","):
        key, sep, val = part.strip().partition("=")
        if sep:
            out[key.strip().lower()] = val.strip().strip('"')
    return out


def _error_body(resp: requests.Response) -> tuple[str, str]:
    """(code, message) from Dataverse's ``{"error":{"code","message"}}`` or a text fallback."""
    try:
        payload = json.loads(resp.content or b"null")
    except (ValueError, UnicodeDecodeError):
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        err = payload["error"]
        return str(err.get("code") or ""), str(err.get("message") or "")
    text = " ".join((resp.text or "").split())[:_MAX_TEXT]
    return "", text


def from_response(resp: requests.Response) -> DataverseError:
    """The typed error for a non-success Dataverse response."""
    status = resp.status_code
    code, text = _error_body(resp)
    kw: dict[str, Any] = {
        "status": status,
        "code": code or None,
        "request_id": request_id_of(resp.headers),
        "url": resp.url,
    }
    low = code.lower()
    message = text or f"Dataverse answered HTTP {status} {resp.reason or ''}".strip()
    if low == CHANGE_TRACKING_NOT_ENABLED:
        return ChangeTrackingNotEnabled(message, **kw)
    if low == EXPIRED_VERSION_STAMP:
        return DeltaTokenExpired(message, **kw)
    if low == NOT_A_MEMBER:
        return NotAMember(message, **kw)
    if status == 401:
        challenge = parse_www_authenticate(resp.headers.get("WWW-Authenticate"))
        return Unauthorized(
            text or "Dataverse rejected the access token",
            authorization_uri=challenge.get("authorization_uri"),
            resource_id=challenge.get("resource_id"),
            **kw,
        )
    if status == 403:
        priv = _MISSING_PRIVILEGE.search(text)
        table = _PRIVILEGE_ENTITY.search(text)
        return PermissionDenied(
            message,
            missing_privilege=priv.group(1) if priv else None,
            table=table.group(1) if table else None,
            **kw,
        )
    if status == 404 or low == OBJECT_DOES_NOT_EXIST or _UNKNOWN_SEGMENT in text:
        return NotFound(message, **kw)
    if status == 429:
        return Throttled(message, retry_after=parse_retry_after(resp.headers.get("Retry-After")), **kw)
    if status == 400:
        return BadRequest(message, **kw)
    if status >= 500:
        return ServerError(message, **kw)
    return DataverseError(message, **kw)


def network_error(exc: BaseException, url: str | None) -> NetworkError:
    """Classify a requests/urllib3 exception without echoing it verbatim (it can be very long)."""
    import requests
    import urllib3

    host = _host_of(url)
    text = str(exc)
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        return NetworkError(f"host {host} could not be resolved", reason="name_resolution", url=url)
    if isinstance(exc, requests.exceptions.SSLError):
        return NetworkError(f"TLS handshake with {host} failed: the server certificate is not trusted "
                            f"({_short(text)})", reason="tls", url=url)
    if isinstance(exc, requests.exceptions.Timeout):
        return NetworkError(f"{host} did not answer in time", reason="timeout", url=url)
    if "Connection refused" in text or "Errno 111" in text:
        return NetworkError(f"connection to {host} refused", reason="connection_refused", url=url)
    if "Name or service not known" in text or "getaddrinfo failed" in text or "nodename nor servname" in text:
        return NetworkError(f"host {host} could not be resolved", reason="name_resolution", url=url)
    return NetworkError(f"connection to {host} failed ({type(exc).__name__})", reason="connection", url=url)


def _host_of(url: str | None) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc if url else "the server"


def _short(text: str) -> str:
    match = re.search(r"certificate verify failed: [^')\]]+", text)
    return match.group(0) if match else "SSL error"
