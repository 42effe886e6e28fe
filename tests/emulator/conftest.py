"""Helpers for Web API tests: an authenticated ``requests`` session against the emulator over TLS; the
handler tests' clock and Entra."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msal
import pytest
import requests

from dataverse_emulator.clock import Clock
from dataverse_emulator.config import EmulatorConfig
from dataverse_emulator.entra import Entra
from dataverse_emulator.testing import RunningEmulator, running_emulator

LOOPBACK = "https://127.0.0.1:8443"  # the handler tests' Entra and Dataverse origin (no server runs)
# requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's ``verify``; the emulator CA must win.
_CA_ENV = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@dataclass
class WebApiClient:
    """A session with a bearer token for the emulator's default app, rooted at ``…/api/data/v9.2/``."""

    session: requests.Session
    api: str
    emulator: RunningEmulator

    @property
    def app(self) -> Any:
        return self.emulator.app

    def reauthenticate(self) -> None:
        """Fetch a new token (after moving the emulator clock past the old one's lifetime)."""
        self.session.headers["Authorization"] = f"Bearer {access_token(self.emulator.info)}"

    def get(self, path: str, *, prefer: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0",
                   **kwargs.pop("headers", {})}
        if prefer is not None:
            headers["Prefer"] = prefer
        url = path if path.startswith("https://") else self.api + path
        return self.session.get(url, headers=headers, **kwargs)


def access_token(info: dict[str, Any]) -> str:
    app = msal.ConfidentialClientApplication(
        info["client_id"], client_credential=info["client_secret"], authority=info["authority"],
        verify=info["ca_bundle"], instance_discovery=False,
    )
    result = app.acquire_token_for_client([info["dataverse_url"] + "/.default"])
    assert "access_token" in result, result
    return result["access_token"]


def web_api_client(emulator: RunningEmulator) -> WebApiClient:
    session = requests.Session()
    session.verify = emulator.info["ca_bundle"]
    session.trust_env = False  # no proxies or CA bundles from the environment
    session.headers["Authorization"] = f"Bearer {access_token(emulator.info)}"
    return WebApiClient(session, emulator.info["api_url"], emulator)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def entra(config: EmulatorConfig, clock: Clock) -> Entra:
    """Entra with the default tenant and apps for the environment at ``LOOPBACK``; each module's
    ``config`` fixture gives the seed."""
    return Entra.with_defaults(config, clock, LOOPBACK)


@pytest.fixture
def dv(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebApiClient]:
    """Authenticated client on a fresh emulator (tests that change data, security or the clock)."""
    for name in _CA_ENV:
        monkeypatch.delenv(name, raising=False)
    client = web_api_client(emulator)
    yield client
    client.session.close()


@pytest.fixture(scope="module")
def emu(emulator_state_dir: Path) -> Iterator[RunningEmulator]:
    """One running emulator per test module (the conformance tests' clients connect to it)."""
    with running_emulator(emulator_state_dir) as running:
        yield running


@pytest.fixture(scope="module")
def shared_dv(emulator_state_dir: Path) -> Iterator[WebApiClient]:
    """Authenticated client on one emulator per test module, for tests that only read."""
    saved = {name: os.environ.pop(name) for name in _CA_ENV if name in os.environ}
    try:
        with running_emulator(emulator_state_dir) as emu:
            client = web_api_client(emu)
            yield client
            client.session.close()
    finally:
        os.environ.update(saved)
