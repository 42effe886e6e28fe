"""The pieces without GX: severity resolution, settings from the trigger form, check generation from
the catalog, result interpretation, the report's trend/history/escaping, option-set files, and the
emulator's defect knobs."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dataverse_emulator.config import EmulatorConfig
from dataverse_emulator.defects import apply_data_defects
from dataverse_emulator.schema import build_schema
from hr_dataverse.catalog import load_catalog
from hr_dataverse.quality.facts import TableFacts, WarehouseFacts
from hr_dataverse.quality.interpret import interpret
from hr_dataverse.quality.option_sets import load_option_domains, save_option_domains
from hr_dataverse.quality.report import load_history, write_report
from hr_dataverse.quality.results import CheckResult, QualityRun
from hr_dataverse.quality.rules import build_plan
from hr_dataverse.quality.settings import QualityConfigError, QualitySettings
from hr_dataverse.quality.severity import resolve

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CATALOG = load_catalog()


def facts(**overrides: TableFacts | None) -> WarehouseFacts:
    """Every catalog table loaded an hour ago with 50 live rows matching the source count."""
    tables = {}
    for spec in CATALOG:
        columns = (*spec.columns, *(f"{x}_name" for x in spec.lookups), *(f"{c}_label" for c in spec.option_sets),
                   "_synced_at", "_source_version", "_deleted_at", "_run_id")
        tables[spec.name] = TableFacts(spec.name, spec.name, columns, 50, NOW - timedelta(hours=1), 50)
    for name, value in overrides.items():
        if value is None:
            tables.pop(name)
        else:
            tables[name] = value
    return WarehouseFacts("sqlite", None, "", tables, "_hr_sync_state", None)


def plan(settings: QualitySettings | None = None, **overrides: TableFacts | None):
    return build_plan(CATALOG, facts(**overrides), settings or QualitySettings(), NOW)


# --- severity ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("overrides", "expected"), [
    ({}, "error"),  # the kind's default
    ({"not_null": "warning"}, "warning"),
    ({"not_null": "warning", "cdm_worker": "off"}, "off"),  # longer key wins
    ({"cdm_worker.*": "warning", "cdm_worker": "off"}, "warning"),
    ({"cdm_worker.not_null.*": "off", "cdm_worker.not_null.cdm_workernumber": "warning"}, "warning"),  # exact id
    ({"*.not_null.cdm_workernumberx": "off"}, "error"),  # no match
])
def test_severity_override_precedence(overrides: dict[str, str], expected: str) -> None:
    assert resolve("cdm_worker.not_null.cdm_workernumber", "not_null", "cdm_worker", optional_table=False,
                   overrides=overrides) == expected


def test_optional_tables_default_to_warning() -> None:
    assert resolve("t.unique.x", "unique", "t", optional_table=True, overrides={}) == "warning"
    assert resolve("t.unique.x", "unique", "t", optional_table=True, overrides={"unique": "error"}) == "error"


# --- settings ----------------------------------------------------------------------------------


def test_trigger_form_params_are_parsed_and_merged() -> None:
    base = QualitySettings(severity={"dates": "error", "freshness": "warning"})
    settings = base.with_params({"severity": '{"freshness": "ERROR", "cdm_job": "off"}', "freshness_hours": "48",
                                 "exact_count_tolerance": 2})
    assert settings.severity == {"dates": "error", "freshness": "error", "cdm_job": "off"}
    assert (settings.freshness_hours, settings.exact_count_tolerance) == (48.0, 2)
    assert base.with_params(None) == base and base.with_params({"severity": ""}) == base


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"freshness_hours": 0}, "freshness_hours must be a positive number of hours, got 0"),
    ({"snapshot_count_tolerance": 1.5}, "snapshot_count_tolerance must be a fraction between 0 and 1"),
    ({"birth_min_age_years": 90, "birth_max_age_years": 80}, "birth_min_age_years must be at least 0 and below"),
    ({"severity": {"unique": "critical"}}, "unknown severity for 'unique': 'critical'"),
    ({"keep_runs": 0}, "keep_runs must be at least 1, got 0"),
])
def test_bad_settings_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(QualityConfigError, match=message):
        QualitySettings(**kwargs)


def test_quality_dir_is_the_callers(tmp_path: Path) -> None:
    assert QualitySettings(quality_dir=tmp_path / "other").root == tmp_path / "other"
    with pytest.raises(QualityConfigError, match="quality_dir is not set"):
        QualitySettings().root  # noqa: B018 - the property raises


# --- check generation --------------------------------------------------------------------------


def test_checks_are_generated_from_the_catalog_and_the_rules() -> None:
    result = plan()
    ids = {c.id for c in result.checks}
    worker = CATALOG.get("cdm_worker")
    assert {f"cdm_worker.not_null.{c}" for c in worker.required_columns} <= ids
    assert {"cdm_worker.completeness", "cdm_worker.has_values", "cdm_worker.freshness",
            "cdm_worker.unique.cdm_workerid", "cdm_worker.unique.cdm_workernumber", "cdm_worker.dates.cdm_birthdate",
            "mshr_hcmratinglevelentity.unique.mshr_ratingmodelid+mshr_ratinglevelid",
            "cdm_jobposition.references.cdm_departmentid", "mshr_hcmworkerskillentity.references.mshr_fk_ratinglevel_id",
            "cdm_employment.dates.cdm_employmentenddate"} <= ids
    # No domains known: choices are checked through their labels (custom SQL).
    gender = next(c for c in result.checks if c.id == "cdm_worker.option_domain.cdm_gender")
    assert gender.expectation == "UnexpectedRowsExpectation" and '"cdm_gender_label" IS NULL' in gender.kwargs[
        "unexpected_rows_query"]
    # Columns HR leaves empty by design are not expected to have values.
    has_values = next(c for c in result.checks if c.id == "cdm_worker.has_values")
    assert "cdm_websiteurl" not in has_values.kwargs["unexpected_rows_query"]
    assert "'cdm_gender'" in has_values.kwargs["unexpected_rows_query"]
    assert result.notes == ["mapping: _hr_urs_mapping does not exist yet (the URS mapping has not run): "
                            "mapping completeness not checked"]


def test_snapshot_counts_get_a_tolerance_and_exact_counts_none() -> None:
    worker = TableFacts("cdm_worker", "cdm_worker", ("cdm_workerid", "_deleted_at"), 9000, NOW, 10_000)
    result = plan(QualitySettings(snapshot_count_tolerance=0.02), cdm_worker=worker)
    check = next(c for c in result.checks if c.id == "cdm_worker.completeness")
    assert (check.expectation, check.kwargs) == ("ExpectTableRowCountToBeBetween",
                                                 {"min_value": 9800, "max_value": 10_200})
    exact = next(c for c in result.checks if c.id == "cdm_job.completeness")
    assert (exact.expectation, exact.kwargs) == ("ExpectTableRowCountToEqual", {"value": 50})


def test_tables_never_loaded_get_no_data_checks_and_required_ones_fail_freshness() -> None:
    never = TableFacts("cdm_job", "cdm_job", ("cdm_jobid",), 0, None, None)
    result = plan(cdm_job=never, cdm_workerpersonaldetail=None)
    assert {c.id for c in result.checks if c.table == "cdm_job"} == {"cdm_job.freshness"}
    assert not [c for c in result.checks if c.table == "cdm_workerpersonaldetail"]
    assert "cdm_job: was never loaded successfully; its data checks are skipped and its freshness check fails" in \
        result.notes
    assert "cdm_workerpersonaldetail: has no warehouse table yet (optional table: checks skipped)" in result.notes
    assert "cdm_jobposition.references.cdm_jobid: parent table cdm_job is not loaded" in result.notes


def test_turned_off_checks_and_unknown_tables() -> None:
    result = plan(QualitySettings(severity={"references": "off", "cdm_wroker": "error"}))
    assert not [c for c in result.checks if c.kind == "references"]
    assert "cdm_employment.references.cdm_workerid: turned off by a severity override" in result.notes
    assert any("severity override 'cdm_wroker' matches no check" in n for n in result.notes)
    with pytest.raises(ValueError, match="unknown table.s. cdm_wroker; the catalog has: cdm_company"):
        build_plan(CATALOG, facts(), QualitySettings(), NOW, tables=["cdm_wroker"])


# --- interpretation ----------------------------------------------------------------------------


def check_of(check_id: str):
    return next(c for c in plan().checks if c.id == check_id)


def test_results_are_interpreted_into_counts_and_sentences() -> None:
    count = check_of("cdm_job.completeness")
    extra = interpret(count, success=False, result={"observed_value": 53}, error=None, live_rows=53, sample_size=5)
    assert (extra.unexpected_count, extra.expected) == (3, 50) and "(3 extra)" in extra.message
    everywhere = interpret(check_of("cdm_worker.not_null.cdm_type"), success=False,
                           result={"unexpected_count": 50, "unexpected_percent": 100.0}, error=None, live_rows=50,
                           sample_size=5)
    assert everywhere.cause and "field-security" in everywhere.cause and "(every row)" in everywhere.message
    some = interpret(check_of("cdm_worker.not_null.cdm_type"), success=False,
                     result={"unexpected_count": 2, "unexpected_percent": 4.0}, error=None, live_rows=50, sample_size=5)
    assert some.cause is None and some.message == "cdm_worker.cdm_type: required column null in 2 of 50 rows"
    broken = interpret(count, success=False, result={}, error="no such column: x", live_rows=50, sample_size=5)
    assert not broken.success and broken.error == "no such column: x" and "could not be evaluated" in broken.message


# --- report ------------------------------------------------------------------------------------


def quality_run(run_id: str, failed: int) -> QualityRun:
    checks = [CheckResult(f"cdm_job.not_null.c{i}", "cdm_job", "not_null", f"c{i}", "error", "d", i >= failed,
                          unexpected_count=0 if i >= failed else 1, sample=[{"cdm_jobid": "<script>alert(1)</script>"}],
                          message="cdm_job.c: required column null in 1 of 5 rows")
              for i in range(3)]
    return QualityRun(run_id, "2026-03-01T12:00:00+00:00", "2026-03-01T12:00:05+00:00", "sqlite:///x.db", checks)


def test_trend_history_and_pruning(tmp_path: Path) -> None:
    for n, failed in enumerate([0, 2, 2, 3, 0]):
        paths = write_report(quality_run(f"run:{n}", failed), tmp_path, keep_runs=3)
    body = json.loads(paths.json.read_text(encoding="utf-8"))
    assert [e["run_id"] for e in load_history(tmp_path)] == ["run:2", "run:3", "run:4"]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["run_2", "run_3", "run_4"]  # older pruned
    assert body["trend"]["cdm_job"] == {"failed": [2, 3, 0], "verdict": "fixed"}


def test_report_escapes_data_values(tmp_path: Path) -> None:
    html = write_report(quality_run("x", 1), tmp_path).html.read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_history_file_damage_starts_a_new_history(tmp_path: Path) -> None:
    (tmp_path / "history.json").write_text("{not json", encoding="utf-8")
    write_report(quality_run("a", 0), tmp_path)
    assert [e["run_id"] for e in load_history(tmp_path)] == ["a"]


def test_option_sets_file_round_trip_and_damage(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert load_option_domains(tmp_path) is None
    save_option_domains(tmp_path, {"cdm_worker": {"cdm_gender": [3, 1, 2]}})
    assert load_option_domains(tmp_path) == {"cdm_worker": {"cdm_gender": [1, 2, 3]}}
    (tmp_path / "option_sets.json").write_text('{"tables": 5}', encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert load_option_domains(tmp_path) is None
    assert "checked through their labels instead" in caplog.text


# --- emulator knobs ----------------------------------------------------------------------------


@pytest.mark.parametrize(("knob", "value", "message"), [
    ("defect_null_required", ("cdm_wroker", "x"), "defect_null_required: unknown table 'cdm_wroker'"),
    ("defect_unknown_option", ("cdm_worker", "cdm_firstname"), "cdm_worker.cdm_firstname has no option set"),
    ("defect_duplicate_business_key", ("cdm_worker", "nope"), "table 'cdm_worker' has no column 'nope'"),
    ("defect_partial_table", "nope", "defect_partial_table: unknown table 'nope'"),
])
def test_emulator_defect_knobs_reject_unknown_targets(knob: str, value: object, message: str) -> None:
    config = EmulatorConfig(**{knob: value})
    rows = {"cdm_worker": [{"cdm_workerid": str(i), "cdm_firstname": "A"} for i in range(5)]}
    with pytest.raises(ValueError, match=message):
        apply_data_defects(rows, config, build_schema(config))
