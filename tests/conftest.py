"""Shared fixtures. Airflow's environment is fixed here, before anything imports airflow."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

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
