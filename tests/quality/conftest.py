"""Warehouses filled from the emulator, once per session: clean data, and data with every defect the
emulator can inject (on SQLite and on PostgreSQL), each checked and reported once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from quality_helpers import DEFECTS, SECURED, Scenario, secure_column, sync_catalog
from shared_helpers import drop_schemas

from dataverse_emulator.testing import RunningEmulator, running_emulator
from hr_dataverse.quality.runner import run_and_report
from hr_dataverse.quality.settings import QualitySettings
from hr_dataverse.warehouse import Warehouse

SCALE = 40  # workers; every defect touches 3 rows


@pytest.fixture(scope="session")
def clean_scenario(emulator_state_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """Clean emulator data, fully synced into SQLite and checked once (run id ``clean-1``)."""
    base = tmp_path_factory.mktemp("quality-clean")
    url = f"sqlite:///{base / 'warehouse.db'}"
    with running_emulator(emulator_state_dir, scale=SCALE) as emu:
        wh = Warehouse(url)
        domains = sync_catalog(emu, wh)
        wh.dispose()
    scenario = Scenario(url, None, base / "quality", domains)
    scenario.run, scenario.paths = run_and_report(
        url, settings=QualitySettings(quality_dir=scenario.root, option_domains=domains), run_id="clean-1")
    return scenario


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def defect_scenario(request: pytest.FixtureRequest, emulator_state_dir: Path,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    """Every defect at once (one per table/column, see ``DEFECTS``), synced and checked once."""
    base = tmp_path_factory.mktemp(f"quality-defects-{request.param}")
    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{base / 'warehouse.db'}"
    else:
        url, schema = request.getfixturevalue("postgres_url"), f"q_{uuid.uuid4().hex[:10]}"
    with running_emulator(emulator_state_dir, scale=SCALE, **DEFECTS) as emu:
        secure_column(emu, *SECURED)
        wh = Warehouse(url, schema=schema)
        domains = sync_catalog(emu, wh)
        wh.dispose()
        store = emu.app.store
        workers = list(store.iter_rows("cdm_worker"))
        facts = {
            "workers": len(workers),
            "duplicated_number": workers_by_load_order(emu)[-4]["cdm_workernumber"],
            "certificates_in_source": store.count("mshr_hcmworkercertificateentity"),
            "employment_workers": {r["cdm_workerid"] for r in store.iter_rows("cdm_employment")},
            "worker_ids": {r["cdm_workerid"] for r in workers},
            "gender_options": sorted(emu.app.schema["cdm_worker"].attributes["cdm_gender"].options),
        }
    scenario = Scenario(url, schema, base / "quality", domains, facts)
    wh = scenario.warehouse()
    try:
        scenario.run, scenario.paths = run_and_report(
            wh, settings=QualitySettings(quality_dir=scenario.root, option_domains=domains),
            run_id=f"defects-{request.param}")
    finally:
        wh.dispose()
    yield scenario
    if schema:
        drop_schemas(url, schema)


def workers_by_load_order(emu: RunningEmulator) -> list[dict]:
    """cdm_worker rows in the order the generator made them (version order = load order)."""
    return sorted(emu.app.store.iter_rows("cdm_worker"), key=lambda r: r["versionnumber"])
