"""Each defect injected in the emulator is caught by its check, named in the report with table, column
and count, and fails or warns according to its severity — and nothing else fails. One emulator
carries all six defects (each on its own table/column); its run is shared by the tests below, on
SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from quality_helpers import SECURED, Scenario, assert_reported, page_text, report_row

from dataverse_emulator.config import stable_uuid
from hr_dataverse.quality.runner import run_quality
from hr_dataverse.quality.settings import QualitySettings

EXPECTED_FAILURES = {
    "cdm_workeraddress.not_null.cdm_addresstype": "error",
    "cdm_worker.has_values": "warning",
    "cdm_employment.references.cdm_workerid": "error",
    "cdm_worker.unique.cdm_workernumber": "error",
    "cdm_worker.option_domain.cdm_gender": "warning",
    "mshr_hcmworkercertificateentity.completeness": "error",
}


def test_required_field_null_on_some_rows_fails(defect_scenario: Scenario) -> None:
    check = defect_scenario.check("cdm_workeraddress.not_null.cdm_addresstype")
    assert not check.success and check.severity == "error"
    assert (check.table, check.column, check.unexpected_count) == ("cdm_workeraddress", "cdm_addresstype", 3)
    assert check.cause is None  # only some rows: not the field-security signature
    # Samples identify the rows by primary key.
    assert len(check.sample) == 3 and all(row["cdm_workeraddressid"] for row in check.sample)
    assert_reported(defect_scenario, check)


def test_column_nulled_by_field_security_warns_with_its_likely_cause(defect_scenario: Scenario) -> None:
    check = defect_scenario.check("cdm_worker.has_values")
    assert not check.success and check.severity == "warning"
    assert (check.table, check.column) == SECURED
    assert check.unexpected_count == defect_scenario.facts["workers"]  # null in every row
    assert check.cause and "field-security profile" in check.cause
    assert_reported(defect_scenario, check)
    row = report_row(defect_scenario.paths.html.read_text(encoding="utf-8"), check.id)
    assert "Likely cause" in row and "null in every row" in row


def test_orphan_employment_fails_referential_integrity(defect_scenario: Scenario) -> None:
    check = defect_scenario.check("cdm_employment.references.cdm_workerid")
    assert not check.success and check.severity == "error"
    assert (check.table, check.column, check.unexpected_count) == ("cdm_employment", "_cdm_workerid_value", 3)
    orphans = {row["_cdm_workerid_value"] for row in check.sample}
    assert orphans == {stable_uuid(42, f"orphan-worker-{i}") for i in range(3)}
    assert not orphans & defect_scenario.facts["worker_ids"]
    # The company lookup of the same rows is intact.
    assert defect_scenario.check("cdm_employment.references.cdm_companyid").success
    assert_reported(defect_scenario, check)


def test_duplicate_business_key_fails(defect_scenario: Scenario) -> None:
    check = defect_scenario.check("cdm_worker.unique.cdm_workernumber")
    assert not check.success and check.severity == "error"
    # Three workers took the number of a fourth: four rows share it.
    assert (check.table, check.column, check.unexpected_count) == ("cdm_worker", "cdm_workernumber", 4)
    assert check.sample == [{"value": defect_scenario.facts["duplicated_number"], "rows": 4}]
    assert defect_scenario.check("cdm_worker.unique.cdm_workerid").success  # the GUID key stays unique
    assert_reported(defect_scenario, check)


def test_unknown_option_value_warns(defect_scenario: Scenario) -> None:
    check = defect_scenario.check("cdm_worker.option_domain.cdm_gender")
    assert not check.success and check.severity == "warning"
    assert (check.table, check.column, check.unexpected_count) == ("cdm_worker", "cdm_gender", 3)
    [value] = [s["value"] for s in check.sample]
    assert value not in defect_scenario.facts["gender_options"]
    # The domain came from the emulator's metadata, not from a list in the test.
    assert defect_scenario.domains["cdm_worker"]["cdm_gender"] == defect_scenario.facts["gender_options"]
    assert_reported(defect_scenario, check)


def test_partially_served_table_fails_completeness(defect_scenario: Scenario) -> None:
    check = defect_scenario.check("mshr_hcmworkercertificateentity.completeness")
    assert not check.success and check.severity == "error"
    source = defect_scenario.facts["certificates_in_source"]
    assert (check.expected, check.observed, check.unexpected_count) == (source, source - 3, 3)
    assert check.column is None
    assert "3 missing" in check.message
    assert_reported(defect_scenario, check)


def test_only_the_injected_defects_fail_and_errors_fail_the_run(defect_scenario: Scenario) -> None:
    run = defect_scenario.run
    assert {c.id: c.severity for c in run.failures()} == EXPECTED_FAILURES
    assert all(c.error is None for c in run.checks)
    assert run.has_errors and run.status == "failed"
    totals = run.totals()
    assert (totals["errors"], totals["warnings"]) == (4, 2)
    assert totals["passed"] == totals["evaluated"] - 6 > 100
    html = defect_scenario.paths.html.read_text(encoding="utf-8")
    text = page_text(html)
    assert "Failed" in text and "6 failed check(s)" in text
    # Errors are listed before warnings.
    positions = [html.index(f'id="check-{i}"') for i in EXPECTED_FAILURES]
    errors = [p for p, s in zip(positions, EXPECTED_FAILURES.values(), strict=True) if s == "error"]
    assert max(errors) < min(p for p in positions if p not in errors)


@pytest.mark.parametrize("defect_scenario", ["sqlite"], indirect=True)  # backend-independent logic
def test_severity_overrides_decide_what_fails(defect_scenario: Scenario) -> None:
    tables = ["cdm_worker", "cdm_workeraddress"]
    settings = QualitySettings(quality_dir=defect_scenario.root, option_domains=defect_scenario.domains,
                               severity={"option_domain": "error", "cdm_workeraddress": "warning",
                                         "cdm_worker.unique.cdm_workernumber": "off", "no_such_check": "error"})
    wh = defect_scenario.warehouse()
    try:
        run = run_quality(wh, settings=settings, run_id="overrides", tables=tables)
    finally:
        wh.dispose()
    assert {c.id: c.severity for c in run.failures()} == {
        "cdm_worker.option_domain.cdm_gender": "error",  # the kind override
        "cdm_workeraddress.not_null.cdm_addresstype": "warning",  # the table override
        "cdm_worker.has_values": "warning",  # no override: the kind's default
    }
    assert "cdm_worker.unique.cdm_workernumber" not in {c.id for c in run.checks}
    assert any("cdm_worker.unique.cdm_workernumber: turned off" in n for n in run.notes)
    assert any("'no_such_check' matches no check" in n for n in run.notes)
    assert run.has_errors
    relaxed = QualitySettings(quality_dir=defect_scenario.root, option_domains=defect_scenario.domains,
                              severity={"cdm_worker": "warning", "cdm_workeraddress": "warning"})
    wh = defect_scenario.warehouse()
    try:
        run = run_quality(wh, settings=relaxed, run_id="relaxed", tables=tables)
    finally:
        wh.dispose()
    assert len(run.failures()) == 4 and not run.has_errors and run.status == "warnings"
