"""URS mapping fixtures: a client on the emulator, a SQLite warehouse, and HR syncs through the sync engine."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from urs_clients import client_for

from hr_dataverse.catalog import load_catalog
from hr_dataverse.dataverse import DataverseClient
from hr_dataverse.dataverse.writes import BulkSupport
from hr_dataverse.sync import sync_table
from hr_dataverse.urs import MappingResult, MappingSettings, run_mapping
from hr_dataverse.warehouse import Warehouse

# The catalog tables the mapping reads.
HR_TABLES = ("cdm_worker", "cdm_employment", "mshr_hcmratingmodelentity", "mshr_hcmratinglevelentity",
             "mshr_hcmskillentity", "mshr_hcmcertificatetypeentity", "mshr_hcmworkerskillentity",
             "mshr_hcmworkercertificateentity")




class Env:
    """An emulator, a client on it and a warehouse; ``sync()`` lands HR data, ``map()`` runs the mapping."""

    def __init__(self, emu: Any, client: DataverseClient, warehouse: Warehouse) -> None:
        self.emu = emu
        self.app = emu.app
        self.store = emu.app.store
        self.client = client
        self.warehouse = warehouse
        self.support = BulkSupport()  # per test: what one environment's tables support is not shared
        self._runs = itertools.count(1)
        self._catalog = load_catalog()

    @property
    def today(self) -> date:
        return self.app.clock.now().date()

    def sync(self) -> None:
        run_id = f"sync-{next(self._runs)}"
        for name in HR_TABLES:
            sync_table(self.client, self.warehouse, self._catalog.get(name), run_id=run_id)

    def map(self, settings: MappingSettings | None = None, **kw: Any) -> MappingResult:
        kw.setdefault("today", self.today)
        return run_mapping(self.client, self.warehouse, settings or MappingSettings(),
                           run_id=f"map-{next(self._runs)}", support=self.support, **kw)

    def writes(self) -> list[Any]:
        """Write requests the emulator received since the log was last cleared."""
        return [e for e in self.app.request_log if e.method != "GET"]


@pytest.fixture
def make_env(emulator_factory: Callable[..., Any], tmp_path: Path) -> Iterator[Callable[..., Env]]:
    """``make_env(url=None, schema=None, **emulator_config)``: a synced environment (SQLite by default)."""
    opened: list[tuple[DataverseClient, Warehouse]] = []

    def make(url: str | None = None, schema: str | None = None, **config: Any) -> Env:
        emu = emulator_factory(**config)
        client = client_for(emu.info)
        warehouse = Warehouse(url or f"sqlite:///{tmp_path / f'warehouse{len(opened)}.db'}", schema=schema)
        opened.append((client, warehouse))
        env = Env(emu, client, warehouse)
        env.sync()
        return env

    yield make
    for client, warehouse in opened:
        client.close()
        warehouse.dispose()


@pytest.fixture
def env(make_env: Callable[..., Env]) -> Env:
    return make_env()
