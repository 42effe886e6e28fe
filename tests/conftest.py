"""Shared fixtures. Airflow's environment is fixed here, before anything imports airflow."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="hr-dv-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)  # never ~/airflow, never the dev's .airflow
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")

import pytest  # noqa: E402

from dataverse_emulator.testing import RunningEmulator, running_emulator  # noqa: E402

POSTGRES_URL = os.environ.get("HR_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def emulator_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One CA for the whole session (certificate generation is the slow part of start-up)."""
    return tmp_path_factory.mktemp("emulator-tls")


@pytest.fixture
def emulator(emulator_state_dir: Path) -> Iterator[RunningEmulator]:
    """A fresh emulator (small seeded data set) over real TLS on a free loopback port."""
    with running_emulator(emulator_state_dir) as emu:
        yield emu


@pytest.fixture
def emulator_factory(emulator_state_dir: Path):
    """Start emulators with custom settings: ``emulator_factory(scale=500, protection_profile="hr")``."""
    from contextlib import ExitStack

    with ExitStack() as stack:
        yield lambda **overrides: stack.enter_context(running_emulator(emulator_state_dir, **overrides))


@pytest.fixture
def open_client():
    """``open_client(settings)`` → a ``DataverseClient``; every client is closed when the test ends."""
    from hr_dataverse.dataverse import DataverseClient

    made: list[DataverseClient] = []

    def make(settings) -> DataverseClient:
        made.append(DataverseClient(settings))
        return made[-1]

    yield make
    for client in made:
        client.close()


def _postgres_reachable() -> str | None:
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"; the reason is shown
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """PostgreSQL on 127.0.0.1:5432 (user postgres, db test). Skips locally without it; fails in CI."""
    problem = _postgres_reachable()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL tests must run in CI but the server is unreachable: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {problem}")
    return POSTGRES_URL


# --- Airflow: a migrated metadata DB and Dataverse connections pointing at the emulator -------------


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A fresh SQLite metadata DB in the session's AIRFLOW_HOME (set above), for dag.test()."""
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


@pytest.fixture(scope="session")
def conn_json() -> Any:
    """The :func:`connection_json` builder (test modules cannot import from conftest)."""
    return connection_json


@pytest.fixture
def dataverse_conn(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``dataverse_default`` (as an env-var connection) on a fresh emulator; returns the emulator."""
    monkeypatch.setenv("AIRFLOW_CONN_DATAVERSE_DEFAULT", connection_json(emulator.info))
    return emulator
