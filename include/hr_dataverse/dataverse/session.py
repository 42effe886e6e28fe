"""requests sessions whose TLS trust cannot be overridden by the environment.

requests lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` win over ``Session.verify`` (psf/requests
#3829), so a configured ``ca_bundle`` would be ignored on machines that set those variables.
Passing ``verify`` with every request wins over the environment, proxies from it still apply.
"""

from __future__ import annotations

import functools
import http.cookiejar

import requests
from requests.adapters import HTTPAdapter

from .settings import DataverseSettings


def tls_verify(settings: DataverseSettings) -> str | bool:
    return settings.ca_bundle or True


def pinned_session(settings: DataverseSettings, *, pool_size: int = 1) -> requests.Session:
    """A session that always sends ``verify`` (and a default timeout) and keeps no cookies."""
    session = requests.Session()
    session.mount("https://", HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0))
    session.verify = tls_verify(settings)
    # Dataverse pins clients to one web server with an affinity cookie; without it requests
    # spread over servers, each with its own service-protection budget (api-limits guidance).
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    session.request = functools.partial(  # type: ignore[method-assign]
        session.request, verify=session.verify, timeout=settings.timeout
    )
    return session
