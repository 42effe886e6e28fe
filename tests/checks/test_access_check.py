"""Entity access checks against the emulator: tables, read privileges and change tracking configured there."""

from __future__ import annotations

from typing import Any

import pytest

from hr_dataverse.catalog import load_catalog
from hr_dataverse.checks import CheckReport, TableTarget, run_access_check, table_targets

PER_TABLE = ["table", "read", "change tracking", "row count"]


def by_table(report: CheckReport, table: str) -> dict[str, Any]:
    return {e.check: e for e in report if e.target == table}


@pytest.fixture
def clean(emulator_factory: Any) -> Any:
    """An environment set up correctly: every table readable and tracked."""
    return emulator_factory(tables_without_change_tracking=(), unreadable_tables=())


def test_correct_setup_passes_every_table_of_the_catalog(clean: Any, client_for: Any) -> None:
    catalog = load_catalog()
    report = run_access_check(client_for(clean), catalog.tables)
    assert report.status == "ok" and report.counts()["ok"] == len(report.entries), report.log_lines()
    assert by_table(report, "fno_benefitsplanemployees") == {}  # an F&O entity: not a Dataverse table
    for spec in (t for t in catalog.tables if not t.fno_entity):
        entries = by_table(report, spec.name)
        assert list(entries) == PER_TABLE
        assert entries["table"].details["entity_set"] == clean.app.schema[spec.name].entity_set_name
        assert entries["row count"].details["rows"] == clean.app.store.count(spec.name)
        assert entries["row count"].details["source"] == "RetrieveTotalRecordCount"


def test_default_environment_warns_but_has_no_blockers(emulator: Any, client_for: Any) -> None:
    """The emulator's realistic mess: one table untracked, the optional personal details unreadable."""
    report = run_access_check(client_for(emulator), load_catalog().tables)
    assert report.blockers() == [] and report.status == "warning"
    assert {(e.check, e.target) for e in report.warnings()} == {
        ("change tracking", "cdm_workeraddress"), ("read", "cdm_workerpersonaldetail")}


def test_change_tracking_off_warns_of_full_reloads(emulator: Any, client_for: Any) -> None:
    report = run_access_check(client_for(emulator), [("cdm_workeraddress", True)])
    entries = by_table(report, "cdm_workeraddress")
    warning = entries["change tracking"]
    assert warning.status == "warning" and warning.code == "0x80072491" and warning.request_id
    assert "fully reloaded every run" in warning.cause and "Track changes" in warning.fix
    assert entries["read"].status == "ok" and entries["row count"].status == "ok"
    assert entries["table"].details["change_tracking_enabled"] is False


def test_role_without_read_blocks_required_tables_and_lists_all(emulator: Any, client_for: Any) -> None:
    security = emulator.app.security
    readable = {t: {"read": "organization"} for t in emulator.app.schema if t not in ("cdm_worker", "cdm_job")}
    security.define_role("Too narrow", readable)
    security.set_roles(emulator.info["client_id"], ["Too narrow"])
    report = run_access_check(client_for(emulator), [("cdm_worker", True), ("cdm_job", True),
                                                     ("cdm_company", True), ("cdm_department", False)])
    assert [(e.check, e.target) for e in report.blockers()] == [("read", "cdm_worker"), ("read", "cdm_job")]
    for blocker in report.blockers():
        assert blocker.code == "0x80040220" and blocker.request_id and blocker.details["http_status"] == 403
        assert f"lacks Read on {blocker.target} (prvRead{blocker.target})" in blocker.cause
        assert "Organization-level Read" in blocker.fix
    assert list(by_table(report, "cdm_company")) == PER_TABLE  # the others are still checked
    assert "change tracking" not in by_table(report, "cdm_worker")


def test_unreadable_optional_table_only_warns(emulator: Any, client_for: Any) -> None:
    report = run_access_check(client_for(emulator), [("cdm_workerpersonaldetail", False)])
    warning = by_table(report, "cdm_workerpersonaldetail")["read"]
    assert warning.status == "warning" and warning.code == "0x80040220" and report.blockers() == []


def test_business_unit_read_is_not_enough_for_change_tracking(emulator: Any, client_for: Any) -> None:
    emulator.app.security.define_role("BU reader", {"cdm_worker": {"read": "businessunit"}})
    emulator.app.security.set_roles(emulator.info["client_id"], ["BU reader"])
    entries = by_table(run_access_check(client_for(emulator), [("cdm_worker", True)]), "cdm_worker")
    assert entries["read"].status == "ok"
    warning = entries["change tracking"]
    assert warning.status == "warning" and warning.code == "0x80040220"
    assert "Delta reads are refused" in warning.cause and "organization-level Read" in warning.fix


def test_tables_not_installed(emulator: Any, client_for: Any) -> None:
    report = run_access_check(client_for(emulator), [("cdm_worker", True), ("mserp_hcmskillentity", True),
                                                     ("cdm_notinstalled", False)])
    missing = by_table(report, "mserp_hcmskillentity")["table"]
    assert missing.status == "blocker" and missing.details["http_status"] == 404 and missing.request_id
    assert "required table 'mserp_hcmskillentity' does not exist" in missing.cause
    assert "Dual-write Human Resources" in missing.fix and "DMF/OData" in missing.fix
    assert list(by_table(report, "mserp_hcmskillentity")) == ["table"]
    assert by_table(report, "cdm_notinstalled")["table"].status == "warning"
    assert [e.target for e in report.blockers()] == ["mserp_hcmskillentity"]


def test_no_application_user_is_one_blocker_not_one_per_table(emulator: Any, client_for: Any) -> None:
    emulator.app.security.remove_application_user(emulator.info["client_id"])
    report = run_access_check(client_for(emulator), load_catalog().tables)
    assert len(report.entries) == 1
    blocker = report.entries[0]
    assert blocker.status == "blocker" and blocker.check == "application user" and blocker.code == "0x80072560"
    assert "Stopped checking further tables" in blocker.cause


def test_row_count_falls_back_to_count_when_the_snapshot_fails(emulator: Any, client_for: Any) -> None:
    emulator.app.faults.queue(500, count=1, path_contains="RetrieveTotalRecordCount")
    report = run_access_check(client_for(emulator), [("cdm_worker", True)])
    counted = by_table(report, "cdm_worker")["row count"]
    assert counted.details == {"rows": emulator.app.store.count("cdm_worker"), "source": "$count", "capped": False}
    assert any(r.path.endswith("/cdm_workers/$count") and r.status == 200 for r in emulator.app.request_log)


def test_catalog_entity_set_mismatch_warns(emulator: Any, client_for: Any) -> None:
    report = run_access_check(client_for(emulator), [TableTarget("cdm_worker", True, "cdm_worker")])
    warning = [e for e in report.warnings() if e.check == "table"][0]
    assert warning.details == {"expected": "cdm_workers", "configured": "cdm_worker"}


def test_table_targets_accepts_catalog_specs_pairs_and_names() -> None:
    spec = load_catalog().tables[0]
    assert table_targets([spec, ("cdm_job", False), "cdm_worker"]) == [
        TableTarget(spec.name, spec.required, spec.entity_set), TableTarget("cdm_job", False),
        TableTarget("cdm_worker", True)]
    with pytest.raises(TypeError, match="cannot tell the table name"):
        table_targets([object()])


def test_vouched_tables_send_no_request_and_say_why(emulator: Any, client_for: Any) -> None:
    client = client_for(emulator)
    emulator.app.request_log.clear()
    report = run_access_check(client, [("cdm_job", True), ("cdm_worker", True)], count_rows=False,
                              vouched={"cdm_job": "read through its delta link by this run's probe"})
    assert [e.path for e in emulator.app.request_log.entries() if "cdm_job" in e.path] == []
    (entry,) = by_table(report, "cdm_job").values()
    assert (entry.check, entry.status, entry.details) == ("vouched", "ok", {"required": True})
    assert entry.cause == "Not checked: read through its delta link by this run's probe."
    assert list(by_table(report, "cdm_worker")) == ["table", "read", "change tracking"]
