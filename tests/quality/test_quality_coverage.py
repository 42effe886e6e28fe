"""Compensation, benefits and leave tables: their quality checks come from metadata (required columns,
lookups → references). Clean data passes (test_quality_clean covers every catalog table); here one
orphan per new relationship is injected, each on its own row, and each is caught by its own check."""

from __future__ import annotations

import uuid

import pytest
from quality_helpers import sync_catalog

from dataverse_emulator.config import stable_uuid
from dataverse_emulator.schema_coverage import COVERAGE_TABLES
from dataverse_emulator.testing import running_emulator
from hr_dataverse.catalog import load_catalog
from hr_dataverse.quality.runner import run_quality
from hr_dataverse.quality.settings import QualitySettings
from hr_dataverse.warehouse import Warehouse


def new_relationships(schema) -> list[tuple[str, str]]:
    """(table, lookup) of every lookup between catalog tables that starts at a new catalog table."""
    catalog = load_catalog()
    return [(name, attr.logical_name) for name in COVERAGE_TABLES if name in catalog
            for attr in schema[name].lookups() if attr.targets[0] in catalog]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_one_orphan_per_new_relationship_is_caught(backend, emulator_state_dir, tmp_path, request):
    url, schema = f"sqlite:///{tmp_path / 'wh.db'}", None
    if backend == "postgres":
        url, schema = request.getfixturevalue("postgres_url"), f"qc_{uuid.uuid4().hex[:10]}"
    with running_emulator(emulator_state_dir, scale=40) as emu:
        store = emu.app.store
        relationships = new_relationships(emu.app.schema)
        # The reference's examples are all among them.
        assert {("cdm_workerfixedcompensation", "cdm_workerid"), ("cdm_workerfixedcompensation", "cdm_planid"),
                ("cdm_workerfixedcompensation", "cdm_positionid"), ("cdm_leaverequestdetail", "cdm_leaverequestid"),
                ("cdm_leaverequestdetail", "cdm_leavetypeid"), ("cdm_leaveenrollment", "cdm_workerid"),
                ("cdm_leaveenrollment", "cdm_leaveplanid")} <= set(relationships)
        used: dict[str, int] = {}
        for i, (table, lookup) in enumerate(relationships):
            rows = [r for r in store.iter_rows(table) if r.get(lookup)]
            row = rows[used.setdefault(table, 0)]
            used[table] += 1
            store.update(table, row[emu.app.schema[table].primary_id], {lookup: stable_uuid(7, f"orphan-{i}")})
        wh = Warehouse(url, schema=schema)
        try:
            domains = sync_catalog(emu, wh)
            run = run_quality(wh, settings=QualitySettings(quality_dir=tmp_path / "q", option_domains=domains),
                              run_id="coverage", tables=sorted({t for t, _ in relationships}))
        finally:
            if schema:
                with wh.engine.begin() as conn:
                    conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            wh.dispose()
    expected = {f"{table}.references.{lookup}" for table, lookup in relationships}
    assert {c.id for c in run.failures()} == expected
    for check in run.failures():
        assert check.severity == "warning" and check.unexpected_count == 1  # optional tables warn
    # Metadata-required columns are checked too, and pass on the untouched columns.
    checks = {c.id: c for c in run.checks}
    assert checks["cdm_leaverequest.not_null.cdm_status"].success
    assert checks["cdm_workerfixedcompensation.option_domain.cdm_processtype"].success
    assert checks["cdm_workerfixedcompensation.dates.cdm_expirationdate"].success  # validity periods in order
    assert checks["cdm_leaveenrollment.dates.cdm_enddate"].success
