"""Airflow-side fixtures: a migrated metadata DB and Dataverse connections pointing at the emulator."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A fresh SQLite metadata DB in the session's AIRFLOW_HOME (tests/conftest.py), for dag.test()."""
    from airflow.utils import db

    db.initdb()


def connection_json(info: dict[str, Any], *, password: str | None = None, **extra: Any) -> str:
    """``AIRFLOW_CONN_*`` JSON for the emulator in ``info``; ``extra`` overrides/extends the extras."""
    extras: dict[str, Any] = {
        "tenant_id": info["tenant_id"],
        "authority_host": info["authority_host"],
        "ca_bundle": info["ca_bundle"],
        "client_secret_expires_on": (date.today() + timedelta(days=200)).isoformat(),
        "max_concurrency": 2,
    }
    extras.update(extra)
    return json.dumps({
        "conn_type": "dataverse",
        "host": info["dataverse_url"],
        "login": info["client_id"],
        "password": info["client_secret"] if password is None else password,
        "extra": {k: v for k, v in extras.items() if v is not None},
    })


@pytest.fixture
def conn_json() -> Any:
    """The :func:`connection_json` builder (test modules cannot import from conftest)."""
    return connection_json


@pytest.fixture
def dataverse_conn(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``dataverse_default`` (as an env-var connection) on a fresh emulator; returns the emulator."""
    monkeypatch.setenv("AIRFLOW_CONN_DATAVERSE_DEFAULT", connection_json(emulator.info))
    return emulator
