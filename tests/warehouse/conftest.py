"""Every warehouse test runs on a SQLite file and on PostgreSQL (own schema per test)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from shared_helpers import drop_schemas
from warehouse_fakes import Target

from hr_dataverse.warehouse import Warehouse


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    opened: list[Warehouse] = []
    if request.param == "sqlite":
        yield Target("sqlite", f"sqlite:///{tmp_path / 'warehouse.db'}", None, opened)
        for wh in opened:
            wh.dispose()
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    yield Target("postgres", url, schema, opened)
    for wh in opened:
        wh.dispose()
    drop_schemas(url, schema)


@pytest.fixture
def warehouse(target: Target) -> Warehouse:
    return target.open()


