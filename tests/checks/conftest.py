"""Check-test helpers: clients for any emulator, with short timeouts so failures are quick."""

from __future__ import annotations

from collections.abc import Callable
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
def client_for(open_client: Any) -> Callable[..., DataverseClient]:
    """``client_for(emulator, **setting_overrides)`` → a client; all are closed afterwards."""
    return lambda emu, **overrides: open_client(settings_for(emu.info, **overrides))
