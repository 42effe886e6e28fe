"""Mapping completeness: every mapped active worker has an active bookable resource with as many
characteristics as HR calls for. The mapping state is written through the mapping's own
``MappingState``; what HR calls for is worked out here in Python from the warehouse rows."""

from __future__ import annotations

import sqlite3
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from quality_helpers import Scenario, sync_catalog
from shared_helpers import drop_schemas

from dataverse_emulator.testing import running_emulator
from hr_dataverse.quality.runner import run_quality
from hr_dataverse.quality.settings import QualitySettings
from hr_dataverse.urs.state import MAPPING_TABLE, MappedRow, MappingState
from hr_dataverse.warehouse import Warehouse

ACTIVE = 754400000


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_copy(request: pytest.FixtureRequest, clean_scenario: Scenario, emulator_state_dir: Path,
                   tmp_path: Path) -> Iterator[Warehouse]:
    """SQLite: a copy of the clean warehouse (the mapping state goes into it). PostgreSQL: clean
    emulator data synced into a schema of its own."""
    if request.param == "postgres":
        url, schema = request.getfixturevalue("postgres_url"), f"q_{uuid.uuid4().hex[:10]}"
        wh = Warehouse(url, schema=schema)
        with running_emulator(emulator_state_dir, scale=40) as emu:
            sync_catalog(emu, wh)
        yield wh
        wh.dispose()
        drop_schemas(url, schema)
        return
    target = tmp_path / "warehouse.db"
    source = sqlite3.connect(clean_scenario.url.removeprefix("sqlite:///"))
    with sqlite3.connect(target) as copy:
        source.backup(copy)
    source.close()
    wh = Warehouse(f"sqlite:///{target}")
    yield wh
    wh.dispose()


def live_rows(wh: Warehouse, table: str) -> list[dict]:
    t = wh.table(table)
    with wh.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(t).where(t.c._deleted_at.is_(None))).mappings()]


def expected_characteristics(wh: Warehouse) -> tuple[list[str], dict[str, int], list[str]]:
    """(eligible worker ids, characteristics each should have, inactive worker ids)."""
    today = datetime.now(UTC)
    employed = {e["_cdm_workerid_value"] for e in live_rows(wh, "cdm_employment")
                if (e["cdm_employmentstartdate"] is None or e["cdm_employmentstartdate"] <= today)
                and (e["cdm_employmentenddate"] is None or e["cdm_employmentenddate"].date() >= today.date())}
    workers = live_rows(wh, "cdm_worker")
    eligible = [w["cdm_workerid"] for w in workers if w["cdm_status"] == ACTIVE and w["cdm_workerid"] in employed]
    inactive = [w["cdm_workerid"] for w in workers if w["cdm_status"] != ACTIVE]
    wanted: dict[str, set[str]] = defaultdict(set)
    for s in live_rows(wh, "mshr_hcmworkerskillentity"):
        if s["mshr_leveltype"] == 200000000:  # Actual ratings only
            wanted[s["_mshr_fk_worker_id_value"]].add(f"skill/{s['_mshr_fk_skill_id_value']}")
    for c in live_rows(wh, "mshr_hcmworkercertificateentity"):
        if c["mshr_startdate"] <= today and (c["mshr_enddate"] is None or c["mshr_enddate"].date() >= today.date()):
            wanted[c["_mshr_fk_worker_id_value"]].add(f"certificate/{c['_mshr_fk_certificatetype_id_value']}")
    return eligible, {w: len(wanted[w]) for w in eligible + inactive}, inactive


def mapped(worker: str, characteristics: int, *, resource_active: bool = True) -> list[MappedRow]:
    rows = [MappedRow("bookableresource", worker, worker, "cdm_worker", "resource", f"res-{worker}", None,
                      resource_active, "created", "map-1")]
    rows += [MappedRow("bookableresourcecharacteristic", f"{worker}/skill/{i}", worker, "mshr_hcmworkerskillentity",
                       "characteristic", f"char-{worker}-{i}", None, True, "created", "map-1")
             for i in range(characteristics)]
    return rows


def test_mapping_completeness_flags_workers_missing_resource_or_characteristics(
        warehouse_copy: Warehouse, clean_scenario: Scenario, tmp_path: Path) -> None:
    eligible, counts, inactive = expected_characteristics(warehouse_copy)
    complete, short, deactivated = [w for w in eligible if counts[w] >= 1][:3]
    MappingState(warehouse_copy).save(
        [*mapped(complete, counts[complete]),
         *mapped(short, counts[short] - 1),  # one characteristic never written
         *mapped(deactivated, counts[deactivated], resource_active=False),  # resource switched off
         *mapped(inactive[0], counts[inactive[0]] + 2)],  # not active in HR: not this check's concern
        [])
    settings = QualitySettings(quality_dir=tmp_path / "quality", option_domains=clean_scenario.domains)
    run = run_quality(warehouse_copy, settings=settings, run_id="mapping", tables=[MAPPING_TABLE])
    [check] = run.checks
    assert (check.id, check.table, check.severity, check.success) == ("_hr_urs_mapping.mapping", MAPPING_TABLE,
                                                                     "error", False)
    assert check.unexpected_count == 2
    assert {r["worker"]: (r["characteristics"], r["expected"], bool(r["resource_active"])) for r in check.sample} == {
        short: (counts[short] - 1, counts[short], True),
        deactivated: (counts[deactivated], counts[deactivated], False),
    }
    assert all(r["cdm_workernumber"] for r in check.sample)
    assert "2 mapped active workers" in check.message

    # Written completely, the check passes.
    MappingState(warehouse_copy).save([*mapped(short, counts[short]), *mapped(deactivated, counts[deactivated])],
                                      [])
    run = run_quality(warehouse_copy, settings=settings, run_id="mapping-2", tables=[MAPPING_TABLE])
    assert [c.success for c in run.checks] == [True]


def test_mapping_check_is_skipped_with_a_note_until_the_mapping_has_run(clean_scenario: Scenario) -> None:
    assert "mapping" not in {c.kind for c in clean_scenario.run.checks}
    assert any("_hr_urs_mapping does not exist yet" in n for n in clean_scenario.run.notes)
