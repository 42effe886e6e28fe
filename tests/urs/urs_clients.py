"""A Dataverse client on an emulator, for the URS tests (a module of its own: test files cannot
import from ``conftest``, whose module name is shared by every test folder)."""

from __future__ import annotations

from typing import Any

from dataverse_emulator.testing import client_settings
from hr_dataverse.dataverse import DataverseClient


def client_for(info: dict[str, Any]) -> DataverseClient:
    return DataverseClient(client_settings(info, backoff_base=0.05, backoff_max=0.2))
