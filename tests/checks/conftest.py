"""Check-test helpers: clients for any emulator, with short timeouts so failures are quick."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from hr_dataverse.dataverse import DataverseClient, DataverseSettings


def settings_for(info: dict[str, Any], **overrides: Any) -> DataverseSettings:
    """Settings for the emulator described by ``info``: a correct set-up unless overridden."""
    values: dict[str, Any] = {
        "environment_url": info["dataverse_url"],
        "tenant_id": info["tenant_id"],
        "client_id": info["client_id"],
        "client_secret": info["client_secret"],
        "authority_host": info["authority_host"],
        "ca_bundle": info["ca_bundle"],
        "client_secret_expires_on": date.today() + timedelta(days=300),
        "timeout": 10.0,
        "max_attempts": 2,
        "deadline": 20.0,
        "backoff_base": 0.05,
        "backoff_max": 0.2,
        "max_concurrency": 2,
    }
    values.update(overrides)
    return DataverseSettings(**values)


@pytest.fixture
def client_for() -> Iterator[Callable[..., DataverseClient]]:
    """``client_for(emulator, **setting_overrides)`` → a client; all are closed afterwards."""
    made: list[DataverseClient] = []

    def make(emu: Any, **overrides: Any) -> DataverseClient:
        client = DataverseClient(settings_for(emu.info, **overrides))
        made.append(client)
        return client

    yield make
    for c in made:
        c.close()
