"""'New HR tables available': uncatalogued cdm_/mshr_/mserp_ tables and empty catalog tables, each with
its one-line fix, against the emulator (EntityDefinitions filtered on the client)."""

from __future__ import annotations

from hr_dataverse.catalog import load_catalog
from hr_dataverse.checks.coverage_report import DUAL_WRITE_HINT, run_coverage_report


def test_lists_uncatalogued_and_empty_tables_with_their_fix(emulator_factory, client_for):
    emu = emulator_factory(empty_tables=("cdm_leaverequest", "cdm_leaverequestdetail", "mshr_hcmskillentity"))
    client = client_for(emu)
    emu.app.request_log.clear()
    catalog = [t.name for t in load_catalog()]
    report = run_coverage_report(client, catalog)

    new = {e.target: e for e in report if e.check == "new HR table"}
    assert set(new) == {"cdm_payrollearningcode", "cdm_reasoncode"}  # in the emulator, in no catalog entry
    line = new["cdm_reasoncode"].details["catalog_line"]
    assert line == "- {name: cdm_reasoncode, required: false}" and line in new["cdm_reasoncode"].fix
    assert all(e.status == "warning" for e in new.values())

    empty = {e.target: e for e in report if e.check == "empty table"}
    assert set(empty) == {"cdm_leaverequest", "cdm_leaverequestdetail", "mshr_hcmskillentity"}
    assert DUAL_WRITE_HINT in empty["cdm_leaverequest"].cause and "dual-write map" in empty["cdm_leaverequest"].fix
    assert "dual-write" not in empty["mshr_hcmskillentity"].cause  # a virtual table has no map
    assert not report.blockers()
    unreadable = [e for e in report if e.check == "row count"]  # the emulator withholds personal details
    assert [(e.target, e.status) for e in unreadable] == [("cdm_workerpersonaldetail", "warning")]
    # One metadata listing, one snapshot count, then $count only where the snapshot shows no rows.
    paths = [e.path for e in emu.app.request_log]
    assert sum(p.endswith("/EntityDefinitions") for p in paths) == 1
    assert sum("RetrieveTotalRecordCount" in p for p in paths) == 1
    assert 4 <= sum(p.endswith("/$count") for p in paths) <= len(catalog)
    assert "startswith" not in " ".join(e.query for e in emu.app.request_log)  # Dataverse cannot filter that


def test_a_catalog_that_syncs_everything_reports_it(emulator, client_for):
    client = client_for(emulator)
    hr = [t for t in emulator.app.schema if t.startswith(("cdm_", "mshr_"))]
    report = run_coverage_report(client, hr, count_rows=False)
    assert [(e.status, e.check) for e in report] == [("ok", "new HR table")]
