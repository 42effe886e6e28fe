"""Fixtures for sync tests: a client on the emulator fixture and warehouses on SQLite or PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from shared_helpers import drop_schemas
from sync_helpers import settings_for

from hr_dataverse.dataverse import DataverseClient
from hr_dataverse.warehouse import Warehouse


@dataclass
class Warehouses:
    """Opens warehouses of one backend; each ``name`` is its own SQLite file or PostgreSQL schema."""

    backend: str
    tmp_path: Path
    postgres_url: str | None = None
    prefix: str = field(default_factory=lambda: f"s_{uuid.uuid4().hex[:10]}")
    opened: list[Warehouse] = field(default_factory=list)

    def location(self, name: str = "main") -> tuple[str, str | None]:
        """(URL, schema) of the warehouse ``name`` (for child processes)."""
        if self.backend == "sqlite":
            return f"sqlite:///{self.tmp_path / f'{name}.db'}", None
        assert self.postgres_url is not None
        return self.postgres_url, f"{self.prefix}_{name}"

    def open(self, name: str = "main") -> Warehouse:
        url, schema = self.location(name)
        wh = Warehouse(url, schema=schema)
        self.opened.append(wh)
        return wh

    def close(self) -> None:
        for wh in self.opened:
            wh.dispose()
        if self.backend == "postgres":
            drop_schemas(self.postgres_url, self.prefix)


def _warehouses(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[Warehouses]:
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    made = Warehouses(backend, tmp_path, url)
    yield made
    made.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouses(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouses]:
    """Warehouses on SQLite, then (same test again) on PostgreSQL."""
    yield from _warehouses(request, request.param, tmp_path)


@pytest.fixture
def sqlite_warehouses(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouses]:
    yield from _warehouses(request, "sqlite", tmp_path)


@pytest.fixture
def make_client(open_client: Any) -> Callable[..., DataverseClient]:
    """``make_client(emulator, **setting_overrides)``; every client is closed afterwards."""
    return lambda emu, **overrides: open_client(settings_for(emu.info, **overrides))


@pytest.fixture
def client(make_client: Callable[..., DataverseClient], emulator: Any) -> DataverseClient:
    return make_client(emulator)
