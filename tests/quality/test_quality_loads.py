"""The quality report after failed loads: "Loads failed" and the stale tables, never "Passed"."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hr_dataverse.quality.loads import load_outcome
from hr_dataverse.quality.report import render_summary
from hr_dataverse.quality.results import CheckResult, QualityRun
from hr_dataverse.warehouse import Warehouse


def run_with(loads: dict | None, *, warning: bool = True) -> QualityRun:
    check = CheckResult("cdm_job.freshness", "cdm_job", "freshness", None, "warning", "fresh", success=not warning)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return QualityRun("r1", now, now, "sqlite://", [check], loads=loads)


def test_failed_and_missing_loads_are_named_with_their_last_sync(tmp_path: Path) -> None:
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'hr.db'}")
    try:
        started = datetime(2026, 1, 1, tzinfo=UTC)
        warehouse.record_run("run-1", "cdm_company", "delta", status="success", started_at=started)
        warehouse.record_run("run-1", "cdm_job", "delta", status="failed", started_at=started)
        warehouse.record_run("run-1", "cdm_worker", "full", status="failed", started_at=started)
        warehouse.record_run("run-1", "cdm_worker", "full", status="success", started_at=started)  # the retry
        outcome = load_outcome(warehouse, "run-1", ["cdm_company", "cdm_job", "cdm_worker", "cdm_employment"])
    finally:
        warehouse.dispose()
    assert (outcome.failed, outcome.not_loaded, outcome.stale) == (
        ["cdm_job"], ["cdm_employment"], ["cdm_job", "cdm_employment"])
    assert outcome.message().startswith("Loads failed in this run (2 of 4 tables): the warehouse holds stale data "
                                        "for cdm_job (never synced), cdm_employment (never synced).")
    run = run_with(outcome.to_dict())
    assert run.status == "loads_failed" and run.summary()["stale_tables"] == ["cdm_job", "cdm_employment"]
    html = render_summary(run, {}, "../../")
    assert ">Loads failed</span>" in html and "Passed with warnings" not in html
    assert "stale data for cdm_job (never synced), cdm_employment (never synced)" in html


def test_nothing_loaded_says_so(tmp_path: Path) -> None:
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'hr.db'}")
    try:
        outcome = load_outcome(warehouse, "run-2", ["cdm_company", "cdm_job"])
    finally:
        warehouse.dispose()
    assert outcome.message().startswith("Nothing was loaded in this run: the warehouse holds stale data for "
                                        "cdm_company (never synced), cdm_job (never synced)")
    assert run_with(outcome.to_dict(), warning=False).status == "loads_failed"


def test_successful_loads_leave_the_verdict_to_the_checks() -> None:
    assert run_with({"stale": []}).status == "warnings"
    assert run_with(None, warning=False).status == "passed"
