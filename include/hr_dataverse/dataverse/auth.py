"""App-only access tokens for Dataverse from Microsoft Entra ID (client credentials, via MSAL)."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msal
import requests
from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS
from msal.exceptions import MsalServiceError

from .errors import AuthError, network_error, parse_retry_after
from .session import pinned_session
from .settings import DataverseSettings

log = logging.getLogger(__name__)

_AADSTS = re.compile(r"AADSTS(\d+)")
TENANT_NOT_FOUND = 90002
# OAuth errors of a token endpoint that is throttling or briefly unavailable (RFC 6749 §5.2, Entra).
TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error"})
MSAL_DEFAULT_THROTTLE = 5.0  # seconds MSAL replays a 429/5xx token response that had no Retry-After
_HTTP_ERROR = re.compile(r"HTTP Error: (\d{3})")


@dataclass(frozen=True)
class AccessToken:
    token: str = field(repr=False)
    expires_on: float  # epoch seconds


class TokenProvider:
    """Thread-safe token source on one MSAL ``ConfidentialClientApplication`` and its token cache.

    The MSAL app is built on first use (building it runs tenant discovery over the network).
    ``on_new_token`` is called with each token fetched from Entra (not with cache hits), so an
    Airflow hook can register it with ``mask_secret``.
    """

    def __init__(self, settings: DataverseSettings,
                 *, on_new_token: Callable[[str], None] | None = None, scope: str | None = None) -> None:
        self.settings = settings
        self.on_new_token = on_new_token
        self.scope = scope or settings.scope  # another resource with the same app (Microsoft Graph)
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()
        self._secrets = [s for s in (settings.client_secret,) if s]
        self._http = pinned_session(settings)
        self._replayed_until = 0.0  # monotonic time until which MSAL replays a failed token response
        self._http.hooks["response"].append(self._note_failure)

    def close(self) -> None:
        self._http.close()

    def get_token(self, force_refresh: bool = False) -> AccessToken:
        with self._lock:
            app = self._get_app()
            if force_refresh:
                # MSAL refuses force_refresh for this grant; dropping the cached token has the same effect.
                cache = app.token_cache
                for item in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                    cache.remove_at(item)
            try:
                result = app.acquire_token_for_client(scopes=[self.scope])
            except requests.RequestException as exc:
                err = network_error(exc, self.settings.authority)
                if err.reason in ("connection", "timeout"):
                    raise AuthError(f"token endpoint unreachable: {err.message}", error="network",
                                    transient=True) from None
                raise err from None
            except MsalServiceError as exc:
                status_match = _HTTP_ERROR.search(str(exc))  # MSAL's text for a 5xx: "HTTP Error: 503"
                status = int(status_match.group(1)) if status_match else None
                transient = status is not None and (status == 429 or status >= 500)
                raise AuthError(f"token endpoint failed: {self._scrub(str(exc))}", status=status,
                                error="server_error" if transient else None, transient=transient,
                                retry_after=self._replay_seconds() if transient else None) from None
        if "access_token" not in result:
            raise self._auth_error(result)
        token = result["access_token"]
        if result.get("token_source") == "identity_provider" and self.on_new_token is not None:
            self.on_new_token(token)
        return AccessToken(token, time.time() + float(result.get("expires_in", 0)))

    def _get_app(self) -> msal.ConfidentialClientApplication:
        if self._app is not None:
            return self._app
        s = self.settings
        credential: Any = s.client_secret or (s.certificate.to_msal() if s.certificate else None)
        host = s.authority_host.split(":", 1)[0].lower()
        known = host in WELL_KNOWN_AUTHORITY_HOSTS and ":" not in s.authority_host
        try:
            self._app = msal.ConfidentialClientApplication(
                s.client_id,
                client_credential=credential,
                authority=s.authority,
                # Unknown hosts (sovereign proxies, the local emulator) would trigger instance
                # discovery against login.microsoftonline.com; the tenant discovery still runs.
                validate_authority=known,
                instance_discovery=None if known else False,
                http_client=self._http,
                token_cache=msal.TokenCache(),
            )
        except requests.RequestException as exc:
            raise network_error(exc, s.authority) from None
        except MsalServiceError as exc:  # tenant discovery answered 5xx
            raise AuthError(f"tenant discovery at {s.authority_host} failed: {self._scrub(str(exc))}") from None
        except ValueError as exc:
            text = str(exc)
            if "authority configuration" in text or "OIDC Discovery failed" in text:
                raise AuthError(
                    f"AADSTS{TENANT_NOT_FOUND}: tenant {s.tenant_id!r} was not found at {s.authority_host} "
                    "(tenant discovery failed); check the tenant ID",
                    aadsts=TENANT_NOT_FOUND, error="invalid_tenant",
                ) from None
            raise AuthError(f"cannot set up the Entra ID client: {self._scrub(text)}") from None
        return self._app

    def _auth_error(self, result: dict[str, Any]) -> AuthError:
        description = str(result.get("error_description") or result.get("error") or "token request failed")
        codes = result.get("error_codes") or []
        match = _AADSTS.search(description)
        aadsts = int(codes[0]) if codes else (int(match.group(1)) if match else None)
        first_line = self._scrub(description.splitlines()[0].strip())
        return AuthError(
            first_line,
            aadsts=aadsts,
            error=result.get("error"),
            request_id=result.get("trace_id") or result.get("correlation_id"),
            transient=result.get("error") in TRANSIENT_ERRORS,
            retry_after=self._replay_seconds() if result.get("error") in TRANSIENT_ERRORS else None,
        )

    def _note_failure(self, resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Response hook: when a throttled/unavailable token response may be replayed until. MSAL answers
        identical requests from its cache for Retry-After seconds (5 without the header), so a retry
        sooner would only see the same failure again."""
        if resp.status_code == 429 or resp.status_code >= 500:
            seconds = parse_retry_after(resp.headers.get("Retry-After"))
            self._replayed_until = time.monotonic() + (MSAL_DEFAULT_THROTTLE if seconds is None else seconds)

    def _replay_seconds(self) -> float:
        return max(0.0, self._replayed_until - time.monotonic())

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text
