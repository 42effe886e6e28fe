"""HTTP transport for the Dataverse Web API: auth header, retries, throttling, host pinning.

Retry policy (all bounded by ``settings.max_attempts`` and the overall ``settings.deadline``):

* 429: wait exactly ``Retry-After`` (seconds or HTTP date), as Dataverse's service protection
  asks; the wait is never shortened or jittered.
* 503, and 502/504 plus timeouts, resets and truncated bodies on idempotent requests: exponential
  backoff with full jitter, or ``Retry-After`` when the server sends one. Failures before the
  request left the machine (connect timeout/refused) are retried for every method.
* 401: exactly one token refresh and retry.
* Anything else (400/403/404/412/…): the typed error at once.
"""

from __future__ import annotations

import json as jsonlib
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests
import urllib3

from .auth import TokenProvider
from .errors import (
    AuthError,
    DataverseError,
    ForeignHostError,
    Throttled,
    from_response,
    network_error,
    parse_retry_after,
    request_id_of,
)
from .session import pinned_session, tls_verify
from .settings import DataverseSettings

log = logging.getLogger(__name__)

DEFAULT_HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
_ALWAYS_RETRY = {503}  # the front end refused the request before processing it
_RETRY_IF_IDEMPOTENT = {502, 504}
# Kept literal in query strings so URLs stay readable ($select, quotes, commas, aliases).
_QUERY_SAFE = "$'(),:/@!*"


@dataclass(frozen=True)
class Response:
    """A successful answer. ``data`` is the parsed JSON body (None when empty or not JSON-expected)."""

    status: int
    headers: Mapping[str, str]
    url: str
    content: bytes = field(repr=False)
    data: Any = field(repr=False)
    request_id: str | None = None

    @property
    def text(self) -> str:
        return self.content.decode("utf-8-sig", errors="replace")


@dataclass
class TransportStats:
    requests: int = 0
    retries: int = 0
    throttled_429: int = 0
    wait_seconds: float = 0.0
    token_refreshes: int = 0


class DataverseClient:
    """Dataverse Web API client for one environment. Thread-safe; share one per worker.

    ``session``, ``sleep`` and ``clock`` are injectable for tests; a session passed in keeps its
    pool and cookie settings (``verify`` is still sent with every request).
    """

    def __init__(
        self,
        settings: DataverseSettings,
        *,
        token_provider: TokenProvider | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_new_token: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings.validate()
        self.tokens = token_provider or TokenProvider(settings, on_new_token=on_new_token)
        self.session = session or pinned_session(settings, pool_size=settings.max_concurrency)
        self._owned = [c for c, given in ((self.tokens, token_provider), (self.session, session)) if given is None]
        self._verify = tls_verify(settings)
        self.stats = TransportStats()
        self.dop_hint: int | None = None
        self._sleep = sleep
        self._clock = clock
        self._random = random.Random()
        self._lock = threading.Lock()
        origin = urlsplit(settings.environment_root)
        self._origin = _origin(origin.scheme, origin.hostname, origin.port)

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    def close(self) -> None:
        """Close the HTTP session and token provider built here (ones passed in stay open)."""
        for owned in self._owned:
            owned.close()

    def __enter__(self) -> DataverseClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def whoami(self) -> dict[str, Any]:
        """``WhoAmI``: UserId, BusinessUnitId, OrganizationId of the application user."""
        return self.request("GET", "WhoAmI").data

    def url_for(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> str:
        """Absolute URL for a path under ``base_url``; absolute URLs must be on the environment's host."""
        if urlsplit(path_or_url).scheme:
            parts = urlsplit(path_or_url)
            if _origin(parts.scheme, parts.hostname, parts.port) != self._origin:
                raise ForeignHostError(
                    f"refusing to follow {parts.scheme}://{parts.netloc}: only "
                    f"{self.settings.environment_root} may receive the access token",
                    url=path_or_url,
                )
            url = path_or_url
        else:
            url = self.base_url + path_or_url.lstrip("/")
        if params:
            query = urlencode({k: str(v) for k, v in params.items()}, quote_via=quote, safe=_QUERY_SAFE)
            url += ("&" if "?" in url else "?") + query
        return url

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        data: bytes | str | None = None,
        expect_json: bool = True,
        idempotent: bool | None = None,
    ) -> Response:
        """Send one request with retries; return the 2xx/304 response or raise a typed error.

        ``path_or_url`` is relative to ``base_url`` or an absolute nextLink/deltaLink, which is
        sent verbatim. ``idempotent`` overrides the method-based guess (e.g. True for
        ``UpsertMultiple``) and decides whether ambiguous failures are retried.
        """
        method = method.upper()
        url = self.url_for(path_or_url, params)
        safe_to_repeat = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        base_headers = dict(DEFAULT_HEADERS)
        if method == "GET":
            base_headers["If-None-Match"] = "null"  # never a cached answer
        base_headers.update(headers or {})
        started = self._clock()
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            try:
                token = self.tokens.get_token()
            except AuthError as err:  # a throttled or unavailable token endpoint is retried like Dataverse
                if not err.transient:
                    raise
                wait = max(err.retry_after or 0.0, self._backoff(attempt))
                self._retry_or_raise(err, attempt, started, wait)
                continue
            remaining = self.settings.deadline - (self._clock() - started)
            self._count(requests=1)
            try:
                raw = self.session.request(
                    method, url, json=json, data=data, allow_redirects=False, verify=self._verify,
                    headers={**base_headers, "Authorization": f"Bearer {token.token}"},
                    timeout=max(0.001, min(self.settings.timeout, remaining)),
                )
            except requests.exceptions.SSLError as exc:
                raise network_error(exc, url) from None
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                err = network_error(exc, url)
                if not (safe_to_repeat or _not_sent(exc)):
                    raise err from None
                self._retry_or_raise(err, attempt, started, self._backoff(attempt))
                continue
            self._note_hint(raw)
            status = raw.status_code
            if 200 <= status < 300 or status == 304:
                body, bad_json = _parse(raw, expect_json)
                if bad_json is None:
                    return Response(status, raw.headers, url, raw.content, body, request_id_of(raw.headers))
                if not safe_to_repeat:
                    raise bad_json
                self._retry_or_raise(bad_json, attempt, started, self._backoff(attempt))
                continue
            if status == 401 and not refreshed:
                refreshed = True
                attempt -= 1  # the single refresh is not a retry attempt
                self._count(token_refreshes=1)
                log.info("Dataverse answered 401 for %s %s; refreshing the token once", method, _path(url))
                self.tokens.get_token(force_refresh=True)
                continue
            err = from_response(raw)
            if status == 429:
                self._count(throttled_429=1)
                wait = err.retry_after if isinstance(err, Throttled) and err.retry_after is not None \
                    else self._backoff(attempt)
                self._retry_or_raise(err, attempt, started, wait)
            elif status in _ALWAYS_RETRY or (status in _RETRY_IF_IDEMPOTENT and safe_to_repeat):
                hinted = parse_retry_after(raw.headers.get("Retry-After"))
                self._retry_or_raise(err, attempt, started, hinted if hinted is not None else self._backoff(attempt))
            else:
                err.attempts = attempt
                raise err

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** (attempt - 1))
        return self._random.uniform(0, ceiling)

    def _retry_or_raise(self, err: DataverseError, attempt: int, started: float, wait: float) -> None:
        """Sleep ``wait`` and return, or raise ``err`` when attempts or the deadline are used up."""
        err.attempts = attempt
        if attempt >= self.settings.max_attempts:
            raise err
        if self._clock() - started + wait > self.settings.deadline:
            log.warning("not retrying %s: waiting %.1fs would pass the %.0fs deadline", err.url and _path(err.url),
                        wait, self.settings.deadline)
            raise err
        self._count(retries=1, wait_seconds=wait)
        log.info("retrying in %.2fs after %s (attempt %d of %d)", wait, err.message[:120], attempt,
                 self.settings.max_attempts)
        self._sleep(wait)

    def _count(self, **deltas: float) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self.stats, name, getattr(self.stats, name) + delta)

    def _note_hint(self, raw: requests.Response) -> None:
        hint = raw.headers.get("x-ms-dop-hint")
        if hint and hint.strip().isdigit():
            self.dop_hint = int(hint)


def _origin(scheme: str, host: str | None, port: int | None) -> tuple[str, str, int]:
    scheme = scheme.lower()
    return scheme, (host or "").lower(), port or (443 if scheme == "https" else 80)


def _not_sent(exc: Exception) -> bool:
    """True when the failure happened while connecting, so the server never saw the request."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.ConnectTimeoutError)  # includes NewConnectionError


def _parse(raw: requests.Response, expect_json: bool) -> tuple[Any, DataverseError | None]:
    if not expect_json or not raw.content:
        return None, None
    try:
        return jsonlib.loads(raw.content), None
    except (ValueError, UnicodeDecodeError):
        return None, DataverseError(
            "response body is not valid JSON (truncated?)", status=raw.status_code,
            request_id=request_id_of(raw.headers), url=raw.url,
        )


def _path(url: str) -> str:
    return urlsplit(url).path
