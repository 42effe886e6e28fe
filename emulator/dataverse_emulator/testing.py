"""Start an in-process emulator over real TLS (pytest fixtures and scripts use this)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .config import EmulatorConfig
from .server import EmulatorServer


class RunningEmulator:
    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.app = server.emulator
        self.info: dict[str, Any] = server.info


@contextmanager
def running_emulator(state_dir: Path, **overrides: Any) -> Iterator[RunningEmulator]:
    overrides.setdefault("scale", 40)
    config = EmulatorConfig(state_dir=state_dir, **overrides)
    server = EmulatorServer(config).start()
    try:
        yield RunningEmulator(server)
    finally:
        server.stop()


def access_token(info: dict[str, Any]) -> str:
    """A client-credentials token for the emulator's default app, acquired through MSAL."""
    import msal
    import requests

    http = requests.Session()
    http.verify = info["ca_bundle"]
    http.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override verify
    app = msal.ConfidentialClientApplication(
        info["client_id"], client_credential=info["client_secret"], authority=info["authority"],
        http_client=http, instance_discovery=False,
    )
    result = app.acquire_token_for_client([info["dataverse_url"] + "/.default"])
    if "access_token" not in result:
        raise RuntimeError(f"emulator refused the token request: {result.get('error_description')}")
    return result["access_token"]


def authenticated_session(info: dict[str, Any]):
    """A ``requests.Session`` trusting the emulator CA, with a bearer token and OData headers."""
    import requests

    session = requests.Session()
    session.verify = info["ca_bundle"]
    session.trust_env = False
    session.headers.update({
        "Authorization": f"Bearer {access_token(info)}",
        "Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0",
    })
    return session


# Short timeouts and backoff: a test against a local emulator should fail in seconds, not minutes.
FAST_CLIENT = {
    "timeout": 10.0, "max_attempts": 4, "deadline": 30.0,
    "backoff_base": 0.1, "backoff_max": 0.5, "max_concurrency": 2,
}


def client_settings(info: dict[str, Any], **overrides: Any):
    """``hr_dataverse`` client settings wired to the emulator described by its ready line ``info``."""
    from hr_dataverse.dataverse import DataverseSettings

    values: dict[str, Any] = {
        "environment_url": info["dataverse_url"], "tenant_id": info["tenant_id"],
        "client_id": info["client_id"], "client_secret": info["client_secret"],
        "authority_host": info["authority_host"], "ca_bundle": info["ca_bundle"], **FAST_CLIENT,
    }
    values.update(overrides)
    return DataverseSettings(**values)
