"""Check-test helpers: clients for any emulator, with short timeouts so failures are quick."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from dataverse_emulator.testing import client_settings
from hr_dataverse.dataverse import DataverseClient, DataverseSettings


def settings_for(info: dict[str, Any], **overrides: Any) -> DataverseSettings:
    """A correct set-up (secret valid for 300 more days) unless overridden; fails fast."""
    values: dict[str, Any] = {
        "client_secret_expires_on": date.today() + timedelta(days=300),
        "max_attempts": 2, "deadline": 20.0, "backoff_base": 0.05, "backoff_max": 0.2,
    }
    values.update(overrides)
    return client_settings(info, **values)


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
