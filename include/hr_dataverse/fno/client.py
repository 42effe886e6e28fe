"""Finance and operations (F&O) OData client: HR data Dataverse does not surface (worker benefit
enrollments have no ``cdm_`` table), read from ``<fno_url>/data/<PublicCollectionName>``.

Guarantees:

* its own token audience: the same app registration (tenant, client id, secret or certificate) as
  the Dataverse connection, asking Entra for ``<fno_url>/.default`` — a Dataverse token is never
  sent to F&O, nor the F&O token anywhere but ``fno_url`` (``@odata.nextLink`` on another host is
  refused);
* ``cross-company=true`` on every read unless switched off (F&O otherwise returns the service
  user's default company only);
* paged by ``@odata.nextLink`` (F&O serves at most 10,000 rows a page);
* 429 waits ``Retry-After`` seconds (priority-based throttling: a request not retried is not
  processed), 502/503/504 and dropped connections back off; both within ``max_attempts`` and
  ``deadline`` of the Dataverse settings; one token refresh on 401;
* F&O's error body (``{"error": {"message", "innererror": {"message", "type"}}}``) becomes an
  ``FnoError`` whose message says what to fix (app registration, security role, collection name).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests

from ..dataverse.auth import TokenProvider
from ..dataverse.errors import (
    ConfigError,
    DataverseError,
    ForeignHostError,
    Throttled,
    network_error,
    parse_retry_after,
    request_id_of,
)
from ..dataverse.session import pinned_session
from ..dataverse.settings import DataverseSettings

log = logging.getLogger(__name__)
_RETRY = {502, 503, 504}
_HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}


class FnoError(DataverseError):
    """F&O refused or failed a request; ``message`` names the cause and what to fix."""


@dataclass(frozen=True)
class FnoSettings:
    """Where F&O is. ``url``: the environment root, e.g. ``https://contoso.operations.dynamics.com``
    (a path is accepted for proxies and the local emulator); it is also the token audience."""

    url: str
    cross_company: bool = True

    @property
    def root(self) -> str:
        return self.url.rstrip("/")

    def validate(self) -> FnoSettings:
        parts = urlsplit((self.url or "").strip())
        if parts.scheme != "https" or not parts.hostname:
            raise ConfigError("fno_url", f"expected the F&O environment URL such as "
                                         f"https://contoso.operations.dynamics.com, got {self.url!r}")
        if parts.query or parts.fragment or parts.path.rstrip("/").endswith("/data"):
            raise ConfigError("fno_url", f"give the environment root without /data, query or fragment, got {self.url!r}")
        return self


@dataclass
class FnoPage:
    rows: list[dict[str, Any]]
    next_link: str | None


class FnoClient:
    """One F&O environment; ``identity`` supplies the app registration, timeouts and retry limits."""

    def __init__(self, identity: DataverseSettings, settings: FnoSettings, *,
                 session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep,
                 on_new_token: Callable[[str], None] | None = None) -> None:
        self.settings = settings.validate()
        # Same app, F&O audience: the token provider asks for <fno_url>/.default.
        self.identity = replace(identity, environment_url=self.settings.root)
        self.tokens = TokenProvider(self.identity, on_new_token=on_new_token)
        self.session = session or pinned_session(identity)
        self._owned = session is None
        self._sleep = sleep
        self._random = random.Random()
        self.requests = 0
        self.throttled = 0
        origin = urlsplit(self.settings.root)
        self._origin = (origin.scheme, origin.hostname, origin.port)

    def close(self) -> None:
        self.tokens.close()
        if self._owned:
            self.session.close()

    def __enter__(self) -> FnoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reads ---------------------------------------------------------------------------------

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        url = f"{self.settings.root}/data/{path.lstrip('/')}"
        query = dict(params or {})
        if self.settings.cross_company and not path.startswith("$metadata"):
            query.setdefault("cross-company", "true")
        if query:
            url += "?" + urlencode({k: str(v) for k, v in query.items()}, quote_via=quote, safe="$,'")
        return url

    def metadata(self) -> str:
        """The CSDL document (``/data/$metadata``)."""
        return self.get(self.url("$metadata"), accept="application/xml").text

    def count(self, collection: str) -> int:
        """``<collection>/$count`` across companies (what a complete read must reach)."""
        text = self.get(self.url(f"{collection}/$count"), accept="text/plain").text.strip()
        if not text.isdigit():
            raise FnoError(f"F&O answered {collection}/$count with {text[:40]!r}, not a number")
        return int(text)

    def pages(self, collection: str, select: list[str] | None = None) -> Iterator[FnoPage]:
        """Every page of ``collection``, following ``@odata.nextLink`` until there is none."""
        url: str | None = self.url(collection, {"$select": ",".join(select)} if select else None)
        while url is not None:
            body = self.get(url).json()
            link = body.get("@odata.nextLink")
            yield FnoPage(list(body.get("value") or []), link)
            url = link

    # --- transport -----------------------------------------------------------------------------

    def _check_host(self, url: str) -> None:
        parts = urlsplit(url)
        if (parts.scheme, parts.hostname, parts.port) != self._origin:
            raise ForeignHostError(f"refusing to follow {parts.scheme}://{parts.netloc}: only {self.settings.root} "
                                   "may receive the F&O access token", url=url)

    def get(self, url: str, *, accept: str = "application/json") -> requests.Response:
        self._check_host(url)
        started = time.monotonic()
        attempt, refreshed = 0, False
        limits = self.identity
        while True:
            attempt += 1
            token = self.tokens.get_token()
            self.requests += 1
            try:
                raw = self.session.get(url, headers={**_HEADERS, "Accept": accept,
                                                     "Authorization": f"Bearer {token.token}"},
                                       allow_redirects=False, timeout=limits.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                self._wait_or_raise(network_error(exc, url), attempt, started, self._backoff(attempt))
                continue
            if 200 <= raw.status_code < 300:
                return raw
            if raw.status_code == 401 and not refreshed:
                refreshed, attempt = True, attempt - 1
                self.tokens.get_token(force_refresh=True)
                continue
            error = fno_error(raw, url, client_id=limits.client_id)
            if raw.status_code == 429:
                self.throttled += 1
                wait = parse_retry_after(raw.headers.get("Retry-After"))
                self._wait_or_raise(error, attempt, started, wait if wait is not None else self._backoff(attempt))
            elif raw.status_code in _RETRY:
                self._wait_or_raise(error, attempt, started, self._backoff(attempt))
            else:
                error.attempts = attempt
                raise error

    def _backoff(self, attempt: int) -> float:
        return self._random.uniform(0, min(self.identity.backoff_max, self.identity.backoff_base * 2 ** (attempt - 1)))

    def _wait_or_raise(self, error: DataverseError, attempt: int, started: float, wait: float) -> None:
        error.attempts = attempt
        if attempt >= self.identity.max_attempts or time.monotonic() - started + wait > self.identity.deadline:
            raise error
        log.info("F&O: retrying in %.2fs after %s (attempt %d of %d)", wait, error.message[:120], attempt,
                 self.identity.max_attempts)
        self._sleep(wait)


def fno_error(raw: requests.Response, url: str, *, client_id: str) -> DataverseError:
    """A typed error with the F&O message and the fix for the status."""
    status, request_id = raw.status_code, request_id_of(raw.headers)
    try:
        body = raw.json().get("error") or {}
    except ValueError:
        body = {}
    inner = body.get("innererror") or {}
    detail = inner.get("message") or body.get("message") or raw.text[:200] or raw.reason
    kind = f" ({inner['type']})" if inner.get("type") else ""
    path = urlsplit(url).path
    if status == 429:
        return Throttled(f"F&O throttled the request to {path} (priority-based throttling); retries ran out",
                         retry_after=parse_retry_after(raw.headers.get("Retry-After")), status=status,
                         request_id=request_id, url=url)
    if status == 401:
        message = (f"F&O refused the access token for {path} (HTTP 401): register the app {client_id} in F&O under "
                   "System administration > Setup > Microsoft Entra applications, mapped to an enabled service user, "
                   "and check fno_url (the token audience is that URL, without a trailing slash)")
    elif status == 403:
        message = (f"F&O denied {path} (HTTP 403): give the service user mapped to app {client_id} a security role "
                   f"that can read this data entity. F&O says: {detail}{kind}")
    elif status == 404:
        message = (f"F&O has no data entity collection at {path} (HTTP 404): check the public collection name in "
                   f"/data/$metadata (fno_entity in the catalog). F&O says: {detail}{kind}")
    else:
        message = f"F&O answered HTTP {status} for {path}: {detail}{kind}"
    return FnoError(message, status=status, request_id=request_id, url=url)
